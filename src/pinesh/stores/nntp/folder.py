"""An open newsgroup as a Folder: article numbers are UIDs.

- The folder runs its commands through its news server (NntpStore, as a GroupServer), on
  the store's one connection and under its lock. A folder's own caches are not locked:
  one folder object is used by one thread at a time (services.folder_view).
- UIDVALIDITY is a CRC-32 of the group's name: fixed per group. INN renumbers a group
  only when its admin says so, and then the marks in ~/.newsrc are wrong anyway.
- SEEN comes from ~/.newsrc: set_flags(SEEN) changes the group's read ranges in memory,
  written on flush() and close() (never for a folder opened read-only). Other flags
  (FLAGGED, ANSWERED, DELETED...) live in memory for the session only: news has nowhere
  to keep them.
- Sort, thread (by References) and search run here over the envelopes, which come from
  OVER/XOVER for the window asked (cached), else from HEAD.
- Nothing can be appended (news is posted: NntpStore.post). expunge() does what Pine
  does with deleted news: marks the articles read and hides them for the session.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol, TypeVar

from pinesh.stores.base import (
    Capability,
    Envelope,
    Flag,
    Folder,
    FolderStatus,
    Part,
    SearchQuery,
    SortKey,
    StoreError,
    ThreadNode,
    Unsupported,
    poll,
)
from pinesh.stores.headers import (
    decode_words,
    envelope_from_headers,
    header_end,
    parse_header_block,
)
from pinesh.stores.mime_structure import mime_structure, part_content
from pinesh.stores.nntp import newsrc as marks
from pinesh.stores.nntp.client import NntpClient
from pinesh.stores.nntp.protocol import GroupInfo, Overview, overview_headers
from pinesh.stores.ordering import sort_uids, thread_envelopes
from pinesh.stores.search import envelope_matches, message_matches, needs_message
from pinesh.textsafe import safe_line
from pinesh.transport.channel import Channel

T = TypeVar("T")

POLL_SECONDS = 2.0  # check(timeout) re-asks GROUP this often: NNTP cannot push news
OVER_GAP = 64  # wanted numbers this close together share one OVER range
ARTICLE_CACHE = 8  # whole articles kept (structure, then parts, then the source)
MAX_RANGE_UIDS = 1_000_000  # without LISTGROUP, at most the newest this many numbers


def uidvalidity_for(group: str) -> int:
    """A group's UIDVALIDITY: CRC-32 of its name (never 0)."""
    return zlib.crc32(group.encode("utf-8")) or 1


class GroupServer(Protocol):
    """What a group needs of its news server (NntpStore): the shared connection, run under
    the server's lock, and the group's read marks in ~/.newsrc."""

    @property
    def channel(self) -> Channel | None: ...

    @property
    def label(self) -> str: ...

    def run(self, action: Callable[[NntpClient], T]) -> T: ...

    def in_group(self, group: str, action: Callable[[NntpClient], T]) -> T: ...

    def read_marks(self, group: str) -> marks.Ranges: ...

    def save_read(self, group: str, read: marks.Ranges) -> None: ...


class NntpFolder(Folder):
    """An open newsgroup. Article numbers are UIDs; see the module's notes."""

    capabilities = Capability.POST

    def __init__(self, store: GroupServer, name: str, info: GroupInfo, read_only: bool) -> None:
        self.store = store
        self.name = name
        self.read_only = read_only
        self._info = info
        self._high_seen = info.high
        self._read = store.read_marks(name)
        self._dirty = False
        self._flags: dict[int, set[Flag]] = {}
        self._envelopes: dict[int, Envelope] = {}  # flags left empty: added when returned
        self._gone: set[int] = set()  # numbers HEAD says are not there
        self._hidden: set[int] = set()  # expunged for this session
        self._uids: list[int] | None = None
        self._articles: OrderedDict[int, bytes] = OrderedDict()

    @property
    def channel(self) -> Channel | None:
        """The store's current channel (for the status line: channel.describe()), or None."""
        return self.store.channel

    def _run(self, action: Callable[[NntpClient], T]) -> T:
        return self.store.in_group(self.name, action)

    def _over(self, low: int, high: int) -> list[Overview] | None:
        return self._run(lambda c: c.over(low, high))

    def _fetch(self, verb: str, uid: int) -> bytes | None:
        return self._run(lambda c: c.fetch(verb, uid))

    def _regroup(self) -> GroupInfo:
        self._info = self.store.run(lambda c: c.group(self.name))
        return self._info

    # status and numbers

    def status(self) -> FolderStatus:
        info = self._regroup()
        if self._uids is not None and info.high <= self._high_seen:
            uids = self.uids()
            count = len(uids)
            unseen = sum(1 for u in uids if not marks.contains(self._read, u))
        elif info.empty:
            count = unseen = 0
        else:
            count = info.count
            unseen = max(0, count - marks.count_within(self._read, info.low, info.high))
        return FolderStatus(
            self.name,
            count=count,
            recent=0,
            unseen=unseen,
            uidvalidity=uidvalidity_for(self.name),
            uidnext=info.high + 1,
            read_only=self.read_only,
        )

    def uids(self) -> list[int]:
        if self._uids is None:
            numbers = self.store.run(lambda c: c.listgroup(self.name))
            if numbers is None:
                info = self._regroup()
                low = max(info.low, info.high - MAX_RANGE_UIDS + 1)
                numbers = [] if info.empty else list(range(low, info.high + 1))
            self._uids = numbers
            if numbers:
                self._high_seen = max(self._high_seen, numbers[-1])
        return [u for u in self._uids if u not in self._hidden and u not in self._gone]

    # envelopes and flags

    def _flags_of(self, uid: int) -> frozenset[Flag]:
        flags = set(self._flags.get(uid, ()))
        if marks.contains(self._read, uid):
            flags.add(Flag.SEEN)
        return frozenset(flags)

    def envelopes(self, uids: Sequence[int]) -> list[Envelope]:
        missing = sorted({u for u in uids if u not in self._envelopes and u not in self._gone})
        if missing:
            self._load(missing)
        return [
            replace(self._envelopes[u], flags=self._flags_of(u))
            for u in uids
            if u in self._envelopes and u not in self._hidden
        ]

    def _load(self, numbers: list[int]) -> None:
        """Envelopes by OVER in runs of close numbers; HEAD for what OVER did not give."""
        for low, high in _runs(numbers, OVER_GAP):
            overs = self._over(low, high)
            if overs is None:
                break
            for over in overs:
                self._envelopes[over.number] = envelope_from_headers(
                    over.number, overview_headers(over), over.size, frozenset()
                )
        for number in numbers:
            if number in self._envelopes:
                continue
            head = self._fetch("HEAD", number)
            if head is None:
                self._gone.add(number)
            else:
                self._envelopes[number] = envelope_from_headers(number, head, 0, frozenset())

    def set_flags(self, uids: Sequence[int], flags: frozenset[Flag], value: bool) -> None:
        if Flag.SEEN in flags:
            change = marks.ranges_of(uids)
            self._read = (
                marks.add(self._read, change) if value else marks.remove(self._read, change)
            )
            self._dirty = True
        for flag in flags - {Flag.SEEN}:
            for uid in uids:
                held = self._flags.setdefault(uid, set())
                if value:
                    held.add(flag)
                else:
                    held.discard(flag)

    def flush(self) -> None:
        """Write the read marks to ~/.newsrc (not for a folder opened read-only)."""
        if self._dirty and not self.read_only:
            self.store.save_read(self.name, self._read)
        self._dirty = False

    # local sort, thread, search

    def _all(self) -> list[Envelope]:
        return self.envelopes(self.uids())

    def sort(self, key: SortKey, reverse: bool = False) -> list[int]:
        return sort_uids(self._all(), key, reverse)

    def thread(self) -> list[ThreadNode]:
        return thread_envelopes(self._all())

    def search(self, query: SearchQuery) -> list[int]:
        on_envelope = replace(query, to=None)  # To is matched in the article (see there)
        needs_source = query.to is not None or needs_message(query)
        return [
            envelope.uid
            for envelope in self._all()
            if envelope_matches(envelope, on_envelope)
            and (not needs_source or source_matches(self.fetch_message(envelope.uid), query))
        ]

    # articles

    def fetch_message(self, uid: int) -> bytes:
        if uid in self._articles:
            self._articles.move_to_end(uid)
            return self._articles[uid]
        article = None if uid in self._gone else self._fetch("ARTICLE", uid)
        if article is None:
            self._gone.add(uid)
            raise StoreError(
                f"article {uid} is no longer in {self.name} on {self.store.label}",
                hint="it expired or was cancelled; check the group for new articles",
            )
        self._articles[uid] = article
        while len(self._articles) > ARTICLE_CACHE:
            self._articles.popitem(last=False)
        return article

    def structure(self, uid: int) -> Part:
        return mime_structure(self.fetch_message(uid))

    def fetch_part(self, uid: int, part_id: str) -> Iterator[bytes]:
        # NNTP cannot fetch part of an article: ARTICLE reads it whole (at most MAX_BLOCK)
        # under the store's lock in fetch_message, and the chunks below come from memory,
        # so nothing is read from the connection while this generator waits between them.
        chunks = part_content(self.fetch_message(uid), part_id)  # "": the whole article
        if chunks is None:
            raise StoreError(f"article {uid} in {self.name} has no part {safe_line(part_id)}")
        yield from chunks

    # what news cannot do, and what it does instead

    def append(
        self, message: bytes, flags: frozenset[Flag] = frozenset(), date: datetime | None = None
    ) -> int | None:
        raise Unsupported(
            f"cannot append to the newsgroup {self.name}: news is posted, not appended"
        )

    def expunge(self) -> list[int]:
        """Pine's way with deleted news: mark them read and hide them for this session."""
        deleted = sorted(u for u, f in self._flags.items() if Flag.DELETED in f)
        deleted = [u for u in deleted if u not in self._hidden]
        if deleted:
            self.set_flags(deleted, frozenset({Flag.SEEN}), True)
            self._hidden.update(deleted)
        return deleted

    def check(self, timeout: float = 0.0) -> bool:
        """Whether new articles arrived (GROUP again, every POLL_SECONDS up to timeout)."""
        return poll(self._arrivals, timeout, POLL_SECONDS)

    def _arrivals(self) -> bool:
        info = self._regroup()
        if info.high <= self._high_seen:
            return False
        self._high_seen = info.high
        self._uids = None
        return True

    def close(self) -> None:
        """Write the read marks; the store keeps its connection for other groups."""
        self.flush()
        self._articles.clear()


def _runs(numbers: list[int], gap: int) -> list[tuple[int, int]]:
    """Sorted numbers as (low, high) runs, joining numbers at most gap apart."""
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and n - runs[-1][1] <= gap:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


# --- search over articles -----------------------------------------------------------------


def source_matches(article: bytes, query: SearchQuery) -> bool:
    """The parts of a query that need the article: To (or Cc: OVER carries neither), the
    body, text anywhere."""
    if query.to is not None:
        headers = parse_header_block(article[: header_end(article)])
        values = headers.get_all("To", []) + headers.get_all("Cc", [])
        if query.to.casefold() not in " ".join(decode_words(v) for v in values).casefold():
            return False
    return message_matches(article, query)
