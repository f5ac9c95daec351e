"""The client through Textual's Pilot: main menu, then the index of a local Maildir."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from textual.widgets import Static

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.services.connections import Connections
from pinesh.services.mail import MailSession
from pinesh.ui.app import MainMenu, PineshApp
from pinesh.ui.index_list import IndexList
from pinesh.ui.index_screen import IndexScreen
from tests.lab.maildir_fill import fill_maildir

HOSTILE = Path(__file__).parent.parent / "corpus" / "hostile" / "escape-sequences.eml"


def _session(maildir: Path, tmp: Path) -> MailSession:
    rc = parse_pinerc(f"inbox-path=#md/{maildir}\n", str(tmp / "pinerc"))
    return MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp / "data")


def test_main_menu_then_index_of_a_local_maildir(tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    filled = fill_maildir(maildir, 30, seed=9)
    shutil.copy(HOSTILE, maildir / "new" / "9999999999.hostile.pinesh")
    app = PineshApp(_session(maildir, tmp_path))

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            assert isinstance(app.screen, MainMenu)
            await pilot.press("i")
            assert isinstance(app.screen, IndexScreen)
            for _ in range(4):  # the folder opens, then the rows on screen are read
                await app.workers.wait_for_complete()
                await pilot.pause()
            index = app.screen.query_one(IndexList)
            assert index.count == 31
            subjects = [index.row_text(i) for i in range(index.count)]
            for message in filled:
                assert any(message.subject.split()[0] in s for s in subjects)
            hostile = next(s for s in subjects if "URGENT" in s)
            assert "\x1b" not in hostile and "\\x1b[2J" in hostile
            status = str(app.screen.query_one("#status", Static).render())
            assert "31 messages" in status and "local" in status
            await pilot.press("m")
            assert isinstance(app.screen, MainMenu)
            await pilot.press("q")

    asyncio.run(scenario())


def test_a_folder_that_cannot_open_says_why(tmp_path: Path) -> None:
    app = PineshApp(_session(tmp_path / "Maildir", tmp_path), folder="{-oBad=x}INBOX")

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("i")
            await app.workers.wait_for_complete()
            await pilot.pause()
            status = str(app.screen.query_one("#status", Static).render())
            assert "refusing host name" in status

    asyncio.run(scenario())
