"""The mail session: which store a folder name opens."""

from __future__ import annotations

from pathlib import Path

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.services.connections import Connections
from pinesh.services.mail import MailSession
from tests.lab.maildir_fill import fill_maildir


def test_two_maildirs_under_one_parent_are_two_stores(tmp_path: Path) -> None:
    fill_maildir(tmp_path / "work", 2, seed=1)
    fill_maildir(tmp_path / "home", 3, seed=2)
    rc = parse_pinerc("", str(tmp_path / "pinerc"))
    session = MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp_path)
    with session.open_folder(f"#md/{tmp_path / 'work'}") as work:
        assert work.status().count == 2
    with session.open_folder(f"#md/{tmp_path / 'home'}") as home:
        assert home.status().count == 3
