"""What closing INBOX's index does: Pine's read-message-folder, with auto-move-read-msgs."""

from __future__ import annotations

import asyncio
import mailbox
import threading
from pathlib import Path

import pytest
from textual.pilot import Pilot

from pinesh.ui.app import PineshApp
from tests.ui.test_index_screen import make_session, press, run_index
from tests.unit.test_folder_view import _seen_and_new


def _closed() -> None:
    for thread in threading.enumerate():
        if thread.name == "pinesh-close-folder":
            thread.join(10)


@pytest.mark.parametrize(("features", "moved"), [("auto-move-read-msgs", ["m1", "m3"]), ("", [])])
def test_leaving_inbox_moves_its_read_messages_with_auto_move(
    features: str, moved: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    maildir = _seen_and_new(tmp_path)
    rc = f"read-message-folder=read-messages\nfeature-list={features}\n"

    told: list[str] = []

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "m")  # back to the MAIN MENU: the index closes
        await asyncio.to_thread(_closed)
        await pilot.pause()
        told.extend(str(n.message) for n in app._notifications)

    run_index(make_session(maildir, tmp_path, rc), scenario)
    _closed()
    # The move is said, not done silently.
    assert ("2 read messages moved to read-messages" in told) is bool(moved)
    kept = tmp_path / "mail" / "read-messages"
    if moved:
        assert sorted(m["Subject"] for m in mailbox.mbox(kept)) == moved
    else:
        assert not kept.exists()  # without the feature Pine asks; pinesh moves nothing


def test_read_messages_that_cannot_be_moved_are_said_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    maildir = _seen_and_new(tmp_path)
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where a directory should be\n")
    rc = f"read-message-folder={blocked}/read\nfeature-list=auto-move-read-msgs\n"
    told: list[str] = []

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "m")
        await asyncio.to_thread(_closed)
        await pilot.pause()
        told.extend(str(n.message) for n in app._notifications)

    run_index(make_session(maildir, tmp_path, rc), scenario)
    _closed()
    assert any(t.startswith(f"Read messages not moved to {blocked}/read: ") for t in told), told
