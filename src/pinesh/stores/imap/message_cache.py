"""What an IMAP folder keeps of its messages in memory, by UID: envelopes and structures.

Both are bounded: envelopes drop the least recently used first, structures the oldest
first. The folder clears it all when UIDVALIDITY changes or the server reports expunges
or flag changes of its own (a UID may then name another message, or stale flags).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import replace

from pinesh.stores.base import Envelope, Flag, Part

ENVELOPE_CACHE = 20_000  # envelopes kept per folder (least recently used go first)
STRUCTURE_CACHE = 64


class MessageCache:
    """Envelopes and BODYSTRUCTUREs of one folder's messages, by UID."""

    def __init__(self) -> None:
        self._envelopes: OrderedDict[int, Envelope] = OrderedDict()
        self._structures: OrderedDict[int, Part] = OrderedDict()

    def clear(self) -> None:
        self._envelopes.clear()
        self._structures.clear()

    def forget(self, uids: Iterable[int]) -> None:
        """Drop what is kept of these messages (they are gone)."""
        for uid in uids:
            self._envelopes.pop(uid, None)
            self._structures.pop(uid, None)

    def envelopes(self, uids: Sequence[int]) -> dict[int, Envelope]:
        """The envelopes kept of these UIDs (a new dict; the cache's order is untouched)."""
        return {u: self._envelopes[u] for u in uids if u in self._envelopes}

    def remember(self, envelope: Envelope) -> None:
        self._envelopes[envelope.uid] = envelope
        self._envelopes.move_to_end(envelope.uid)
        while len(self._envelopes) > ENVELOPE_CACHE:
            self._envelopes.popitem(last=False)

    def touch(self, uids: Iterable[int]) -> None:
        """Mark these envelopes (those kept) as the most recently used, in this order."""
        for uid in uids:
            if uid in self._envelopes:
                self._envelopes.move_to_end(uid)

    def change_flags(self, uids: Iterable[int], flags: frozenset[Flag], value: bool) -> None:
        """Set (value True) or clear flags in the kept envelopes of uids."""
        for uid in uids:
            cached = self._envelopes.get(uid)
            if cached is not None:
                now = cached.flags | flags if value else cached.flags - flags
                self._envelopes[uid] = replace(cached, flags=frozenset(now))

    def set_flags(self, flags_by_uid: dict[int, frozenset[Flag]]) -> None:
        """Put the flags the server reported into the kept envelopes."""
        for uid, now in flags_by_uid.items():
            cached = self._envelopes.get(uid)
            if cached is not None:
                self._envelopes[uid] = replace(cached, flags=now)

    def structure(self, uid: int) -> Part | None:
        return self._structures.get(uid)

    def remember_structure(self, uid: int, part: Part) -> None:
        self._structures[uid] = part
        while len(self._structures) > STRUCTURE_CACHE:
            self._structures.popitem(last=False)
