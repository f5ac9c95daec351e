"""Posting news to the pinerc's nntp-server."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.errors import PineshError
from pinesh.services.connections import Connections
from pinesh.services.mail import MailSession
from pinesh.services.news import post_article


def _session(tmp: Path, rc_text: str) -> MailSession:
    rc = parse_pinerc(rc_text, str(tmp / "pinerc"))
    return MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp / "data")


def test_posting_without_an_nntp_server_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(PineshError, match="no nntp-server is set"):
        post_article(_session(tmp_path, ""), ["local.test"], "Hi", "hello\n")


def test_posting_to_an_nntp_server_that_did_not_parse_names_it(tmp_path: Path) -> None:
    session = _session(tmp_path, "nntp-server=news.isp.example/bogus\n")
    with pytest.raises(PineshError, match=r"^pinerc nntp-server: server 'news.isp.example/bogus'"):
        post_article(session, ["local.test"], "Hi", "hello\n")
