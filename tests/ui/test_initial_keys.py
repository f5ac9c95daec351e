"""The client's start as Alpine's -I and -n set it: keys pressed in order once each screen
has settled, and the index starting on a given message."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import Static

from pinesh.config.keystrokes import parse_keystrokes, split_keystrokes
from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.services.connections import Connections
from pinesh.services.mail import MailSession
from pinesh.ui.app import MainMenu, PineshApp
from pinesh.ui.index_list import IndexList
from pinesh.ui.index_screen import IndexScreen
from pinesh.ui.initial_keys import key_event
from pinesh.ui.message_screen import MessageScreen
from tests.lab.maildir_fill import fill_maildir


def _session(tmp: Path, count: int, extra: str = "") -> MailSession:
    maildir = tmp / "Maildir"
    fill_maildir(maildir, count, seed=4)
    rc = parse_pinerc(f"inbox-path=#md/{maildir}\n{extra}", str(tmp / "pinerc"))
    return MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp / "data")


async def _settle(app: PineshApp) -> None:
    for _ in range(6):
        await app.workers.wait_for_complete()
        await asyncio.sleep(0.05)


def test_alpines_example_keystrokes_view_message_13(tmp_path: Path) -> None:
    """-I i,j,1,3,CR,v (the example in Alpine's own pinerc) ends on message 13's view."""
    keys = parse_keystrokes(split_keystrokes("i,j,1,3,CR,v"))
    app = PineshApp(_session(tmp_path, 20), keystrokes=keys)

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            for _ in range(100):
                if isinstance(app.screen, MessageScreen):
                    break
                await pilot.pause(0.05)
            assert isinstance(app.screen, MessageScreen)
            assert app.screen.position == 12
            await pilot.press("q")

    asyncio.run(scenario())


def test_keystrokes_from_the_pinerc_are_pressed_at_the_start(tmp_path: Path) -> None:
    session = _session(tmp_path, 5, "initial-keystroke-list=i,j,4,CR,p\n")
    app = PineshApp(session, keystrokes=session.pine.initial_keystrokes)

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            for _ in range(100):
                screen = app.screen
                if isinstance(screen, IndexScreen) and screen.index.cursor == 2:
                    break
                await pilot.pause(0.05)
            assert isinstance(app.screen, IndexScreen)
            assert app.screen.index.cursor == 2  # message 4, then p: 3
            await pilot.press("q")

    asyncio.run(scenario())


def test_the_index_starts_on_message_n_and_stays_there(tmp_path: Path) -> None:
    app = PineshApp(_session(tmp_path, 30), start_in_index=True, start_number=7)

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await _settle(app)
            await pilot.pause()
            assert app.screen.query_one(IndexList).cursor == 6  # not the first unseen
            await pilot.press("q")

    asyncio.run(scenario())


def test_a_number_past_the_last_message_starts_on_the_last_and_says_so(tmp_path: Path) -> None:
    app = PineshApp(_session(tmp_path, 12), start_in_index=True, start_number=40)

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await _settle(app)
            await pilot.pause()
            assert app.screen.query_one(IndexList).cursor == 11
            status = str(app.screen.query_one("#status", Static).render())
            assert status.startswith("No message 40: the folder has 12.")
            await pilot.press("q")

    asyncio.run(scenario())


def test_n_without_i_is_where_the_index_starts_when_opened(tmp_path: Path) -> None:
    app = PineshApp(_session(tmp_path, 10), start_number=2)

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            assert isinstance(app.screen, MainMenu)
            await pilot.press("i")
            await _settle(app)
            await pilot.pause()
            assert app.screen.query_one(IndexList).cursor == 1
            await pilot.press("q")

    asyncio.run(scenario())


def test_keys_are_sent_as_a_terminal_sends_them() -> None:
    keys = parse_keystrokes(split_keystrokes('>,a,^X,SPACE,"a,b",F3'))
    events = [(e.key, e.character) for e in map(key_event, keys)]
    assert events == [
        ("greater_than_sign", ">"),
        ("a", "a"),
        ("ctrl+x", None),
        ("space", " "),
        ("a", "a"),
        ("comma", ","),
        ("b", "b"),
        ("f3", None),
    ]
