"""News through NNTP as a Store: newsgroups are folders, article numbers are UIDs.

- One connection per store (opened when first needed, reopened once if it was lost);
  folders share it and re-select their group (GROUP) when another one was used last.
- Threads: the UI's workers call the store and its folders at once (the folder list
  counts groups while the index reads one). Every exchange on the connection, and the
  GROUP that selects the group it needs, runs under the store's one lock (see run());
  ~/.newsrc's read-modify-write has a lock of its own. A folder's own caches are not
  locked: one folder object is used by one thread at a time (services.folder_view).
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
- ~/.newsrc is rewritten atomically (temporary file, then rename), keeping every line
  it does not change, in order; before each write it is read again, so only the group
  written changes.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
import weakref
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from pinesh.errors import PineshError
from pinesh.stores.base import (
    Capability,
    Envelope,
    Flag,
    Folder,
    FolderInfo,
    FolderStatus,
    Part,
    SearchQuery,
    SortKey,
    Store,
    StoreError,
    ThreadNode,
    Unsupported,
    poll,
)
from pinesh.stores.headers import (
    decode_words,
    envelope_from_headers,
    header_end,
    message_ids,
    parse_header_block,
)
from pinesh.stores.mime_structure import mime_structure, part_content
from pinesh.stores.nntp import newsrc as marks
from pinesh.stores.nntp.newsrc import Newsrc, format_newsrc, parse_newsrc
from pinesh.stores.nntp.protocol import (
    ConnectionLost,
    GroupInfo,
    NntpClient,
    Overview,
    Reply,
    overview_headers,
    pattern_matches,
    valid_group_name,
    wildmat,
)
from pinesh.stores.ordering import sort_uids, thread_envelopes
from pinesh.stores.search import envelope_matches, message_matches, needs_message
from pinesh.textsafe import safe_line
from pinesh.transport.channel import Channel
from pinesh.transport.opener import RouteError
from pinesh.transport.service import Service

T = TypeVar("T")

POLL_SECONDS = 2.0  # check(timeout) re-asks GROUP this often: NNTP cannot push news
OVER_GAP = 64  # wanted numbers this close together share one OVER range
ARTICLE_CACHE = 8  # whole articles kept (structure, then parts, then the source)
MAX_RANGE_UIDS = 1_000_000  # without LISTGROUP, at most the newest this many numbers


def uidvalidity_for(group: str) -> int:
    """A group's UIDVALIDITY: CRC-32 of its name (never 0)."""
    return zlib.crc32(group.encode("utf-8")) or 1


@dataclass(frozen=True)
class NewsgroupInfo(FolderInfo):
    """A newsgroup in a listing: whether ~/.newsrc subscribes to it, and its LIST status."""

    subscribed: bool = False
    status: str = "y"  # y: posting ok, n: no posting, m: moderated, ...


# --- ~/.newsrc on disk --------------------------------------------------------------------


def read_newsrc(path: Path) -> Newsrc:
    """The newsrc at path (missing: empty)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Newsrc()
    except OSError as exc:
        raise StoreError(
            f"cannot read {path}: {exc.strerror or exc}", hint="check its permissions"
        ) from exc
    return parse_newsrc(data.decode("utf-8", "surrogateescape"))


def write_newsrc(path: Path, newsrc: Newsrc) -> None:
    """Replace the newsrc atomically (a symlink's target is replaced, not the link)."""
    target = Path(os.path.realpath(path))
    data = format_newsrc(newsrc).encode("utf-8", "surrogateescape")
    try:
        mode = target.stat().st_mode & 0o777
    except OSError:
        mode = 0o600
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise StoreError(
            f"cannot write {target}: {exc.strerror or exc}",
            hint="check the directory's permissions and free space",
        ) from exc


# --- follow-ups ---------------------------------------------------------------------------

_RE = re.compile(r"^\s*re\s*(\[\d+\])?\s*:", re.IGNORECASE)
MAX_REFERENCES = 986  # References stays within a 998-byte line (RFC 5537 3.4.4)


@dataclass(frozen=True)
class Followup:
    """What a follow-up's headers say: where it goes, its Subject, its References."""

    newsgroups: tuple[str, ...]
    subject: str
    references: tuple[str, ...]
    to_poster: bool = False  # Followup-To: poster: the author asks for a reply by mail

    def headers(self) -> list[tuple[str, str]]:
        out = [("Newsgroups", ",".join(self.newsgroups)), ("Subject", self.subject)]
        if self.references:
            out.append(("References", " ".join(self.references)))
        return out


def reply_subject(subject: str) -> str:
    """'Re: ' + subject, unless it starts with Re: already (any case, 'Re[2]:' too)."""
    subject = " ".join(subject.split())
    return subject if _RE.match(subject) else f"Re: {subject}"


def trim_references(ids: Sequence[str]) -> tuple[str, ...]:
    """Drop message IDs after the first until the header fits (RFC 5537 keeps the first
    and the last three)."""
    kept = list(dict.fromkeys(ids))
    while len(" ".join(kept)) > MAX_REFERENCES and len(kept) > 4:
        del kept[1]
    return tuple(kept)


def followup(parent: bytes) -> Followup:
    """The headers of a follow-up to parent (its raw bytes, or just its headers)."""
    headers = parse_header_block(parent[: header_end(parent)])
    target = decode_words(headers.get("Followup-To")).strip()
    to_poster = target.lower() == "poster"
    source = decode_words(headers.get("Newsgroups")) if to_poster or not target else target
    groups = tuple(dict.fromkeys(g.strip() for g in source.split(",") if g.strip()))
    refs = [*message_ids(str(headers.get("References") or ""))]
    own = message_ids(str(headers.get("Message-ID") or ""))
    if own:
        refs.append(own[0])
    return Followup(
        tuple(g for g in groups if valid_group_name(g)),
        reply_subject(decode_words(headers.get("Subject"))),
        trim_references(refs),
        to_poster,
    )


# --- the store ----------------------------------------------------------------------------


class NntpStore(Store):
    """A news server: its groups are folders; ~/.newsrc holds subscriptions and marks.

    open_channel opens a Channel to the server (e.g. Connections.open(...).channel); a
    password (called only when the server asks, over an encrypted channel) is never sent
    over a plain one.
    """

    def __init__(
        self,
        open_channel: Callable[[], Channel],
        *,
        newsrc: Path,
        user: str | None = None,
        password: Callable[[], str] | None = None,
        name: str = "",
        timeout: float = 60.0,
    ) -> None:
        self._open_channel = open_channel
        self.newsrc_path = newsrc
        self.user = user
        self._password = password
        self.name = name
        self.timeout = timeout
        self._client: NntpClient | None = None
        self._folders: weakref.WeakSet[NntpFolder] = weakref.WeakSet()
        # Held for each whole exchange on the one connection (connect, command, reply,
        # retry), by the store and every group opened from it. Reentrant: close() drops
        # the connection the same way run() does.
        self._lock = threading.RLock()
        self._newsrc_lock = threading.Lock()  # read, change, write ~/.newsrc as one step

    @property
    def channel(self) -> Channel | None:
        """The current connection's channel, None when there is none."""
        client = self._client  # read once: another thread may drop it meanwhile
        return client.channel if client is not None else None

    @property
    def label(self) -> str:
        if self.name:
            return safe_line(self.name)
        client = self._client  # read once: another thread may drop it meanwhile
        if client is not None and client.channel.server:
            return client.label
        return "(news)"

    # connection

    def _connect(self) -> tuple[NntpClient, bool]:
        """The live client, and whether it was opened just now (call with the lock held)."""
        if self._client is not None and not self._client.broken:
            return self._client, False
        self._client = None
        try:
            channel = self._open_channel()
        except PineshError as exc:
            raise StoreError(
                f"cannot reach news server {self.label}: {exc.message}", hint=exc.hint
            ) from exc
        except (OSError, RouteError) as exc:
            raise StoreError(f"cannot reach news server {self.label}: {exc}") from exc
        if channel.service is not Service.NNTP:
            channel.close()
            raise StoreError(f"news server {self.label}: the channel is not for NNTP")
        client = NntpClient(
            channel,
            label=self.name or channel.server or "(news)",
            user=self.user,
            password=self._password,
            timeout=self.timeout,
        )
        try:
            client.start()
        except BaseException:
            client.quit()
            raise
        self._client = client
        return client, True

    def run(self, action: Callable[[NntpClient], T]) -> T:
        """action with the live client; once again on a new connection if the old one was
        lost (actions must be safe to repeat, or say so with ConnectionLost.safe_to_retry).

        The whole of it holds the store's lock: an action's commands and their replies
        (multi-line ones read to their final '.') never interleave with another thread's,
        and an action sees the group it selected until it returns. Actions return whole
        values, never a generator reading the socket later, outside the lock.
        """
        with self._lock:
            client, fresh = self._connect()
            try:
                return action(client)
            except ConnectionLost as exc:
                self._drop()
                if fresh or not exc.safe_to_retry:
                    raise
            client, _ = self._connect()
            return action(client)

    def in_group(self, group: str, action: Callable[[NntpClient], T]) -> T:
        """action with group selected."""

        def selected(client: NntpClient) -> T:
            if client.selected != group:
                client.group(group)
            return action(client)

        return self.run(selected)

    def _drop(self) -> None:
        with self._lock:  # QUIT is a command too
            if self._client is not None:
                self._client.quit()
                self._client = None

    @property
    def posting_allowed(self) -> bool:
        with self._lock:
            return self._connect()[0].posting_allowed

    # folders

    def list_folders(self, pattern: str = "*") -> list[FolderInfo]:
        """Groups matching pattern (LIST ACTIVE wildmat), subscribed ones marked."""
        active = self.run(lambda c: c.list_active(wildmat(pattern)))
        subscribed = set(read_newsrc(self.newsrc_path).subscribed())
        return [
            NewsgroupInfo(g.name, g.name, subscribed=g.name in subscribed, status=g.status)
            for g in sorted(active, key=lambda g: g.name)
            if "%" not in pattern or pattern_matches(pattern, g.name)
        ]

    def subscribed(self) -> list[str]:
        """The groups ~/.newsrc subscribes to, in its order."""
        return read_newsrc(self.newsrc_path).subscribed()

    def open(self, name: str, read_only: bool = False) -> NntpFolder:
        if not valid_group_name(name):
            raise StoreError(f"{safe_line(name)!r} is not a newsgroup name", hint="e.g. comp.mail")
        info = self.run(lambda c: c.group(name))
        folder = NntpFolder(self, name, info, read_only)
        self._folders.add(folder)
        return folder

    def _set_subscribed(self, group: str, value: bool) -> None:
        if not valid_group_name(group):
            raise StoreError(f"{safe_line(group)!r} is not a newsgroup name")
        with self._newsrc_lock:
            old = read_newsrc(self.newsrc_path)
            new = old.set_subscribed(group, value)
            if new != old:
                write_newsrc(self.newsrc_path, new)

    def subscribe(self, group: str) -> None:
        """Subscribe in ~/.newsrc (a new group goes at the end; its marks are kept)."""
        self._set_subscribed(group, True)

    def unsubscribe(self, group: str) -> None:
        """Unsubscribe in ~/.newsrc ('group!'), keeping the group's read marks."""
        self._set_subscribed(group, False)

    def save_read(self, group: str, read: marks.Ranges) -> None:
        """Write a group's read marks into ~/.newsrc (read again first: others' lines stay)."""
        with self._newsrc_lock:
            old = read_newsrc(self.newsrc_path)
            new = old.set_read(group, read)
            if new != old:
                write_newsrc(self.newsrc_path, new)

    def read_marks(self, group: str) -> marks.Ranges:
        line = read_newsrc(self.newsrc_path).group(group)
        return line.read if line is not None else ()

    # posting

    def post(self, article: bytes) -> str | None:
        """POST an article; its Message-ID (the server's, else the article's own)."""
        if b"\0" in article:
            raise StoreError("the article holds a NUL byte; no news server takes it")
        if not article.strip():
            raise StoreError("the article is empty")
        reply: Reply = self.run(lambda c: c.post(article))
        said = message_ids(reply.rest.decode("utf-8", "replace"))
        if said:
            return said[0]
        own = message_ids(str(parse_header_block(article[: header_end(article)]).get("Message-ID")))
        return own[0] if own else None

    def close(self) -> None:
        """Write the marks of folders still open, and QUIT."""
        try:
            for folder in list(self._folders):
                folder.flush()
        finally:
            self._drop()


# --- a group ------------------------------------------------------------------------------


class NntpFolder(Folder):
    """An open newsgroup. Article numbers are UIDs; see the module's notes."""

    capabilities = Capability.POST

    def __init__(self, store: NntpStore, name: str, info: GroupInfo, read_only: bool) -> None:
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
