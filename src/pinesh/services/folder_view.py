"""One folder held open for a screen's life: the order shown, an envelope cache, commands.

The index and the message view share a FolderView. Its methods do I/O (a remote folder is a
long-lived IMAP or NNTP connection), so they are called from worker threads; one lock
serialises every call into the Folder, which is not thread-safe, and every change to the
order and the cache. The UI thread may read ``count``, ``uid_at``, ``depth_at``,
``index_of`` and ``cached`` without the lock: the order is replaced whole, never edited in
place, and each of them reads the cache in one step.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import pairwise
from pathlib import Path

from pinesh.services.attachments import write_file
from pinesh.services.mail import MailSession
from pinesh.services.protection import ProtectedMessage, read_protected
from pinesh.services.reading import MAX_TEXT, read_up_to
from pinesh.stores.base import (
    Capability,
    Envelope,
    Flag,
    Folder,
    FolderStatus,
    SearchQuery,
    SortKey,
    StoreError,
    ThreadNode,
)
from pinesh.stores.headers import header_end
from pinesh.stores.mime_structure import part_content
from pinesh.stores.names import Driver
from pinesh.stores.signed_parts import PKCS7_MIME
from pinesh.textsafe import safe_line

# A local folder finds its first unseen message by reading every envelope; above this many
# messages the index starts on the last one instead (a server searches, at any size).
LOCAL_UNSEEN_SCAN = 2000
KEPT_DECRYPTED = 8  # decrypted messages kept in memory for replies

SEEN = frozenset({Flag.SEEN})
NOT_NEW = frozenset({Flag.SEEN, Flag.DELETED})  # what Pine's NextNew (Tab) passes over

# Orders of at least this many messages keep their UIDs in an array of 4-byte C ints: a
# million UIDs as a tuple cost 36 MB (a pointer and an int object each), as an array 4 MB.
COMPACT_FROM = 10_000


def compact(uids: Iterable[int]) -> Sequence[int]:
    """uids as an immutable-by-convention sequence: an array('I') when there are many
    (never edited in place: an Order is replaced whole), else a tuple."""
    if isinstance(uids, array) and uids.typecode == "I":
        return uids  # compact already (CacheFolder.first_look): no copy
    listed = uids if isinstance(uids, (list, tuple, array)) else list(uids)
    if len(listed) >= COMPACT_FROM:
        try:
            return array("I", listed)
        except OverflowError:  # below 0 or above 2**32-1: no IMAP UID, keep them as given
            pass
    return tuple(listed)


@dataclass(frozen=True)
class Order:
    """The messages in the order shown, with thread depths when threaded."""

    uids: Sequence[int]  # a tuple, or an array when long (compact)
    depths: tuple[int, ...] | None = None  # None: not threaded
    key: SortKey = SortKey.ARRIVAL
    reverse: bool = False

    @cached_property
    def ascending(self) -> bool:
        """UIDs strictly ascending (arrival order, as a folder lists them): positions are
        found by bisection, with no dict (a million entries cost ~70 MB)."""
        return all(a < b for a, b in pairwise(self.uids))

    @cached_property
    def positions(self) -> dict[int, int]:
        return {uid: i for i, uid in enumerate(self.uids)}

    def index_of(self, uid: int) -> int | None:
        """The position of uid, or None."""
        if self.ascending:
            at = bisect_left(self.uids, uid)
            return at if at < len(self.uids) and self.uids[at] == uid else None
        return self.positions.get(uid)

    def without(self, gone: set[int]) -> Order:
        keep = [i for i, uid in enumerate(self.uids) if uid not in gone]
        depths = None if self.depths is None else tuple(self.depths[i] for i in keep)
        return replace(self, uids=compact(self.uids[i] for i in keep), depths=depths)


def flatten_threads(nodes: Sequence[ThreadNode]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Thread trees as (uids, depths) in reading order; a missing parent takes no row and
    its children stand at its depth. No recursion: a reply chain can be thousands deep."""
    uids: list[int] = []
    depths: list[int] = []
    stack: list[tuple[ThreadNode, int]] = [(n, 0) for n in reversed(nodes)]
    while stack:
        node, depth = stack.pop()
        child_depth = depth
        if node.uid is not None:
            uids.append(node.uid)
            depths.append(depth)
            child_depth = depth + 1
        stack.extend((child, child_depth) for child in reversed(node.children))
    return tuple(uids), tuple(depths)


@dataclass(eq=False)
class FolderView:
    """An open folder, the order its index shows, and the envelopes read so far."""

    session: MailSession
    name: str
    folder: Folder
    driver: Driver
    _order: Order = field(default_factory=lambda: Order(()))
    _cache: dict[int, Envelope] = field(default_factory=dict)
    _absent: set[int] = field(default_factory=set)  # asked for, but not in the folder
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closed: bool = False
    _unseen: int | None = None  # as of the last summary()
    # What opening the folder told (Folder.first_look), each part used once: the status
    # for summary(), the unseen UIDs for first_unseen().
    _first_status: FolderStatus | None = None
    _first_unseen: Sequence[int] | None = None
    # Read from the header cache, not the server (from_cache): shown until the live view
    # replaces it, or kept while the server cannot be reached.
    provisional: bool = False
    # The decrypted messages read lately, by UID, for a reply to quote: in memory only,
    # the last few (KEPT_DECRYPTED).
    _decrypted: dict[int, bytes] = field(default_factory=dict)

    @classmethod
    def open(cls, session: MailSession, name: str) -> FolderView:
        """Open a folder for reading and writing (a local mbox we may not write: read-only)
        and list its messages in arrival order."""
        driver = session.parse(name).driver
        try:
            folder = session.open_folder(name)
        except StoreError:
            if driver is not Driver.MBOX:
                raise
            folder = session.open_folder(name, read_only=True)  # e.g. a spool we may only read
        view = cls(session, name, folder, driver)
        try:
            with view._locked():
                look = folder.first_look()
                if look is None:
                    view._order = Order(compact(folder.uids()))
                else:  # no round trip: opening asked already
                    view._order = Order(compact(look.uids))
                    view._first_status, view._first_unseen = look.status, look.unseen
        except BaseException:
            folder.close()
            raise
        return view

    @classmethod
    def from_cache(cls, session: MailSession, name: str, reason: str) -> FolderView | None:
        """The folder as the header cache last saw it, without the network (an IMAP folder
        read before); None when nothing is cached. reason (safe to show) says why it is not
        live: "cached, not yet confirmed by the server", "offline: ...". Its flag changes
        are kept in the cache and sent when the folder is next opened on the server."""
        folder = session.cached_folder(name, reason)
        if folder is None:
            return None
        view = cls(session, name, folder, Driver.IMAP, provisional=True)
        look = folder.first_look()
        if look is None or not look.uids:
            return None
        view._order = Order(compact(look.uids))
        view._first_status, view._first_unseen = look.status, look.unseen
        return view

    @contextmanager
    def _locked(self) -> Iterator[Folder]:
        with self._lock:
            if self._closed:
                raise StoreError(f"{safe_line(self.name)} is closed", hint="open it again")
            yield self.folder

    # -- what the folder is

    @property
    def is_news(self) -> bool:
        return self.driver is Driver.NNTP

    @property
    def newsgroup(self) -> str | None:
        """The group's name, for a newsgroup."""
        return self.session.parse(self.name).mailbox if self.is_news else None

    @property
    def read_only(self) -> bool:
        return bool(getattr(self.folder, "read_only", False))

    @property
    def route(self) -> str:
        """How the folder is reached, for the status line: 'via ssh lab (preauth, shared)'."""
        reason = getattr(self.folder, "reason", None)
        if self.provisional and isinstance(reason, str):
            return f"({reason})"
        channel = getattr(self.folder, "channel", None)
        describe = getattr(channel, "describe", None)
        if callable(describe):
            return f"via {describe()}"
        if self.is_news:
            label = getattr(getattr(self.folder, "store", None), "label", None)
            return f"via news server {label}" if isinstance(label, str) else "news"
        return "local"

    def status(self) -> FolderStatus:
        with self._locked() as folder:
            return folder.status()

    def summary(self) -> str:
        """The status line after opening: 'INBOX via ssh lab (...): 26 messages, 3 unseen'."""
        status, self._first_status = self._first_status, None
        if status is None:
            status = self.status()
        self._unseen = status.unseen
        line = (
            f"{safe_line(self.name)} {safe_line(self.route)}: "
            f"{counted(status.count, 'message')}, {status.unseen:,} unseen"
        )
        problem = self.cache_problem
        return f"{line}; {problem}" if problem else line

    @property
    def cache_problem(self) -> str | None:
        """Why the header cache is off for this folder's server (safe to show), if it is."""
        if self.driver is not Driver.IMAP:
            return None
        problem = getattr(self.folder, "cache_problem", None)
        return problem if isinstance(problem, str) else self.session.cache_problem

    # -- the order shown (read without the lock: see the module's note)

    @property
    def count(self) -> int:
        return len(self._order.uids)

    @property
    def order(self) -> Order:
        return self._order

    @property
    def threaded(self) -> bool:
        return self._order.depths is not None

    def uid_at(self, position: int) -> int:
        return self._order.uids[position]

    def depth_at(self, position: int) -> int:
        depths = self._order.depths
        return depths[position] if depths is not None else 0

    def index_of(self, uid: int) -> int | None:
        return self._order.index_of(uid)

    def cached(self, uid: int) -> Envelope | None:
        return self._cache.get(uid)

    def is_absent(self, uid: int) -> bool:
        return uid in self._absent

    def set_sort(self, key: SortKey, reverse: bool = False) -> None:
        with self._locked() as folder:
            if key is SortKey.ARRIVAL:
                uids = folder.uids()
                self._order = Order(compact(uids[::-1] if reverse else uids), None, key, reverse)
            else:
                self._order = Order(compact(folder.sort(key, reverse)), None, key, reverse)

    def set_opening_order(self) -> None:
        """The order the folder opens in: threads for news, as in Pine; else the pinerc's
        sort-key (arrival order needs no question to the folder)."""
        pine = self.session.pine
        if self.is_news or pine.sort_key == "thread":
            self.set_threaded()
        elif pine.sort_key != "arrival" or pine.sort_reverse:
            self.set_sort(SortKey(pine.sort_key), pine.sort_reverse)

    def set_threaded(self) -> None:
        with self._locked() as folder:
            uids, depths = flatten_threads(folder.thread())
            self._order = Order(uids, depths, self._order.key, self._order.reverse)

    def refresh(self) -> bool:
        """Look for new mail; when some came, list the messages again in the same order.
        Flag changes kept in the header cache meanwhile (made on the cached view before
        the server answered) are sent first."""
        self.send_kept_changes()
        with self._locked() as folder:
            if not folder.check():
                return False
        order = self._order
        if order.depths is not None:
            self.set_threaded()
        else:
            self.set_sort(order.key, order.reverse)
        return True

    # -- envelopes

    def window(self, start: int, stop: int) -> list[Envelope]:
        """The envelopes of positions start..stop-1, reading only those not cached."""
        uids = self._order.uids[max(0, start) : max(0, stop)]
        with self._locked() as folder:
            # Decided under the lock: a window asked twice at once is read once.
            missing = [u for u in uids if u not in self._cache and u not in self._absent]
            if missing:
                found = folder.envelopes(missing)
                for envelope in found:
                    self._cache[envelope.uid] = envelope
                self._absent.update(set(missing) - {e.uid for e in found})
            # Still under the lock: an expunge in another worker may drop uids at any time.
            return [self._cache[u] for u in uids if u in self._cache]

    def envelope(self, uid: int) -> Envelope | None:
        cached = self._cache.get(uid)
        if cached is not None:
            return cached
        with self._locked() as folder:
            found = folder.envelopes([uid])
            if not found:
                return None
            self._cache[uid] = found[0]
            return found[0]

    def first_unseen(self) -> int | None:
        """The position of the first unseen message, where that is cheap to learn."""
        known, self._first_unseen = self._first_unseen, None
        if self._unseen == 0:  # summary() said so: no need to ask again
            return None
        if known is not None:  # opening asked already
            return self._first_of(known)
        with self._locked() as folder:
            if (
                not folder.capabilities & Capability.SERVER_SEARCH
                and self.count > LOCAL_UNSEEN_SCAN
            ):
                return None
            unseen = folder.search(SearchQuery(not_flags=SEEN))
        return self._first_of(unseen)

    def _first_of(self, uids: Sequence[int]) -> int | None:
        order = self._order
        if order.ascending:  # the lowest UID shown stands first: no position list
            return next((p for p in map(order.index_of, sorted(uids)) if p is not None), None)
        positions = [p for p in map(order.index_of, uids) if p is not None]
        return min(positions, default=None)

    def opening_start(self) -> int | None:
        """Where the index starts, when opening told it without asking (the first unseen
        message, else the newest); None when that takes a question (ask first_unseen())."""
        if self._first_unseen is None:
            return None
        first = self.first_unseen()
        return first if first is not None else self.count - 1

    # -- commands on messages

    def set_flags(self, uids: Sequence[int], flags: frozenset[Flag], value: bool) -> None:
        with self._locked() as folder:
            folder.set_flags(uids, flags, value)
            # Under the lock: another worker's change to the same envelope is not lost.
            for uid in uids:
                envelope = self._cache.get(uid)
                if envelope is not None:
                    changed = envelope.flags | flags if value else envelope.flags - flags
                    self._cache[uid] = replace(envelope, flags=changed)

    def send_kept_changes(self) -> int:
        """Send the flag changes kept in the header cache while the folder was shown from
        it (offline, or before the server answered); how many were sent."""
        with self._locked() as folder:
            send = getattr(folder, "send_kept_changes", None)
            return int(send()) if callable(send) else 0

    def deleted_count(self) -> int:
        """How many messages carry the DELETED flag (what expunge would remove).

        StoreError, as for every other store failure, when the folder's files are gone.
        """
        with self._locked() as folder:
            try:
                return len(folder.search(SearchQuery(flags=frozenset({Flag.DELETED}))))
            except OSError as exc:
                # A local folder reads its files here: one moved away (a Maildir
                # replaced by a file, made unreadable) fails with the OS's error.
                raise StoreError(
                    f"cannot count the deleted messages in {safe_line(self.name)}: "
                    f"{safe_line(exc.strerror or str(exc))}",
                    hint="another program moved or removed the folder; open it again",
                ) from None

    def expunge(self) -> list[int]:
        """Remove the messages flagged DELETED; their UIDs."""
        with self._locked() as folder:
            removed = folder.expunge()
            gone = set(removed)
            self._order = self._order.without(gone)
            for uid in gone:
                self._cache.pop(uid, None)
        return removed

    def save_to(self, uids: Sequence[int], dest_name: str) -> None:
        """Copy messages into another folder, created if it is new (a local mbox, or a
        mailbox on an IMAP server). Names resolve as everywhere: a bare name is ~/mail/NAME."""
        dest_box = self.session.parse(dest_name)
        if dest_box == self.session.parse(self.name):
            raise StoreError(f"cannot save {safe_line(self.name)} into itself")
        with self._locked() as folder:
            # Within one server: UID COPY by name, the folder never opened.
            if folder.copy_into(uids, self.session.store_for(dest_box), dest_box.mailbox):
                return
            try:
                dest = self.session.open_folder(dest_name, create=True)
            except StoreError:
                if dest_box.driver is not Driver.IMAP:
                    raise
                self.session.store_for(dest_box).create(dest_box.mailbox)
                dest = self.session.open_folder(dest_name)
            try:
                folder.copy_to(uids, dest)
            finally:
                dest.close()

    def move_read_to(self, dest_name: str) -> str:
        """Pine's read-message-folder: the messages seen and not deleted are copied to
        dest_name and marked deleted; they are expunged when no other message was marked
        deleted (an expunge must not take what the user only marked). What was done, for
        the status line ("" when there was nothing to move)."""
        if self.provisional or self.read_only:
            return ""  # the cache's view, or a folder that cannot be changed
        with self._locked() as folder:
            read = folder.search(
                SearchQuery(flags=frozenset({Flag.SEEN}), not_flags=frozenset({Flag.DELETED}))
            )
            others = folder.search(SearchQuery(flags=frozenset({Flag.DELETED})))
        if not read:
            return ""
        self.save_to(read, dest_name)
        self.set_flags(read, frozenset({Flag.DELETED}), True)
        moved = f"{counted(len(read), 'read message')} moved to {safe_line(dest_name)}"
        if others:
            return f"{moved} (marked deleted: other messages are marked deleted too)"
        self.expunge()
        return moved

    def read_protected(self, uid: int, passphrase: str | None = None) -> ProtectedMessage:
        """The message made readable with its signature checked and its encryption undone
        (services/protection.py), and marks it SEEN (unless the folder is read-only). Its
        attachments' part numbers name parts of protected.source when that is set: read
        them with it (part_bytes, save_part), never from the folder."""
        prefer_plain = self.session.pine.feature("prefer-plain-text")
        with self._locked() as folder:
            protected = read_protected(
                folder, uid, prefer_plain=prefer_plain, passphrase=passphrase
            )
        status = protected.decryption
        if protected.source is not None and status is not None and status.okay:
            with self._lock:  # workers read messages at once; each keeps its own
                self._decrypted.pop(uid, None)
                self._decrypted[uid] = protected.source
                while len(self._decrypted) > KEPT_DECRYPTED:
                    del self._decrypted[next(iter(self._decrypted))]
        self._mark_seen(uid)
        return protected

    def decrypted_source(self, uid: int) -> bytes | None:
        """The decrypted message of uid when it was read lately and was decrypted (a
        reply quotes its text, and is encrypted); None otherwise."""
        with self._lock:
            return self._decrypted.get(uid)

    def decrypted_for_reply(self, uid: int) -> bytes | None:
        """decrypted_source, decrypting an encrypted message not read yet (a reply from
        the index) when gpg-agent can without asking; None when it is not encrypted or
        cannot be decrypted so (the reply then quotes nothing of it)."""
        if self.decrypted_source(uid) is None and self._encrypted(uid):
            self.read_protected(uid)
        return self.decrypted_source(uid)

    def _encrypted(self, uid: int) -> bool:
        with self._locked() as folder:
            kind = folder.structure(uid).content_type
        return kind == "multipart/encrypted" or kind in PKCS7_MIME

    def raw(self, uid: int) -> bytes:
        with self._locked() as folder:
            return folder.fetch_message(uid)

    def export(self, uid: int, path: Path, *, overwrite: bool = False) -> int:
        """Write the raw message to path (mode 0600, atomically); FileExistsError if it exists
        and overwrite is not set. The bytes written."""
        data = self.raw(uid)
        return write_file(path, [data], overwrite=overwrite)

    def save_part(
        self,
        uid: int,
        part_id: str,
        path: Path,
        *,
        overwrite: bool = False,
        source: bytes | None = None,
    ) -> int:
        """Write one MIME part, decoded, to path (as export()); the bytes written.
        source: the protected message's inner source (read_protected) its parts are of."""
        if source is not None:
            return write_file(path, _source_part(source, part_id), overwrite=overwrite)
        with self._locked() as folder:
            return write_file(path, folder.fetch_part(uid, part_id), overwrite=overwrite)

    def part_bytes(
        self, uid: int, part_id: str, limit: int = MAX_TEXT, *, source: bytes | None = None
    ) -> tuple[bytes, bool]:
        """A part's decoded content, at most limit bytes, and whether it was cut there
        (source: as for save_part)."""
        if source is not None:
            return read_up_to(_source_part(source, part_id), limit)
        with self._locked() as folder:
            return read_up_to(folder.fetch_part(uid, part_id), limit)

    def new_uids(self) -> list[int]:
        """UIDs of the new messages (neither seen nor deleted), by one search."""
        with self._locked() as folder:
            return folder.search(SearchQuery(not_flags=NOT_NEW))

    def search(self, text: str) -> list[int]:
        """UIDs of messages with text in their headers (subject, from...) or body."""
        with self._locked() as folder:
            return folder.search(SearchQuery(text=text))

    def next_match(self, matches: Sequence[int], after: int) -> int | None:
        """The position of the first match after position `after`, wrapping to the top."""
        positions = sorted(p for p in map(self.index_of, matches) if p is not None)
        later = [p for p in positions if p > after]
        return (later or positions)[0] if positions else None

    def _mark_seen(self, uid: int) -> None:
        # Its flags as kept (a cached envelope costs nothing): no STORE for a message seen.
        envelope = self.envelope(uid)
        if not self.read_only and (envelope is None or Flag.SEEN not in envelope.flags):
            self.set_flags([uid], SEEN, True)

    def header_bytes(self, uid: int) -> bytes:
        """The message's header block as it is (up to the blank line)."""
        data = b""
        with self._locked() as folder:
            # The source in chunks, up to the blank line: a big attachment is not read.
            for chunk in folder.fetch_part(uid, ""):
                data += chunk
                if b"\n\n" in data or b"\n\r\n" in data or data.startswith((b"\n", b"\r\n")):
                    break
        return data[: header_end(data)]

    def header_text(self, uid: int) -> str:
        """The message's raw header lines (not yet sanitized), for the full-header view."""
        return self.header_bytes(uid).decode("utf-8", "replace").rstrip("\r\n") + "\n"

    def close(self) -> None:
        """Close the folder (writes pending flag changes); later calls fail with StoreError."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._cache.clear()
            self.folder.close()


def _source_part(source: bytes, part_id: str) -> Iterator[bytes]:
    """A part of a protected message's inner source (decrypted, or what was signed)."""
    chunks = part_content(source, part_id)
    if chunks is None:
        raise StoreError(f"the protected message has no part {part_id}")
    yield from chunks


def counted(count: int, noun: str) -> str:
    """'1 message', '100,000 messages': a count as Pine prints it, with its noun."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"
