"""Defects found in review of the Textual screens, each shown through Pilot first.

Keys "typed quickly" are posted to the app all at once, as a terminal delivers them when
they come in one read (a fast typist, a key held down, a paste): each is queued to the
screen that is on top when the app handles it, before the one before it took effect.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static
from textual.widgets._toast import Toast

from pinesh.senders.compose import Draft
from pinesh.services.folder_view import FolderView
from pinesh.services.postponed import PostponedMessage, request_from_postponed
from pinesh.services.replying import ComposeRequest
from pinesh.stores.base import Address
from pinesh.textsafe import safe_line
from pinesh.ui import compose_screen as compose_module
from pinesh.ui.addressbook_screen import AddressBookScreen
from pinesh.ui.app import MainMenu, PineshApp
from pinesh.ui.attachment_screen import AttachmentScreen, Pager
from pinesh.ui.compose_fields import BodyArea
from pinesh.ui.compose_screen import ComposeScreen
from pinesh.ui.folder_list_screen import FolderListScreen
from pinesh.ui.help_screen import HelpScreen
from pinesh.ui.index_screen import IndexScreen
from pinesh.ui.message_screen import MessageScreen
from pinesh.ui.prompts import ChoiceScreen, ConfirmScreen, PromptScreen
from tests.lab.maildir_fill import fill_maildir
from tests.ui.test_compose_screen import home as home  # the fixture
from tests.ui.test_compose_screen import make_session as compose_session
from tests.ui.test_index_screen import (
    drawn,
    index_of,
    make_session,
    press,
    run_index,
    settle,
    status,
    title,
)
from tests.ui.test_message_screen import maildir_with, mime_message, open_message, shown

CHARACTERS = {"enter": "\r", "escape": "\x1b", "dollar_sign": "$", "semicolon": ";"}


async def typed_quickly(app: PineshApp, pilot: Pilot[None], *keys: str) -> None:
    """keys delivered in one go, then everything they started allowed to finish."""
    for key in keys:
        app.post_message(events.Key(key, CHARACTERS.get(key, key)))
    await pilot.pause(0.2)
    await settle(app, pilot)


def stack(app: PineshApp) -> list[str]:
    return [type(screen).__name__ for screen in app.screen_stack]


def run_app(app: PineshApp, scenario: Callable[[Pilot[None]], Awaitable[None]]) -> None:
    """scenario with toasts enabled (run_test turns them off unless asked)."""

    async def main() -> None:
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await settle(app, pilot)
            await scenario(pilot)

    asyncio.run(main())
    assert app.return_code is None  # still running when the scenario ended: no crash


# -- markup and control characters --------------------------------------------------


def test_a_mail_server_reply_that_looks_like_markup_is_shown_as_text(home: Path) -> None:
    # notify() parses markup: "[/]" from the server raised MarkupError and ended pinesh
    # (after the message went to the outbox); "[@click=app.quit]" made a live action.
    said = "550 5.7.1 [/] rejected [@click=app.quit]here[/] [b]bold[/b]"
    script = home / "sendmail"
    script.write_text(f"#!/bin/sh\ncat >/dev/null\necho '{said}' >&2\nexit 1\n")
    script.chmod(0o755)
    app = PineshApp(compose_session(home, f"sendmail-path={script}\n"))

    async def scenario(pilot: Pilot[None]) -> None:
        await press(app, pilot, "c")
        await pilot.press(*"bob@example.org")
        await press(app, pilot, "ctrl+x", "y")
        assert isinstance(app.screen, MainMenu)
        assert said in status(app)
        (toast,) = app.screen.query(Toast)
        assert said in str(toast.render())  # the brackets as they came: no markup read

    run_app(app, scenario)


def test_a_tab_in_a_subject_is_drawn_as_spaces(tmp_path: Path) -> None:
    # A tab (here from an encoded word) went to the terminal as it was: the cursor jumped,
    # cells were never written, and what the screen held before showed through.
    maildir = tmp_path / "Maildir"
    fill_maildir(maildir, 3, seed=4)
    (maildir / "new" / "9999999999.tab.pinesh").write_bytes(
        b"From: =?utf-8?q?Tab=09Person?= <t@example.org>\r\nTo: you@example.org\r\n"
        b"Subject: =?utf-8?q?x=09y=09z?=\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\nbody\r\n"
    )

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        rows = drawn(app)
        assert not any("\t" in row for row in rows)
        row = next(row for row in rows if "Tab Person" in row)
        assert row.rstrip().endswith(" x y z")
        await press(app, pilot, "end", "enter")
        assert isinstance(app.screen, MessageScreen)
        pager = app.screen.query_one(Pager)
        lines = ["".join(s.text for s in pager.render_line(y)) for y in range(6)]
        assert not any("\t" in line for line in lines)
        assert any(line.startswith("Subject: x y z") for line in lines)  # one line: tab = space

    run_index(make_session(maildir, tmp_path), scenario)


def test_a_postponed_message_brings_no_control_character_into_the_fields(home: Path) -> None:
    raw = (
        b"From: me@pinesh.test\r\nTo: =?utf-8?q?A=C2=9B6n?= <a@example.org>\r\n"
        b"Fcc: =?utf-8?q?sent=C2=9B2J?=\r\nSubject: =?utf-8?q?s=C2=9B6n?=\r\n\r\nbody\r\n"
    )
    request = request_from_postponed(raw, fallback_sender=Address("", "me@pinesh.test"))
    app = PineshApp(compose_session(home))

    async def scenario(pilot: Pilot[None]) -> None:
        app.open_compose(request)
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ComposeScreen)
        values = [screen.field(name).value for name in ("To", "Fcc", "Subject")]
        assert not any(ch in value for value in values for ch in "\x9b\x1b")
        assert values[0] == "A 6n <a@example.org>"  # C1 taken out when read back, as C0

    run_app(app, scenario)


# -- prompts ------------------------------------------------------------------------


def test_what_is_typed_at_a_prompt_can_be_seen(tmp_path: Path) -> None:
    # A regression guard, not a reproduction: once, under tmux, a focused prompt's Input
    # drew Textual's tall focus border over its one line, and what was typed did not
    # show. The prompt's Input is now compact (one line, never a border).
    maildir = maildir_with(tmp_path)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "j", "1", "2")
        assert isinstance(app.screen, PromptScreen)
        field = app.screen.query_one(Input)
        assert field.has_focus
        assert field.content_region.height == 1
        assert "12" in "".join(s.text for s in field.render_line(0))

    run_index(make_session(maildir, tmp_path), scenario)


def test_two_quick_enters_at_a_prompt_close_only_the_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second Enter reached the answered prompt, whose dismiss() then closed the screen
    # under it (here the message view; with Enter held down, every screen: a crash).
    monkeypatch.setenv("HOME", str(tmp_path))
    maildir = maildir_with(tmp_path)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await open_message(app, pilot, 3)
        await press(app, pilot, "s")
        app.screen.query_one(Input).value = "kept"
        await typed_quickly(app, pilot, "enter", "enter", "enter")
        assert stack(app) == ["Screen", "MainMenu", "IndexScreen", "MessageScreen"]
        assert "Saved to kept (1 message" in status(app)

    run_index(make_session(maildir, tmp_path), scenario)


def test_two_quick_enters_in_the_address_book_keep_the_composer(home: Path) -> None:
    (home / ".addressbook").write_text("bob\tBob Smith\tbob@example.org\n")
    app = PineshApp(compose_session(home))

    async def scenario(pilot: Pilot[None]) -> None:
        await press(app, pilot, "c")
        await press(app, pilot, "ctrl+t")
        assert isinstance(app.screen, AddressBookScreen)
        await typed_quickly(app, pilot, "enter", "enter")
        screen = app.screen
        assert isinstance(screen, ComposeScreen)  # the draft was closed without a word
        assert screen.field("To").value == "Bob Smith <bob@example.org>"

    run_app(app, scenario)


def test_a_key_typed_after_a_choice_goes_to_the_index(tmp_path: Path) -> None:
    # "$" "s" "s": sort by subject, then S (save). The second s reached the answered
    # choice, whose dismiss() closed the index.
    maildir = maildir_with(tmp_path)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "dollar_sign")
        assert isinstance(app.screen, ChoiceScreen)
        await typed_quickly(app, pilot, "s", "s")
        assert stack(app) == ["Screen", "MainMenu", "IndexScreen", "PromptScreen"]
        assert "SAVE" in str(app.screen.query_one(Static).render())

    run_index(make_session(maildir, tmp_path), scenario)


# -- workers that race ----------------------------------------------------------------


def test_next_typed_quickly_shows_the_message_the_title_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each N starts a reader; the slower one (a big message, a busy server) ended last
    # and its message replaced the one the title named, and V then listed its parts.
    maildir = maildir_with(tmp_path)
    read = FolderView.read
    slow: set[int] = set()

    def slow_read(view: FolderView, uid: int) -> object:
        if uid in slow:
            time.sleep(0.4)
        return read(view, uid)

    monkeypatch.setattr(FolderView, "read", slow_read)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        screen = await open_message(app, pilot, 4)
        view = screen.view
        assert view is not None
        slow.add(view.uid_at(4))
        await pilot.press("n", "n")
        await pilot.pause(0.6)
        await settle(app, pilot)
        assert "Message 6 of 11" in title(app)
        envelope = view.cached(view.uid_at(5))
        assert envelope is not None
        subject = next(line for line in shown(app).split("\n") if line.startswith("Subject: "))
        assert subject == "Subject: " + safe_line(envelope.subject)

    run_index(make_session(maildir, tmp_path), scenario)


def test_reply_pressed_twice_opens_one_composer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    maildir = maildir_with(tmp_path, mime=mime_message())
    raw = FolderView.raw

    def slow_raw(view: FolderView, uid: int) -> bytes:
        time.sleep(0.3)  # a message fetched from a server
        return raw(view, uid)

    monkeypatch.setattr(FolderView, "raw", slow_raw)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await open_message(app, pilot, 12)  # one recipient: R asks nothing
        await pilot.press("r", "r")
        await pilot.pause(0.5)
        await settle(app, pilot)
        assert stack(app).count("ComposeScreen") == 1

    run_index(make_session(maildir, tmp_path), scenario)


def test_expunge_pressed_twice_asks_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    maildir = maildir_with(tmp_path)
    count = FolderView.deleted_count

    def slow_count(view: FolderView) -> int:
        time.sleep(0.3)  # a SEARCH on a server
        return count(view)

    monkeypatch.setattr(FolderView, "deleted_count", slow_count)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "d")
        await pilot.press("x", "x")
        await pilot.pause(0.5)
        await settle(app, pilot)
        assert stack(app).count("ConfirmScreen") == 1

    run_index(make_session(maildir, tmp_path), scenario)


# -- Pine's keys ----------------------------------------------------------------------


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


def test_q_in_help_leaves_the_help_not_the_message_being_written(home: Path) -> None:
    app = PineshApp(compose_session(home))

    async def scenario(pilot: Pilot[None]) -> None:
        await press(app, pilot, "c")
        await pilot.press(*"bob@example.org")
        await press(app, pilot, "ctrl+g")
        assert isinstance(app.screen, HelpScreen)
        await press(app, pilot, "q")
        screen = app.screen
        assert isinstance(screen, ComposeScreen)  # was: pinesh ended, the draft lost
        assert screen.field("To").value == "bob@example.org"

    run_app(app, scenario)


def test_greater_than_in_the_message_lists_its_attachments(tmp_path: Path) -> None:
    maildir = maildir_with(tmp_path, mime=mime_message())

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await open_message(app, pilot, 12)
        await press(app, pilot, "greater_than_sign")  # Pine's "> ViewAttch"
        assert isinstance(app.screen, AttachmentScreen)

    run_index(make_session(maildir, tmp_path), scenario)


def test_space_and_minus_page_through_the_folder_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "mail").mkdir()
    for n in range(80):
        (tmp_path / "mail" / f"folder{n:02d}").write_bytes(b"")
    maildir = maildir_with(tmp_path)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "less_than_sign")
        assert isinstance(app.screen, FolderListScreen)
        await settle(app, pilot)
        folders = app.screen.query_one(OptionList)
        start = folders.highlighted
        assert start is not None
        await press(app, pilot, "space")
        after = folders.highlighted
        assert after is not None and after > start + 10
        await press(app, pilot, "minus")
        assert folders.highlighted is not None and folders.highlighted < after - 10

    run_index(make_session(maildir, tmp_path), scenario)


# -- the index after expunge ------------------------------------------------------------


def test_the_title_after_every_message_is_expunged(tmp_path: Path) -> None:
    maildir = maildir_with(tmp_path)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "semicolon", "a")
        await press(app, pilot, "a", "d")
        await press(app, pilot, "x", "y")
        assert index_of(app).count == 0
        assert title(app).endswith("No messages")  # was: "Message 11 of 11"
        assert drawn(app)[0].strip() == "[this folder is empty]"

    run_index(make_session(maildir, tmp_path), scenario)


def plain_maildir(tmp: Path, count: int) -> Path:
    """count new messages, "message 1" to "message N", in that order."""
    maildir = tmp / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    for n in range(1, count + 1):
        (maildir / "new" / f"{1_000_000_000 + n}.m{n}.pinesh").write_bytes(
            f"From: a{n}@example.org\r\nTo: you@example.org\r\nSubject: message {n}\r\n"
            f"Date: Mon, {n} Nov 2026 10:00:00 +0000\r\n\r\nbody {n}\r\n".encode()
        )
    return maildir


def test_after_expunge_the_cursor_is_on_the_next_message_left(tmp_path: Path) -> None:
    # The cursor kept its position: with messages gone above it, it skipped as many of
    # those after the expunged one it was on.
    maildir = plain_maildir(tmp_path, 10)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        index = index_of(app)
        await press(app, pilot, "home", "down", "d", "d")  # 2 and 3 deleted; on 4
        await press(app, pilot, "down", "down", "down", "down", "d", "up")  # 8 deleted, on it
        assert index.cursor == 7
        await press(app, pilot, "x", "y")
        assert "3 messages expunged" in status(app)
        assert "message 9 " in drawn(app)[index.cursor] + " "
        assert "Message 6 of 7" in title(app)

    run_index(make_session(maildir, tmp_path), scenario)


# -- the composer -----------------------------------------------------------------------


def test_a_nul_in_the_name_of_a_file_to_attach_is_a_message(home: Path) -> None:
    # Pasted into the prompt, it made stat() raise ValueError in the worker: pinesh ended
    # with a traceback.
    app = PineshApp(compose_session(home))

    async def scenario(pilot: Pilot[None]) -> None:
        await press(app, pilot, "c")
        await press(app, pilot, "ctrl+j")
        field = app.screen.query_one(Input)
        field.post_message(events.Paste(f"{home}/a\x00b"))
        await press(app, pilot, "enter")
        assert isinstance(app.screen, ComposeScreen)
        assert "cannot attach" in status(app) and "null byte" in status(app)

    run_app(app, scenario)


def test_an_address_book_entry_with_escapes_is_made_safe_in_the_composer(home: Path) -> None:
    # Pine's TakeAddr copies a sender's name into the address book as it came: the
    # nickname's expansion (or ^T's pick) put the escape sequence into the To line,
    # which an Input draws as it is.
    (home / ".addressbook").write_text(
        "ev\t\x1b]0;pwned\x07Evil\tevil@example.org\t\x1b[2Jfolder\n"
    )
    app = PineshApp(compose_session(home))

    async def scenario(pilot: Pilot[None]) -> None:
        await press(app, pilot, "c")
        screen = app.screen
        assert isinstance(screen, ComposeScreen)
        await pilot.press("e", "v", "tab")
        await settle(app, pilot)
        to = screen.field("To").value
        assert to.endswith("<evil@example.org>") and "\x1b" not in to and "\x07" not in to
        assert "\x1b" not in screen.field("Fcc").value
        screen.field("To").focus()
        await pilot.pause()
        screen.field("To").value = ""
        await press(app, pilot, "ctrl+t", "s")
        assert stack(app)[-1] == "ComposeScreen"
        to = screen.field("To").value
        assert to.endswith("<evil@example.org>") and "\x1b" not in to

    run_app(app, scenario)


def test_postponed_messages_found_after_typing_began_do_not_take_the_next_key(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The postponed folder is listed in a worker (on a server: a second or more). Its
    # question came up while the user typed "yvonne@...": the y answered it, and the
    # postponed message replaced what was typed.
    def slow_list(session: object) -> list[PostponedMessage]:
        time.sleep(0.3)
        return [PostponedMessage(1, "an old draft", "old@example.org", None)]

    def resume(session: object, uid: int) -> ComposeRequest:
        return ComposeRequest(Draft(sender=Address("", "me@pinesh.test"), subject="old"))

    monkeypatch.setattr(compose_module, "list_postponed", slow_list)
    monkeypatch.setattr(compose_module, "resume", resume)
    app = PineshApp(compose_session(home))

    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.press("c")
        # Keys typed before the composer is up are another matter (the menu gets them):
        # wait for it, but not for the slow listing.
        while not (isinstance(app.screen, ComposeScreen) and app.focused is not None):
            await pilot.pause(0.01)
        await pilot.press("b", "o", "b")
        await pilot.pause(0.5)
        await pilot.press(*"yvonne@example.org")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ComposeScreen)
        assert screen.field("To").value == "bobyvonne@example.org"
        assert "1 postponed message waiting" in status(app)

    run_app(app, scenario)


def test_the_text_keeps_picos_cut_and_uncut(home: Path) -> None:
    # The message text is a TextArea, whose ^K deletes to the end of the line and ^U to
    # its start: a Pine user's ^K ^K (cut two lines) ^U (put them back) lost the text,
    # and ^W (Where is) deleted a word.
    app = PineshApp(compose_session(home))

    async def scenario(pilot: Pilot[None]) -> None:
        await press(app, pilot, "c")
        screen = app.screen
        assert isinstance(screen, ComposeScreen)
        body = screen.query_one(BodyArea)
        body.focus()
        body.load_text("one\ntwo\nthree\nfour\n")
        body.move_cursor((1, 2))  # in "two"
        await pilot.press("ctrl+k", "ctrl+k")
        assert body.text == "one\nfour\n"
        await pilot.press("down", "ctrl+u")  # under "four": the two lines back
        assert body.text == "one\nfour\ntwo\nthree\n"
        body.move_cursor((1, 0))
        await pilot.press("ctrl+k", "down", "ctrl+k", "ctrl+u", "ctrl+u")
        assert body.text == "one\ntwo\nthree\nthree\n"  # a new cut replaced the old one
        body.move_cursor((0, 0))
        await pilot.press("ctrl+w")
        assert isinstance(app.screen, PromptScreen)
        app.screen.query_one(Input).value = "thr"
        await press(app, pilot, "enter")
        assert stack(app)[-1] == "ComposeScreen" and body.text == "one\ntwo\nthree\nthree\n"
        assert body.cursor_location == (2, 0)
        await pilot.press("ctrl+w", "enter")  # the same word again: the next one
        assert body.cursor_location == (3, 0)
        await pilot.press("ctrl+w")
        app.screen.query_one(Input).value = "nowhere"
        await press(app, pilot, "enter")
        assert status(app) == '"nowhere" not found' and body.cursor_location == (3, 0)

    run_app(app, scenario)


def test_two_quick_enters_in_the_folder_list_open_the_folder_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second Enter reached the folder list after the index had replaced it: that
    # index was closed and the folder opened a second time (over ssh: a second SELECT).
    monkeypatch.setenv("HOME", str(tmp_path))
    maildir = maildir_with(tmp_path)
    opened: list[str] = []
    real_open = FolderView.open

    def counting_open(session: object, name: str) -> FolderView:
        opened.append(name)
        return real_open(session, name)  # type: ignore[arg-type]

    monkeypatch.setattr(FolderView, "open", counting_open)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        opened.clear()
        await press(app, pilot, "less_than_sign")
        assert isinstance(app.screen, FolderListScreen)
        await typed_quickly(app, pilot, "enter", "enter")
        assert stack(app) == ["Screen", "MainMenu", "IndexScreen"]
        assert opened == ["INBOX"]

    run_index(make_session(maildir, tmp_path), scenario)


def test_view_pressed_twice_on_a_text_attachment_shows_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    maildir = maildir_with(tmp_path, mime=mime_message())
    part_bytes = FolderView.part_bytes

    def slow_part(view: FolderView, uid: int, part_id: str, limit: int = 1 << 22) -> object:
        time.sleep(0.3)  # a part fetched from a server
        return part_bytes(view, uid, part_id, limit)

    monkeypatch.setattr(FolderView, "part_bytes", slow_part)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await open_message(app, pilot, 12)
        await press(app, pilot, "v", "down")  # the text attachment
        assert isinstance(app.screen, AttachmentScreen)
        await pilot.press("v", "v")
        await pilot.pause(0.5)
        await settle(app, pilot)
        assert stack(app).count("TextScreen") == 1

    run_index(make_session(maildir, tmp_path), scenario)
