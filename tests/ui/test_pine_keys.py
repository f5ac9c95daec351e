"""Pine's G (Goto folder), Tab (NextNew) and Ctrl-L (redraw), through Textual's Pilot, on a
small local Maildir whose seen and deleted flags are known, and a local mbox in ~/mail."""

from __future__ import annotations

import asyncio
import mailbox
import re
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from pinesh.services.folder_view import FolderView
from pinesh.services.mail import MailSession
from pinesh.stores.base import StoreError
from pinesh.ui.app import MainMenu, PineshApp
from pinesh.ui.attachment_screen import AttachmentScreen, Pager
from pinesh.ui.folder_list_screen import FolderListScreen
from pinesh.ui.help_screen import HelpScreen
from pinesh.ui.index_screen import IndexScreen
from pinesh.ui.message_screen import MessageScreen
from pinesh.ui.prompts import ConfirmScreen, PromptScreen
from tests.ui.test_index_screen import (
    SIZE,
    answer,
    index_of,
    make_session,
    press,
    rows,
    run_index,
    settle,
    status,
    title,
)
from tests.ui.test_message_screen import maildir_with, mime_message, open_message

# Maildir info per message 1..10: "" is new (unseen, in new/), "T" unseen but deleted.
INFOS = ["S", "S", "", "S", "T", "S", "", "S", "", "S"]
NEW_NUMBERS = [3, 7, 9]  # the new messages that Tab visits (5 is deleted: passed over)


def message(subject: str, number: int) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Sender {number} <sender{number}@example.org>"
    mail["To"] = "me@example.org"
    mail["Subject"] = subject
    mail["Date"] = f"Mon, {number:02d} Jun 2025 10:00:00 +0000"
    mail["Message-ID"] = f"<{subject.replace(' ', '-')}@example.org>"
    mail.set_content(f"This is {subject}.\n")
    return mail.as_bytes()


def flagged_maildir(tmp: Path) -> Path:
    """Ten messages "Message 01".."Message 10" in arrival order, with INFOS' flags."""
    root = tmp / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    for number, info in enumerate(INFOS, 1):
        base = f"{1700000000 + number}.M{number}P1.pinesh"
        path = root / "new" / base if not info else root / "cur" / f"{base}:2,{info}"
        path.write_bytes(message(f"Message {number:02d}", number))
    return root


def other_mbox(home: Path) -> Path:
    """~/mail/other: an mbox of three messages "Other 1".."Other 3"."""
    path = home / "mail" / "other"
    path.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.mbox(path)
    for number in (1, 2, 3):
        box.add(message(f"Other {number}", number))
    box.close()
    return path


@pytest.fixture
def session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MailSession:
    """The flagged Maildir as INBOX, and ~/mail/other, HOME being tmp_path."""
    monkeypatch.setenv("HOME", str(tmp_path))
    other_mbox(tmp_path)
    return make_session(flagged_maildir(tmp_path), tmp_path)


def number_at_cursor(app: PineshApp) -> int:
    return index_of(app).cursor + 1


async def goto(app: PineshApp, pilot: Pilot[None], name: str) -> None:
    """G, then name typed over what is offered, then Enter."""
    await press(app, pilot, "g")
    await answer(app, pilot, name)


async def closed(view: FolderView) -> bool:
    """Whether view gets closed within a few seconds (closing runs in a thread of its own)."""
    for _ in range(100):
        try:
            view.window(0, 1)
        except StoreError:
            return True
        await asyncio.sleep(0.05)
    return False


def index_names(app: PineshApp) -> list[str]:
    """The class names of the screens on the stack (the first is Textual's own)."""
    return [type(screen).__name__ for screen in app.screen_stack[1:]]


# -- Tab: NextNew


def test_tab_visits_the_new_messages_in_order_then_says_no_more(session: MailSession) -> None:
    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        assert number_at_cursor(app) == NEW_NUMBERS[0]  # the index starts on the first new
        await press(app, pilot, "tab")
        assert number_at_cursor(app) == 7  # 4 is seen, 5 deleted, 6 seen
        assert "Message 7 of 10" in title(app)
        await press(app, pilot, "tab")
        assert number_at_cursor(app) == 9
        await press(app, pilot, "tab")
        assert number_at_cursor(app) == 9  # the cursor stays...
        assert status(app) == "No more new messages"  # ...and the status line says why
        await press(app, pilot, "home", "tab")
        assert number_at_cursor(app) == 3

    run_index(session, scenario)


def test_tab_follows_the_sort_order(session: MailSession) -> None:
    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "dollar_sign", "r")  # reversed: 10, 9, ..., 1
        assert "Message 10" in rows(app)[0]
        await press(app, pilot, "home", "tab")
        assert "Message 09" in rows(app)[index_of(app).cursor]
        await press(app, pilot, "tab")
        assert "Message 07" in rows(app)[index_of(app).cursor]
        await press(app, pilot, "tab", "tab")
        assert "Message 03" in rows(app)[index_of(app).cursor]
        assert status(app) == "No more new messages"

    run_index(session, scenario)


def test_tab_passes_over_what_was_read_meanwhile(session: MailSession) -> None:
    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "j")
        await answer(app, pilot, "7")
        await press(app, pilot, "enter")  # reads 7: it is seen now
        await press(app, pilot, "less_than_sign")
        await press(app, pilot, "home", "tab")
        assert number_at_cursor(app) == 3
        await press(app, pilot, "tab")
        assert number_at_cursor(app) == 9

    run_index(session, scenario)


def test_tab_searches_in_a_worker_thread(
    session: MailSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    search = FolderView.new_uids

    def spying(view: FolderView) -> list[int]:
        threads.append(threading.current_thread())
        return search(view)

    monkeypatch.setattr(FolderView, "new_uids", spying)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "tab")
        assert number_at_cursor(app) == 7
        assert threads
        assert all(t is not threading.main_thread() for t in threads)

    run_index(session, scenario)


def test_tab_in_the_message_text_shows_the_next_new_message(session: MailSession) -> None:
    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "enter")  # message 3, the first new one
        assert isinstance(app.screen, MessageScreen)
        await press(app, pilot, "tab")
        assert app.screen.position == 6
        assert "Message 7 of 10" in title(app)
        assert "This is Message 07." in app.screen.query_one(Pager).plain
        await press(app, pilot, "tab")
        assert "Message 9 of 10" in title(app)
        await press(app, pilot, "tab")
        assert "Message 9 of 10" in title(app)
        assert status(app) == "No more new messages"
        await press(app, pilot, "less_than_sign")
        assert isinstance(app.screen, IndexScreen)
        assert number_at_cursor(app) == 9  # the index followed

    run_index(session, scenario)


# -- G: Goto folder


def test_goto_opens_another_folder_in_place_of_this_one(session: MailSession) -> None:
    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        first = app.screen
        assert isinstance(first, IndexScreen)
        old_view = first.view
        assert old_view is not None
        await press(app, pilot, "g")
        assert isinstance(app.screen, PromptScreen)
        assert app.screen.prompt == "Folder to open:"
        await answer(app, pilot, "other")
        screen = app.screen
        assert isinstance(screen, IndexScreen) and screen is not first
        assert "Folder: other" in title(app)
        assert [line.split("Other ")[1][0] for line in rows(app)] == ["1", "2", "3"]
        assert "other local: 3 messages" in status(app)
        assert index_names(app) == ["MainMenu", "IndexScreen"]  # replaced, not stacked
        assert app.folder == "other"
        assert await closed(old_view)  # the INBOX closed with its index
        # G again offers the folder open before: Enter goes back there.
        await press(app, pilot, "g")
        assert app.screen.query_one(Input).value == "INBOX"
        await press(app, pilot, "enter")
        await settle(app, pilot)
        assert "Folder: INBOX" in title(app)
        assert index_of(app).count == 10

    run_index(session, scenario)


def test_goto_then_escape_leaves_the_folder_open(session: MailSession) -> None:
    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        screen = app.screen
        assert isinstance(screen, IndexScreen)
        before = status(app)
        await press(app, pilot, "g", "escape")
        assert app.screen is screen
        assert status(app) == before
        await press(app, pilot, "g")
        await answer(app, pilot, "   ")  # an empty answer: the same
        assert app.screen is screen
        assert screen.view is not None and screen.view.window(0, 1)
        await press(app, pilot, "n")
        assert number_at_cursor(app) == 4  # the folder still works

    run_index(session, scenario)


def test_goto_a_missing_folder_says_so_and_keeps_this_one(session: MailSession) -> None:
    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        screen = app.screen
        await goto(app, pilot, "no-such-folder")
        assert app.is_running
        assert app.screen is screen
        assert "Cannot open no-such-folder" in status(app)
        assert "Folder: INBOX" in title(app)
        assert app.folder == "INBOX"
        await press(app, pilot, "tab")
        assert number_at_cursor(app) == 7  # still the INBOX, still working

    run_index(session, scenario)


def test_goto_the_open_folder_says_so(session: MailSession) -> None:
    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        screen = app.screen
        await goto(app, pilot, "inbox")
        assert app.screen is screen
        assert status(app) == "Already in inbox"

    run_index(session, scenario)


def test_goto_from_the_message_text(session: MailSession) -> None:
    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "enter")
        assert isinstance(app.screen, MessageScreen)
        await goto(app, pilot, "other")
        assert isinstance(app.screen, IndexScreen)
        assert "Folder: other" in title(app)
        assert index_names(app) == ["MainMenu", "IndexScreen"]

    run_index(session, scenario)


def test_goto_from_the_main_menu(session: MailSession) -> None:
    app = PineshApp(session)

    async def run() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            assert isinstance(app.screen, MainMenu)
            await press(app, pilot, "g")
            assert app.screen.query_one(Input).value == ""  # in INBOX: nothing to offer
            await answer(app, pilot, "nowhere")
            assert isinstance(app.screen, MainMenu)
            assert "Cannot open nowhere" in status(app)
            await goto(app, pilot, "other")
            assert isinstance(app.screen, IndexScreen)
            assert index_of(app).count == 3
            await press(app, pilot, "m")
            assert isinstance(app.screen, MainMenu)
            assert "Folder: other" in title(app)

    asyncio.run(run())


# -- Ctrl-L: redraw


def test_ctrl_l_redraws_every_screen(session: MailSession, monkeypatch: pytest.MonkeyPatch) -> None:
    redraws: list[dict[str, Any]] = []
    refresh = PineshApp.refresh

    def spying(self: PineshApp, **kwargs: Any) -> PineshApp:
        redraws.append(kwargs)
        return refresh(self, **kwargs)

    monkeypatch.setattr(PineshApp, "refresh", spying)

    async def redraw(app: PineshApp, pilot: Pilot[None]) -> None:
        screen, before = app.screen, len(redraws)
        await press(app, pilot, "ctrl+l")
        assert app.screen is screen
        assert {"repaint": True, "layout": True} in redraws[before:]

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await redraw(app, pilot)  # the index
        await press(app, pilot, "enter")
        await redraw(app, pilot)  # the message text
        await press(app, pilot, "question_mark")
        await redraw(app, pilot)  # help
        await press(app, pilot, "escape", "g")
        await redraw(app, pilot)  # a prompt
        assert app.screen.query_one(Input).value == ""  # ^L typed nothing
        await press(app, pilot, "escape", "m")
        await redraw(app, pilot)  # the main menu
        assert app.is_running

    run_index(session, scenario)


# -- help


def test_help_lists_the_new_keys(session: MailSession) -> None:
    async def help_of(app: PineshApp, pilot: Pilot[None]) -> str:
        await press(app, pilot, "question_mark")
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        await press(app, pilot, "escape")
        return screen.body

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        for screen_help in (await help_of(app, pilot), await message_help(app, pilot)):
            assert re.search(r"^ +Tab +NextNew$", screen_help, re.MULTILINE)
            assert re.search(r"^ +G +GotoFldr$", screen_help, re.MULTILINE)
            assert "Ctrl-L redraws" in screen_help
        await press(app, pilot, "m")
        assert "GotoFldr" in await help_of(app, pilot)

    async def message_help(app: PineshApp, pilot: Pilot[None]) -> str:
        await press(app, pilot, "enter")
        body = await help_of(app, pilot)
        await press(app, pilot, "less_than_sign")
        return body

    run_index(session, scenario)


def test_capital_letters_work_as_in_pine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The key menu shows "A Add", "Y"...: Pine takes either case; these screens took only
    # the small letter, and Shift-A did nothing.
    monkeypatch.setenv("HOME", str(tmp_path))
    maildir = maildir_with(tmp_path)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "D", "X")
        assert isinstance(app.screen, ConfirmScreen)
        await press(app, pilot, "Y")
        assert isinstance(app.screen, IndexScreen) and "expunged" in status(app)
        await press(app, pilot, "dollar_sign", "S")
        assert isinstance(app.screen, IndexScreen) and status(app) == "Sorted by subject"
        await press(app, pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        await press(app, pilot, "E")
        assert isinstance(app.screen, IndexScreen)
        await press(app, pilot, "less_than_sign")
        assert isinstance(app.screen, FolderListScreen)
        await press(app, pilot, "A")
        assert isinstance(app.screen, PromptScreen)
        await press(app, pilot, "escape", "M")
        assert isinstance(app.screen, MainMenu)
        app.open_address_book()
        await settle(app, pilot)
        await pilot.press("A")  # (its worker waits for the answers: no settling)
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)

    run_index(make_session(maildir, tmp_path), scenario)


def test_greater_than_in_the_message_lists_its_attachments(tmp_path: Path) -> None:
    maildir = maildir_with(tmp_path, mime=mime_message())

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await open_message(app, pilot, 12)
        await press(app, pilot, "greater_than_sign")  # Pine's "> ViewAttch"
        assert isinstance(app.screen, AttachmentScreen)

    run_index(make_session(maildir, tmp_path), scenario)
