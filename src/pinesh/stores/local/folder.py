"""What the folders in local files (Maildir, mbox) share, written once.

LocalFolder is a Folder whose UIDs are our own and given out in arrival order, whose
sort and thread come from stores.ordering, search from stores.search and MIME from
stores.mime_structure, over the envelopes and messages the driver reads, and whose
check() polls the files. A driver gives uids() (arrival
order), envelopes(), fetch_message() and _poll() (look at the files once, setting
_arrived when new mail came). sync_directory() is for their writers, new_uidvalidity()
for their opens, pattern_regex() for their stores' LIST.
"""

from __future__ import annotations

import abc
import contextlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Self

from pinesh.stores.base import (
    Capability,
    Envelope,
    Folder,
    Part,
    SearchQuery,
    SortKey,
    StoreError,
    ThreadNode,
    poll,
)
from pinesh.stores.mime_structure import mime_structure, part_content
from pinesh.stores.ordering import sort_uids, thread_envelopes
from pinesh.stores.search import search_uids
from pinesh.textsafe import safe_line

POLL_SECONDS = 0.5  # check(timeout) looks at the files this often


class LocalFolder(Folder):
    """A folder in local files. Not thread-safe (see Folder)."""

    path: Path
    read_only: bool
    _arrived: bool  # UIDs given out since the last check()

    def __init__(self, path: Path, read_only: bool, name: str | None) -> None:
        self.path = Path(path)
        self.name = name or str(path)
        self.read_only = read_only
        self.capabilities = Capability.NONE if read_only else Capability.APPEND | Capability.EXPUNGE
        self._arrived = False

    def __enter__(self) -> Self:
        return self

    def _shown(self) -> str:
        return safe_line(self.name)

    def _writable(self, what: str) -> None:
        if self.read_only:
            raise StoreError(
                f"cannot {what}: {self._shown()} is open read-only",
                hint="open the folder for writing",
            )

    def _gone(self, uid: int) -> StoreError:
        return StoreError(
            f"message {uid} is no longer in {self._shown()}",
            hint="another program removed it; the index shows what is left",
        )

    # -- sort, thread, search and MIME, here over the envelopes

    def _all(self) -> list[Envelope]:
        return self.envelopes(self.uids())

    def sort(self, key: SortKey, reverse: bool = False) -> list[int]:
        if key is SortKey.ARRIVAL:  # uids() are in arrival order: nothing to read
            uids = self.uids()
            return uids[::-1] if reverse else uids
        return sort_uids(self._all(), key, reverse)

    def thread(self) -> list[ThreadNode]:
        return thread_envelopes(self._all())

    def search(self, query: SearchQuery) -> list[int]:
        return search_uids(self._all(), query, self.fetch_message)

    def structure(self, uid: int) -> Part:
        return mime_structure(self.fetch_message(uid))

    def fetch_part(self, uid: int, part_id: str) -> Iterator[bytes]:
        chunks = part_content(self.fetch_message(uid), part_id)
        if chunks is None:
            raise StoreError(
                f"message {uid} in {self._shown()} has no part {safe_line(part_id)}",
                hint="reload the message's structure",
            )
        return chunks

    # -- new mail

    @abc.abstractmethod
    def _poll(self) -> None:
        """Look at the files once (setting _arrived if messages arrived)."""

    def check(self, timeout: float = 0.0) -> bool:
        """Look for new mail, every POLL_SECONDS up to timeout."""
        return poll(self._arrivals, timeout, POLL_SECONDS)

    def _arrivals(self) -> bool:
        """Whether messages arrived since the last check() (looking at the files once)."""
        self._poll()
        arrived, self._arrived = self._arrived, False
        return arrived


def sync_directory(path: Path) -> None:
    """fsync a directory, so that a new name in it survives a crash."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_last_validity = 0


def new_uidvalidity() -> int:
    """A UIDVALIDITY for a new open: the time, made to grow within one process."""
    global _last_validity
    _last_validity = max(int(time.time()) & 0x7FFFFFFF, _last_validity + 1)
    return _last_validity


def pattern_regex(pattern: str, delimiter: str) -> re.Pattern[str]:
    """An IMAP LIST pattern: '*' matches anything, '%' anything but the delimiter."""
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "%":
            out.append(f"[^{re.escape(delimiter)}]*")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out) + r"\Z", re.DOTALL)
