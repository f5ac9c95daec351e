"""The MESSAGE INDEX through Textual's Pilot, on a real local Maildir."""

from __future__ import annotations

import asyncio
import mailbox
import shutil
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Static

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.services.connections import Connections
from pinesh.services.mail import MailSession
from pinesh.stores.base import Envelope, Flag
from pinesh.stores.local.maildir_folder import MaildirFolder
from pinesh.stores.ordering import base_subject, unicode_casemap
from pinesh.ui.app import PineshApp
from pinesh.ui.attachment_screen import Pager
from pinesh.ui.index_list import IndexList
from pinesh.ui.index_screen import IndexScreen
from pinesh.ui.message_screen import MessageScreen
from pinesh.ui.prompts import ChoiceScreen, ConfirmScreen, PromptScreen
from tests.lab.maildir_fill import FilledMessage, fill_maildir

HOSTILE = Path(__file__).parent.parent / "corpus" / "hostile" / "escape-sequences.eml"
SIZE = (120, 40)

Scenario = Callable[[PineshApp, Pilot[None]], Awaitable[None]]


def make_session(maildir: Path, tmp: Path, extra: str = "") -> MailSession:
    rc = parse_pinerc(f"inbox-path=#md/{maildir}\n{extra}", str(tmp / "pinerc"))
    return MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp / "data")


def filled_maildir(tmp: Path, count: int = 30, seed: int = 9) -> tuple[Path, list[FilledMessage]]:
    """count messages, then the hostile one (its name sorts last: it is the newest)."""
    maildir = tmp / "Maildir"
    filled = fill_maildir(maildir, count, seed=seed)
    shutil.copy(HOSTILE, maildir / "new" / "9999999999.hostile.pinesh")
    return maildir, filled


async def settle(app: PineshApp, pilot: Pilot[None]) -> None:
    """Let workers finish and the messages they post be handled (a few rounds)."""
    for _ in range(4):
        await app.workers.wait_for_complete()
        await pilot.pause()


def run_index(session: MailSession, scenario: Scenario, folder: str = "INBOX") -> None:
    app = PineshApp(session)

    async def run() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            app.open_index(folder)
            await settle(app, pilot)
            assert isinstance(app.screen, IndexScreen)
            await scenario(app, pilot)

    asyncio.run(run())


def index_of(app: PineshApp) -> IndexList:
    return app.screen.query_one(IndexList)


def status(app: PineshApp) -> str:
    return str(app.screen.query_one("#status", Static).render())


def title(app: PineshApp) -> str:
    return str(app.screen.query_one("#title", Static).render())


def rows(app: PineshApp) -> list[str]:
    index = index_of(app)
    return [index.row_text(i) for i in range(index.count)]


def drawn(app: PineshApp) -> list[str]:
    """The index lines exactly as drawn on the terminal (segments' text)."""
    index = index_of(app)
    return [
        "".join(s.text for s in index.render_line(y))
        for y in range(index.scrollable_content_region.height)
    ]


async def answer(app: PineshApp, pilot: Pilot[None], text: str) -> None:
    """Type an answer into the PromptScreen that is up, and press Enter."""
    assert isinstance(app.screen, PromptScreen)
    app.screen.query_one(Input).value = text
    await pilot.press("enter")
    await settle(app, pilot)


async def press(app: PineshApp, pilot: Pilot[None], *keys: str) -> None:
    await pilot.press(*keys)
    await settle(app, pilot)


# Keys "typed quickly" are posted to the app all at once, as a terminal delivers them when
# they come in one read (a fast typist, a key held down, a paste): each is queued to the
# screen that is on top when the app handles it, before the one before it took effect.
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


def message_files(maildir: Path) -> list[Path]:
    return [p for sub in ("cur", "new") for p in (maildir / sub).iterdir()]


def test_index_of_30_and_a_hostile_message(tmp_path: Path) -> None:
    maildir, filled = filled_maildir(tmp_path)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        index = index_of(app)
        assert index.count == 31
        lines = rows(app)
        for message, line in zip(filled, lines, strict=False):
            assert safe_subject(message.subject)[:20] in line
        # Pine starts on the first unseen message.
        first_unseen = next(i for i, m in enumerate(filled) if not m.flags)
        assert index.cursor == first_unseen
        assert f"Message {first_unseen + 1} of 31" in title(app)
        unseen = sum(1 for m in filled if not m.flags) + 1
        assert status(app) == f"INBOX local: 31 messages, {unseen} unseen"
        assert lines[first_unseen][2] == "N"
        # The hostile message, as drawn: no escape reaches the terminal.
        screen = drawn(app)
        assert all("\x1b" not in line and "\x07" not in line for line in screen)
        hostile = next(line for line in screen if "URGENT" in line)
        # (the From header splits at its ';': the first "address" is the bare ESC)
        assert "\\x1b[2J" in hostile and "\\x9b6n" in hostile and hostile.count("\\x1b") == 5

    run_index(make_session(maildir, tmp_path), scenario)


def safe_subject(subject: str) -> str:
    return subject.replace("\n", " ")


def test_cursor_moves_like_pine(tmp_path: Path) -> None:
    maildir, _ = filled_maildir(tmp_path, 80)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        index = index_of(app)
        await press(app, pilot, "end")
        assert index.cursor == 80
        await press(app, pilot, "home")
        assert index.cursor == 0 and index.scroll_offset.y == 0
        await press(app, pilot, "down", "n", "N")
        assert index.cursor == 3
        await press(app, pilot, "up", "p")
        assert index.cursor == 1
        height = index.scrollable_content_region.height
        await press(app, pilot, "pagedown")
        assert index.cursor == 1 + height and index.scroll_offset.y == height
        await press(app, pilot, "minus")
        assert index.cursor == 1 and index.scroll_offset.y == 0
        await press(app, pilot, "space", "space", "space")
        assert index.cursor == 80  # the last page stops at the last message
        assert "Message 81 of 81" in title(app)
        # every drawn row is a real one, not a placeholder, once the window came in
        assert all("..." not in line for line in drawn(app) if line.strip())

    run_index(make_session(maildir, tmp_path), scenario)


def test_jump_to_a_number(tmp_path: Path) -> None:
    maildir, _ = filled_maildir(tmp_path)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "j")
        await answer(app, pilot, "7")
        assert index_of(app).cursor == 6 and "Message 7 of 31" in title(app)
        await press(app, pilot, "J")
        await answer(app, pilot, "99")
        assert index_of(app).cursor == 6 and "No message number 99" in status(app)

    run_index(make_session(maildir, tmp_path), scenario)


def test_sort_by_subject_then_reverse(tmp_path: Path) -> None:
    maildir, _ = filled_maildir(tmp_path)

    def keys(app: PineshApp) -> list[str]:
        view = index_of(app).view
        assert view is not None
        found = [view.cached(view.uid_at(i)) for i in range(view.count)]
        assert all(e is not None for e in found)
        return [unicode_casemap(base_subject(e.subject)) for e in found if e is not None]

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        before = rows(app)
        cursor_uid = index_of(app).current_uid()
        await press(app, pilot, "dollar_sign")
        assert isinstance(app.screen, ChoiceScreen)
        await press(app, pilot, "s")
        assert rows(app) != before
        assert keys(app) == sorted(keys(app))
        assert index_of(app).current_uid() == cursor_uid  # the cursor stays on its message
        assert "Sorted by subject" in status(app)
        await press(app, pilot, "dollar_sign", "r")
        assert keys(app) == sorted(keys(app), reverse=True)
        await press(app, pilot, "dollar_sign", "a")
        assert rows(app) == before

    run_index(make_session(maildir, tmp_path), scenario)


def test_delete_then_expunge_removes_the_file(tmp_path: Path) -> None:
    maildir, filled = filled_maildir(tmp_path)
    assert any("T" in m.flags for m in filled) and "T" not in filled[2].flags + filled[3].flags

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "home", "down", "down")
        await press(app, pilot, "d")
        assert "Message 3 deleted" in status(app)
        assert rows(app)[2][2] == "D"
        assert index_of(app).cursor == 3  # Pine moves on after a delete
        await press(app, pilot, "u")
        assert "Message 4 undeleted" in status(app)
        await press(app, pilot, "x")
        assert isinstance(app.screen, ConfirmScreen)
        question = str(app.screen.query_one(Static).render())
        trashed = [m for m in filled if "T" in m.flags]  # deleted before we came
        assert f"Expunge the {1 + len(trashed)} deleted messages from INBOX?" in question
        await press(app, pilot, "y")
        assert status(app) == f"{1 + len(trashed)} messages expunged"
        assert index_of(app).count == 30 - len(trashed)
        remaining = b"".join(p.read_bytes() for p in message_files(maildir))
        for gone in [filled[2], *trashed]:
            assert gone.message_id.encode() not in remaining
        assert filled[3].message_id.encode() in remaining
        await press(app, pilot, "x")
        assert "No messages are marked deleted" in status(app)

    run_index(make_session(maildir, tmp_path), scenario)


def test_save_into_an_mbox_and_export_to_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # Pine's saved-messages is ~/mail/...
    maildir, filled = filled_maildir(tmp_path)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "j")
        await answer(app, pilot, "5")
        await press(app, pilot, "s")
        assert isinstance(app.screen, PromptScreen)
        assert app.screen.query_one(Input).value == "saved-messages"
        await press(app, pilot, "enter")
        assert "Saved to saved-messages (1 message, marked deleted)" in status(app)
        box = mailbox.mbox(tmp_path / "mail" / "saved-messages")
        assert [m["Message-ID"] for m in box] == [filled[4].message_id]
        assert rows(app)[4][2] == "D"
        # Export the raw message to a file, then refuse to overwrite it.
        await press(app, pilot, "home", "e")
        await answer(app, pilot, "exported.eml")
        target = tmp_path / "exported.eml"
        original = next(
            p
            for p in message_files(maildir)
            if p.name.startswith(filled[0].filename[4:].split(":")[0])
        )
        assert target.read_bytes() == original.read_bytes()
        assert "Message 1 exported to" in status(app)
        await press(app, pilot, "down", "e")
        await answer(app, pilot, str(target))
        assert isinstance(app.screen, ConfirmScreen)
        await press(app, pilot, "n")
        assert status(app) == "Export cancelled"
        assert target.read_bytes() == original.read_bytes()

    run_index(make_session(maildir, tmp_path), scenario)


def test_whereis_moves_to_the_next_match(tmp_path: Path) -> None:
    maildir, filled = filled_maildir(tmp_path)
    target = 17
    word = filled[target].message_id.strip("<>").split("@")[0]  # in its headers only

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "home", "w")
        await answer(app, pilot, word)
        assert index_of(app).cursor == target
        assert f"found in message {target + 1}" in status(app)
        await press(app, pilot, "w")
        assert app.screen.query_one(Input).value == word  # the last word is offered
        await answer(app, pilot, "no-such-word-7f3a")
        assert index_of(app).cursor == target and "not found" in status(app)

    run_index(make_session(maildir, tmp_path), scenario)


def test_thread_view_indents_replies(tmp_path: Path) -> None:
    maildir, filled = filled_maildir(tmp_path, 40)
    by_id = {m.message_id: m for m in filled}

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "ctrl+t")
        view = index_of(app).view
        assert view is not None and view.threaded and status(app) == "Thread view"
        indented = [i for i in range(view.count) if view.depth_at(i) > 0]
        assert indented
        lines = rows(app)
        for position in indented:
            envelope = view.cached(view.uid_at(position))
            assert envelope is not None and envelope.in_reply_to in by_id
            assert "  > " in lines[position]
        flat = [i for i in range(view.count) if view.depth_at(i) == 0]
        assert all("> " not in lines[i] for i in flat if "URGENT" not in lines[i])
        await press(app, pilot, "ctrl+t")
        assert not view.threaded

    run_index(make_session(maildir, tmp_path), scenario)


def test_select_then_apply_delete(tmp_path: Path) -> None:
    maildir, _ = filled_maildir(tmp_path)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "home", "colon", "down", "colon")
        index = index_of(app)
        assert len(index.selected) == 2 and rows(app)[0][0] == "X" and rows(app)[1][0] == " "
        await press(app, pilot, "a")
        assert isinstance(app.screen, ChoiceScreen)
        await press(app, pilot, "d")
        assert "2 messages deleted" in status(app)
        view = index.view
        assert view is not None
        for uid in index.selected:
            envelope = view.cached(uid)
            assert envelope is not None and Flag.DELETED in envelope.flags
        await press(app, pilot, "semicolon", "u")
        assert not index.selected

    run_index(make_session(maildir, tmp_path), scenario)


def test_opening_reads_only_about_a_screenful(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    maildir = tmp_path / "Maildir"
    fill_maildir(maildir, 2500, seed=4)
    asked: list[int] = []
    real = MaildirFolder.envelopes

    def counting(self: MaildirFolder, uids: Sequence[int]) -> list[Envelope]:
        asked.extend(uids)
        return real(self, uids)

    monkeypatch.setattr(MaildirFolder, "envelopes", counting)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        index = index_of(app)
        height = index.scrollable_content_region.height
        assert index.count == 2500 and index.cursor == 2499
        assert 0 < len(asked) <= 2 * height
        view = index.view
        assert view is not None
        last_page = set(view.order.uids[-2 * height :])
        assert set(asked) <= last_page
        await press(app, pilot, "home")
        assert len(asked) <= 4 * height and view.uid_at(0) in asked
        assert all("..." not in line for line in drawn(app))

    run_index(make_session(maildir, tmp_path), scenario)


def test_quit_asks_first(tmp_path: Path) -> None:
    maildir, _ = filled_maildir(tmp_path, 3)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "q")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Really quit pinesh?" in str(app.screen.query_one(Static).render())
        await press(app, pilot, "n")
        assert isinstance(app.screen, IndexScreen)
        await pilot.press("q", "y")
        await pilot.pause()
        assert not app.is_running

    run_index(make_session(maildir, tmp_path), scenario)


def test_quit_without_confirm_in_the_pinerc_quits_at_once(tmp_path: Path) -> None:
    maildir, _ = filled_maildir(tmp_path, 3)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running

    extra = "feature-list=enable-aggregate-command-set,quit-without-confirm"
    run_index(make_session(maildir, tmp_path, extra), scenario)


def test_l_in_the_index_opens_the_folder_list(tmp_path: Path) -> None:
    maildir, _ = filled_maildir(tmp_path, 3)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "l")
        assert type(app.screen).__name__ == "FolderListScreen"

    run_index(make_session(maildir, tmp_path), scenario)


def test_a_folder_that_cannot_open_says_why(tmp_path: Path) -> None:
    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        error = status(app)
        assert error.startswith("no folder") and "nowhere" in error and "(check the name" in error
        await press(app, pilot, "d")
        assert status(app) == error

    run_index(make_session(tmp_path / "Maildir", tmp_path), scenario, folder="#md/nowhere")


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
