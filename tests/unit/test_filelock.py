from __future__ import annotations

import os
import time
from pathlib import Path

from pinesh.filelock import flock_until, poll_until, try_flock


def test_an_attempt_is_made_even_after_the_deadline() -> None:
    calls: list[float] = []

    def attempt() -> bool:
        calls.append(time.monotonic())
        return False

    assert not poll_until(attempt, time.monotonic() - 1)
    assert len(calls) == 1


def test_polling_stops_at_the_first_success() -> None:
    answers = iter([False, False, True])
    assert poll_until(lambda: next(answers), time.monotonic() + 5, pauses=(0.001,))


def test_a_held_flock_is_waited_for_until_the_deadline(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    holder = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    waiter = os.open(path, os.O_RDWR)
    try:
        assert try_flock(holder)
        began = time.monotonic()
        assert not flock_until(waiter, began + 0.1)
        assert time.monotonic() - began >= 0.1
        assert flock_until(holder, began, shared=True)  # our own lock: converted at once
        assert flock_until(waiter, time.monotonic() + 1, shared=True)  # shared with it
        os.close(holder)
        holder = -1
        assert flock_until(waiter, time.monotonic() + 1)
    finally:
        for fd in (holder, waiter):
            if fd >= 0:
                os.close(fd)
