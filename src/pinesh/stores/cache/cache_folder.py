"""An IMAP mailbox as its header cache last saw it: a Folder that needs no server.

Two uses: the index paints from it before the server has answered (then the view moves to
the live ImapFolder), and it stays the folder while the server cannot be reached
(offline). It reads what the cache holds: every UID, their last known flags, the
envelopes and structures read before, and the message text read before (bounded, see
header_cache). A flag change is kept in the cache as a pending change, applied to the
server when the folder is next opened there (ImapFolder replays them). What needs the
server (a part never read, expunging, appending, searching text) fails with a StoreError
that says so.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from datetime import datetime

from pinesh.stores.base import (
    Capability,
    Envelope,
    FirstLook,
    Flag,
    Folder,
    FolderStatus,
    Part,
    SearchQuery,
    SortKey,
    StoreError,
    ThreadNode,
)
from pinesh.stores.cache.header_cache import MailboxCache
from pinesh.stores.ordering import internal_time, sort_uids, thread_envelopes
from pinesh.textsafe import safe_line

ENVELOPE_BATCH = 5000  # envelopes read from the cache per query (sorting reads them all)


def _compact(uids: list[int]) -> Sequence[int]:
    """An array('I') of uids (4 bytes each); a tuple if one does not fit (no IMAP UID)."""
    try:
        return array("I", uids)
    except OverflowError:
        return tuple(uids)


class CacheFolder(Folder):
    """One IMAP mailbox read from its cache; `reason` says why it is not live."""

    capabilities = Capability.NONE

    def __init__(self, label: str, cache: MailboxCache, reason: str) -> None:
        """label names the mailbox in messages ("IMAP server {host} INBOX"); reason is
        safe to show: "not yet confirmed by the server", "offline: connection refused"."""
        self.name = cache.name
        self.label = label
        self.reason = reason
        self._cache = cache

    read_only = False  # flag changes are kept (pending) and sent later

    def _needs_server(self, what: str) -> StoreError:
        return StoreError(
            f"{self.label}: cannot {what} from the cache ({safe_line(self.reason)})",
            hint="it needs the server; try again when it can be reached",
        )

    # ---- reading

    def status(self) -> FolderStatus:
        state = self._cache.state()
        return FolderStatus(
            name=self.name,
            count=len(self._cache.uids()),
            recent=0,
            unseen=self._cache.unseen_count(),
            uidvalidity=state.uidvalidity if state is not None else 0,
            uidnext=state.uidnext if state is not None else None,
            read_only=False,
        )

    def first_look(self) -> FirstLook | None:
        # The UIDs as C ints, read one list at a time: a million as Python ints cost
        # 36 MB, which the index would otherwise hold (and a tuple copy beside them).
        uids = _compact(self._cache.uids())
        unseen = _compact(self._cache.unseen())
        state = self._cache.state()
        status = FolderStatus(
            name=self.name,
            count=len(uids),
            recent=0,
            unseen=len(unseen),
            uidvalidity=state.uidvalidity if state is not None else 0,
            uidnext=state.uidnext if state is not None else None,
        )
        return FirstLook(status, uids, unseen)

    def uids(self) -> list[int]:
        return self._cache.uids()

    def envelopes(self, uids: Sequence[int]) -> list[Envelope]:
        found = self._cache.envelopes(uids)
        return [found[u] for u in uids if u in found]

    def _all_envelopes(self) -> tuple[list[Envelope], list[int]]:
        """Every cached envelope, and the UIDs whose envelope was never read."""
        uids = self._cache.uids()
        found: list[Envelope] = []
        for start in range(0, len(uids), ENVELOPE_BATCH):
            found.extend(self.envelopes(uids[start : start + ENVELOPE_BATCH]))
        known = {e.uid for e in found}
        return found, [u for u in uids if u not in known]

    def sort(self, key: SortKey, reverse: bool = False) -> list[int]:
        # Messages never read have no envelope here: they stand first, in arrival order,
        # as messages without a date do in a local sort.
        found, unread = self._all_envelopes()
        ordered = sort_uids(found, key, reverse, arrival=internal_time)
        return unread + ordered if not reverse else ordered + unread[::-1]

    def thread(self) -> list[ThreadNode]:
        found, unread = self._all_envelopes()
        return [ThreadNode(u) for u in unread] + thread_envelopes(found)

    def structure(self, uid: int) -> Part:
        part = self._cache.structure(uid)
        if part is None:
            raise self._not_kept(uid)
        return part

    def _not_kept(self, uid: int) -> StoreError:
        return StoreError(
            f"{self.label}: message UID {uid} was not read before, so it is not kept "
            f"for reading without the server ({safe_line(self.reason)})",
            hint="it can be read when the server is reachable again",
        )

    def fetch_part(self, uid: int, part_id: str) -> Iterator[bytes]:
        data = self._cache.part(uid, part_id)
        if data is None:
            raise self._not_kept(uid)
        return iter((data,))

    def fetch_message(self, uid: int) -> bytes:
        data = self._cache.part(uid, "")
        if data is None:
            raise self._not_kept(uid)
        return data

    def search(self, query: SearchQuery) -> list[int]:
        # Flags are known for every message; anything else needs the texts, on the server.
        if query != SearchQuery(flags=query.flags, not_flags=query.not_flags):
            raise self._needs_server("search")
        uids = self._cache.uids()
        flags = self._cache.flags(uids)
        empty: frozenset[Flag] = frozenset()
        return [
            u
            for u in uids
            if query.flags <= flags.get(u, empty) and not query.not_flags & flags.get(u, empty)
        ]

    # ---- changing

    def set_flags(self, uids: Sequence[int], flags: frozenset[Flag], value: bool) -> None:
        targets = tuple(dict.fromkeys(u for u in uids if u > 0))
        if targets and flags and not self._cache.add_pending(targets, frozenset(flags), value):
            # The cache went off (disk full, a broken file): say so, never drop it silently.
            raise StoreError(
                f"{self.label}: the flag change could not be kept for later "
                f"({safe_line(self._cache.problem or 'the header cache is off')})",
                hint="make it again when the server can be reached",
            )

    def append(
        self, message: bytes, flags: frozenset[Flag] = frozenset(), date: datetime | None = None
    ) -> int | None:
        raise self._needs_server("save a message into it")

    def expunge(self) -> list[int]:
        raise self._needs_server("expunge")

    def check(self, timeout: float = 0.0) -> bool:
        return False

    def close(self) -> None:
        """Nothing to close: the session owns the cache file."""
