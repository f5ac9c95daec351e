"""The shared JSON state file: changes under a lock, and no wait on a stuck writer."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

import pytest

from pinesh.transport import json_state
from pinesh.transport.json_state import locked_state, read_state


def test_a_change_is_written_back(tmp_path: Path) -> None:
    path = tmp_path / "state" / "routes.json"
    with locked_state(path) as data:
        data["imap:mail.example.org"] = {"good": "ssh"}
    assert read_state(path) == {"imap:mail.example.org": {"good": "ssh"}}
    assert json.loads(path.read_text()) == {"imap:mail.example.org": {"good": "ssh"}}


def test_a_lock_held_elsewhere_drops_the_change_instead_of_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "routes.json"
    path.write_text('{"kept": 1}')
    monkeypatch.setattr(json_state, "LOCK_WAIT", 0.05)
    with open(path.with_suffix(".lock"), "a") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)  # another open file description: another writer
        with locked_state(path) as data:
            assert data == {"kept": 1}  # the block still sees what the file holds
            data["lost"] = 2
    assert read_state(path) == {"kept": 1}
