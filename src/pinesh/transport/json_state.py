"""A small JSON state file (a dict), read leniently and rewritten atomically under a lock."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pinesh.filelock import flock_until

LOCK_WAIT = 2.0  # seconds to wait for another writer before giving up this write


def read_state(path: Path) -> dict[str, Any]:
    """The dict in path; empty when the file is missing, damaged or not a dict."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@contextlib.contextmanager
def locked_state(path: Path) -> Iterator[dict[str, Any]]:
    """The dict in path to change in the with block; written back atomically after it.

    An flock on path.lock serialises writers (several pinesh processes at once). The
    state is a hint (which route worked): when another writer holds the lock past
    LOCK_WAIT, the block still runs on what the file holds, and this change is dropped
    rather than making a connection wait on a stuck peer.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:
        locked = flock_until(lock.fileno(), time.monotonic() + LOCK_WAIT)
        data = read_state(path)
        yield data
        if not locked:
            return
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.replace(path)
