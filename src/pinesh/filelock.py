"""Waiting for a file lock with a deadline: poll a non-blocking attempt, never block.

A blocking lock call waits for as long as its holder likes: a stuck peer would hang pinesh.
Every lock of the program (the ssh master and forward locks, the mailbox's kernel locks,
the address book, the client fork server) is therefore taken by polling a non-blocking
attempt until a deadline on the time.monotonic() clock.
"""

from __future__ import annotations

import fcntl
import itertools
import time
from collections.abc import Callable, Sequence

BACKOFF = (0.01, 0.02, 0.05)  # seconds between attempts; the last one repeats


def poll_until(
    attempt: Callable[[], bool], deadline: float, pauses: Sequence[float] = BACKOFF
) -> bool:
    """Call attempt until it returns True (then True) or deadline passes (then False).

    attempt runs at least once, and once more after each pause; exceptions it raises pass
    up unchanged.
    """
    for pause in itertools.chain(pauses, itertools.repeat(pauses[-1])):
        if attempt():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(pause)
    raise AssertionError("unreachable: the pauses never end")


def try_flock(fd: int, *, shared: bool = False) -> bool:
    """One non-blocking attempt at an flock on fd: False when another holder has it.

    Other OSErrors pass up (a file system without flock says ENOLCK or EINVAL).
    """
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def flock_until(
    fd: int, deadline: float, *, shared: bool = False, pauses: Sequence[float] = BACKOFF
) -> bool:
    """Take an flock on fd, polling until deadline: False when it stays taken.

    The lock lasts until it is released or every descriptor of this open file is closed.
    """
    return poll_until(lambda: try_flock(fd, shared=shared), deadline, pauses)
