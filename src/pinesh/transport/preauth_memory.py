"""Per ssh login, the preauthenticated IMAP server found on the host by a probe.

JSON in the state directory (``preauth.json``), written atomically under a lock, since
several `pinesh connect` runs may find and record at once.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pinesh.transport.json_state import locked_state, read_state


class PreauthMemory:
    """Which remote command served preauthenticated IMAP, per ssh login (user@host:port)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, Any]:
        return read_state(self.path)

    def _locked(self) -> contextlib.AbstractContextManager[dict[str, Any]]:
        return locked_state(self.path)

    def command(self, login: str) -> tuple[str, ...] | None:
        """The remembered command for login, or None (also for an entry of the wrong shape)."""
        entry = self._read().get(login)
        command = entry.get("command") if isinstance(entry, dict) else None
        if isinstance(command, list) and command and all(isinstance(w, str) for w in command):
            return tuple(command)
        return None

    def remember(self, login: str, command: Sequence[str]) -> None:
        with self._locked() as data:
            data[login] = {"command": list(command), "found": time.time()}

    def forget(self, login: str) -> None:
        with self._locked() as data:
            data.pop(login, None)
