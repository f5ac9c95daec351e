"""The client through Textual's Pilot: main menu, then the index of a local Maildir."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
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


def test_pinerc_problems_are_told_at_the_start(tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    fill_maildir(maildir, 1, seed=9)
    text = f"inbox-path=#md/{maildir}\nmail-check-interval=soon\nno-equals-sign\n"
    rc = parse_pinerc(text, str(tmp_path / "pinerc"))
    session = MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp_path / "d")
    assert len(rc.problems) == 2  # the line, and the interval (read by pine_settings)
    app = PineshApp(session)
    toasts: list[str] = []

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            status = str(app.screen.query_one("#status", Static).render())
            toasts.extend(str(n.message) for n in app._notifications)
            assert status.startswith("Your pinerc has 2 problems: ")
            assert "no-equals-sign" in status and "SETUP" in status
            await pilot.press("q")

    asyncio.run(scenario())
    assert any(t.startswith("Your pinerc has 2 problems") for t in toasts)


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


# Loaded when first used, never by the client's start: none is there when the first index
# shows rows (docs/benchmarks.md, "The client's lean start").
NOT_BEFORE_THE_FIRST_INDEX = frozenset(
    {
        "argparse",  # the plain client's command line is read without it
        "email.policy",  # the modern policy (headerregistry...): the stores use compat32
        "email.headerregistry",
        "email.generator",
        "html.parser",  # HTML to text: when a message has HTML
        "pinesh.services.html_text",
        "pinesh.services.sending",  # sending and composing: when a message is sent
        "pinesh.services.replying",
        "pinesh.services.postponed",
        "pinesh.services.addressbook",
        "pinesh.senders.compose",
        "pinesh.senders.smtp",
        "pinesh.senders.outbox",
        "pinesh.ui.compose_screen",  # the other screens: when opened
        "pinesh.ui.addressbook_screen",
        "pinesh.ui.folder_list_screen",
        "pinesh.ui.setup_screen",
        "smtplib",
        "textual.widgets._footer",  # a widget a key: the key menu is ui/key_menu.py's one
    }
)


def test_the_first_index_loads_none_of_the_modules_it_does_not_need(tmp_path: Path) -> None:
    fill_maildir(tmp_path / "Maildir", 5, seed=3)
    pinerc = tmp_path / "pinerc"
    pinerc.write_text(f"inbox-path=#md/{tmp_path / 'Maildir'}\n")
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "PINESH_"))}
    env.update(HOME=str(tmp_path), XDG_RUNTIME_DIR=str(runtime), PINESH_CLIENT_SERVER="0")
    loaded = tmp_path / "modules.txt"
    harness = [sys.executable, "-m", "bench.first_index", "--modules", str(loaded)]
    done = subprocess.run(  # a process of its own: this one has imported everything
        [*harness, "-p", str(pinerc), "-f", "INBOX"],
        cwd=Path(__file__).parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    modules = set(loaded.read_text().split())
    assert {"pinesh.ui.index_screen", "textual.app"} <= modules  # the index was up
    assert sorted(NOT_BEFORE_THE_FIRST_INDEX & modules) == []
