"""Expunge from the index: one question, then the cursor and the title on what is left."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.pilot import Pilot

from pinesh.services.folder_view import FolderView
from pinesh.ui.app import PineshApp
from tests.ui.test_index_screen import (
    drawn,
    index_of,
    make_session,
    press,
    run_index,
    settle,
    stack,
    status,
    title,
)
from tests.ui.test_message_screen import maildir_with


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


def test_expunge_without_confirm_expunges_without_asking(tmp_path: Path) -> None:
    maildir = plain_maildir(tmp_path, 4)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "home", "d")
        await press(app, pilot, "x")
        assert "ConfirmScreen" not in stack(app)
        assert "1 message expunged" in status(app)
        assert index_of(app).count == 3

    run_index(make_session(maildir, tmp_path, "feature-list=expunge-without-confirm\n"), scenario)


def test_delete_skips_deleted_moves_past_messages_marked_deleted(tmp_path: Path) -> None:
    maildir = plain_maildir(tmp_path, 6)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        index = index_of(app)
        await press(app, pilot, "home", "down", "d", "d", "home")  # 2, 3 deleted; on 1
        assert index.cursor == 0
        await press(app, pilot, "d")  # 1 deleted: on to 4, past 2 and 3
        assert index.cursor == 3

    run_index(make_session(maildir, tmp_path, "feature-list=delete-skips-deleted\n"), scenario)


def test_without_delete_skips_deleted_d_moves_to_the_next_message(tmp_path: Path) -> None:
    maildir = plain_maildir(tmp_path, 6)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        index = index_of(app)
        await press(app, pilot, "home", "down", "d", "d", "home")
        await press(app, pilot, "d")
        assert index.cursor == 1

    run_index(make_session(maildir, tmp_path), scenario)
