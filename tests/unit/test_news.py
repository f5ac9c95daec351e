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


def test_an_article_that_cannot_be_posted_is_kept_to_post_again(tmp_path: Path) -> None:
    from pinesh.services.news import post_or_keep
    from pinesh.services.postponed import list_postponed, resume

    kept = tmp_path / "postponed"
    session = _session(tmp_path, f"nntp-server=127.0.0.1:1\npostponed-folder={kept}\n")
    with pytest.raises(PineshError) as caught:
        post_or_keep(
            session,
            ["local.test", "local.misc"],
            "Tide tables",
            "High at six.\n",
            "<a@example.org> <b@example.org>",
        )
    assert caught.value.message.startswith("not posted: ")
    assert caught.value.message.endswith(f"the article is kept in {kept}")
    assert caught.value.hint and "continue the postponed message" in caught.value.hint
    (waiting,) = list_postponed(session)
    request = resume(session, waiting.uid)
    assert request.newsgroups == ("local.test", "local.misc")
    assert request.draft.subject == "Tide tables" and "High at six." in request.draft.body
    assert request.draft.references == ("<a@example.org>", "<b@example.org>")


def test_the_newsrc_is_the_pinercs_newsrc_path_else_the_home_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pinesh.stores.nntp.store import NntpStore

    monkeypatch.setenv("HOME", str(tmp_path))
    for extra, expected in (
        ("", tmp_path / ".newsrc"),
        ("newsrc-path=~/News/newsrc\n", tmp_path / "News" / "newsrc"),
    ):
        session = _session(tmp_path, f"nntp-server=news.example.org\n{extra}")
        store = session.store_for(session.parse("#news.comp.lang.python"))
        assert isinstance(store, NntpStore) and store.newsrc_path == expected
