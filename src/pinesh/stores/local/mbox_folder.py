"""An mbox folder, open: the mail spool or one of Pine's ``~/mail`` files, shared safely
with MTAs. The store of a directory of them is in ``mbox_store.py``.

Format: each message starts with a ``From sender date`` line and ends with an empty line.
Lines of a message that begin ``From `` (after any ``>``) are written with one more ``>``
and read with one less (mboxrd), so a body line "From here" survives a round trip; what
Postfix writes (it quotes ``From `` only) reads back right too. Flags live in the
``Status:`` (R seen, O old) and ``X-Status:`` (A answered, F flagged, T draft, D deleted)
headers, as c-client and mutt write them. UIDs are our own (1..N in file order at open,
higher ones for mail that arrives); c-client's hidden "FOLDER INTERNAL DATA" message is
kept but not shown.

Locking, and why expunge rewrites the file IN PLACE
---------------------------------------------------
Postfix 3.7 (Debian 12) local(8) and virtual(8) deliver to an mbox thus (global/
mbox_open.c; ``postconf -d``: ``mailbox_delivery_lock = virtual_mailbox_lock = fcntl,
dotlock``, ``deliver_lock_attempts = 20``, ``deliver_lock_delay = 1s``,
``stale_lock_time = 500s``): create ``PATH.lock`` (O_EXCL, retried), *then* open the file
(O_APPEND), *then* take an fcntl lock (retried), then check that the file still has one
link (else defer: "file status changed unexpectedly"), append, fsync, remove the dot-lock,
close. With ``fcntl`` alone (a site's choice, or where no dot-lock can be made), and for
procmail, maildrop or an LDA that locks with the kernel only, the agent opens the file
*first* and then waits for the lock, holding the old file open.

The hazard: a rewrite into a temporary file renamed over the mailbox leaves such an agent
appending to the orphaned old inode once our lock is released: that mail is lost. Postfix
notices (the old inode's link count is 0) and defers and retries; others do not. A rename
also changes the file's owner and mode (Postfix's ``strict_mailbox_ownership`` then
refuses to deliver), and is impossible for a user in ``/var/mail`` (root:mail 2775).

So pinesh never replaces the file. Every change (expunge, flags) is a rewrite of the
file's tail, from the first changed message to the end, in the same inode, under the
dot-lock, an fcntl lock and a flock (locking.py), as c-client, mutt and Dovecot do: every
writer that locks in any of these ways waits, then appends after our new end (O_APPEND).
Crash safety comes from a redo journal: before the first byte of the mailbox changes, the
new tail is written to a journal file (next to the mailbox, or under
``~/.local/state/pinesh`` where the mail directory is not writable) and fsynced; then the
mailbox is grown (posix_fallocate, so a full disk fails before anything is overwritten),
the tail written, fsynced, truncated, and the journal removed. After a crash, the next
writer finds the journal and finishes the rewrite, keeping any mail an MTA appended after
the crash (it lies after the end our rewrite had: see mbox_journal.appended_since()).
Only a journal this user wrote counts: in a shared spool another user can put a file at
the journal's name, and that file is left alone and named in ``journal_warning``.

Readers take shared fcntl and flock locks, which keep an MTA from writing while we read;
a change of the file (size, mtimes, inode) makes a re-scan that keeps the UIDs of
messages it finds again (by their From line and headers, less the status headers).

Flag changes are kept in memory and written at check(), expunge() and close() (as
c-client and mutt do): reading a message must not rewrite a big mailbox each time.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from pinesh.stores.base import (
    Envelope,
    Flag,
    FolderStatus,
    StoreError,
)
from pinesh.stores.headers import envelope_from_headers
from pinesh.stores.local import mbox_journal
from pinesh.stores.local.folder import LocalFolder, new_uidvalidity
from pinesh.stores.local.locking import MailboxLock, locked_mailbox
from pinesh.stores.local.mbox_format import (
    MAX_HEADER_BYTES,
    MboxEntry,
    NotMboxError,
    from_line_date,
    mbox_record,
    message_bytes,
    scan_bytes,
    scan_mbox,
    unquote_from,
)
from pinesh.stores.local.mbox_journal import (
    find_journals,
    plan_rewrite,
    recover,
    write_all,
    write_journal,
)
from pinesh.textsafe import safe_line


def _nothing() -> None:
    """A tick that does nothing (no dot-lock to keep fresh)."""


def _foreign_journals_warning(others: list[Path]) -> str | None:
    """What to tell of files at our journal's names that we did not write (or None)."""
    if not others:
        return None
    return (
        "left alone, not a journal of yours: "
        + ", ".join(safe_line(str(p)) for p in others)
        + " (another user's file in the mailbox's directory; ask them or the system "
        "administrator to remove it)"
    )


class MboxFolder(LocalFolder):
    """One mbox file, open. Not thread-safe (see Folder)."""

    def __init__(self, path: Path, read_only: bool = False, name: str | None = None) -> None:
        super().__init__(path, read_only, name)
        self.lock_warning: str | None = None  # set when the mailbox could not be dot-locked
        self.journal_warning: str | None = None  # set when another's file sits at a journal
        self.uidvalidity = new_uidvalidity()
        self._fd = self._open()
        self._entries: list[tuple[int, MboxEntry]] = []  # file order; uid 0: hidden
        self._index: dict[int, int] = {}  # uid -> position in _entries
        self._next_uid = 1
        self._stamp: tuple[int, ...] = ()
        self._pending: dict[int, tuple[frozenset[Flag], frozenset[Flag]]] = {}  # (set, clear)
        self._cache: dict[int, Envelope] = {}
        try:
            with self._locked(exclusive=False):
                pass  # the first scan
        except BaseException:
            os.close(self._fd)
            raise
        self._arrived = False

    # -- the file

    def _open(self) -> int:
        flags = (os.O_RDONLY if self.read_only else os.O_RDWR) | os.O_CLOEXEC | os.O_NOCTTY
        try:
            fd = os.open(self.path, flags | os.O_NONBLOCK)
        except FileNotFoundError as exc:
            raise StoreError(
                f"no mailbox {self._shown()}", hint="check the name, or create the folder"
            ) from exc
        except IsADirectoryError as exc:
            raise StoreError(
                f"{self._shown()} is not a mailbox file", hint="open a file or a Maildir"
            ) from exc
        except OSError as exc:
            raise StoreError(
                f"cannot open the mailbox {self._shown()}: {exc.strerror}",
                hint="check its permissions" if exc.errno == errno.EACCES else None,
            ) from exc
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise StoreError(
                f"{self._shown()} is not a mailbox file", hint="open a file or a Maildir"
            )
        os.set_blocking(fd, True)
        return fd

    def _read(self, at: int, length: int) -> bytes:
        return os.pread(self._fd, length, at)

    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[MailboxLock]:
        """Hold the mailbox locks, the scan up to date (and a crashed rewrite finished)."""
        for _ in range(3):
            self._follow_replacement()
            with locked_mailbox(self.path, self._fd, exclusive=exclusive) as lock:
                if self._replaced():
                    continue  # replaced while we locked the old file: lock the new one
                if lock.warning:
                    self.lock_warning = lock.warning
                ours, others = find_journals(self.path)
                self.journal_warning = _foreign_journals_warning(others)
                crashed = bool(ours)
                if not crashed or exclusive:
                    if crashed:
                        self._recover(lock)
                    self._refresh()
                    yield lock
                    return
            # A rewrite was interrupted: finish it under the exclusive locks, first.
            self._writable("repair it after an interrupted rewrite")
            with self._locked(exclusive=True) as lock:
                yield lock
            return
        raise StoreError(
            f"{self._shown()} keeps being replaced by another program",
            hint="close the other mail program and try again",
        )

    def _recover(self, lock: MailboxLock) -> None:
        try:
            recover(self._fd, self.path, lock.dot.touch if lock.dot else _nothing)
        except OSError as exc:
            where = safe_line(exc.filename) if isinstance(exc.filename, str) else None
            denied = exc.errno in (errno.EACCES, errno.EPERM)
            remedy = (
                f"check who may write {where or 'the mailbox directory'}"
                if denied
                else "free some disk space"
            )
            raise StoreError(
                f"cannot finish an interrupted rewrite of {self._shown()}: {exc.strerror}"
                + (f" ({where})" if where else ""),
                hint="no mail is lost: the rewrite's journal is kept ("
                + ", ".join(safe_line(str(p)) for p in find_journals(self.path)[0])
                + f"); {remedy} and open the folder again",
            ) from exc

    def _replaced(self) -> bool:
        try:
            now = os.stat(self.path)
        except FileNotFoundError as exc:
            raise StoreError(
                f"the mailbox {self._shown()} was removed",
                hint="another program deleted it; open another folder",
            ) from exc
        mine = os.fstat(self._fd)
        return (now.st_dev, now.st_ino) != (mine.st_dev, mine.st_ino)

    def _follow_replacement(self) -> None:
        if self._replaced():
            os.close(self._fd)
            self._fd = self._open()
            self._stamp = ()

    def _refresh(self) -> bool:
        """Re-scan if the file changed; whether messages arrived. Locks held."""
        info = os.fstat(self._fd)
        stamp = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        if stamp == self._stamp:
            return False
        try:
            scanned = scan_mbox(self._read, info.st_size)
        except NotMboxError as exc:
            raise StoreError(
                f"{self._shown()} is not an mbox file (it does not start with a From line)",
                hint="open it as a Maildir, or check that it is a mailbox",
            ) from exc
        self._stamp = stamp
        return self._adopt(scanned)

    def _adopt(self, scanned: list[MboxEntry]) -> bool:
        """Take a new scan, keeping the UIDs of the messages found again (by identity)."""
        known: dict[bytes, collections.deque[int]] = {}
        for uid, entry in self._entries:
            if uid:
                known.setdefault(entry.key, collections.deque()).append(uid)
        arrived = False
        entries: list[tuple[int, MboxEntry]] = []
        for entry in scanned:
            if entry.pseudo:
                entries.append((0, entry))
                continue
            queue = known.get(entry.key)
            if queue:
                uid = queue.popleft()
            else:
                uid = self._next_uid
                self._next_uid += 1
                arrived = True
            entries.append((uid, entry))
        for queue in known.values():
            for uid in queue:  # gone: expunged or rewritten by another program
                self._cache.pop(uid, None)
                self._pending.pop(uid, None)
        self._set_entries(entries)
        self._arrived = self._arrived or arrived
        return arrived

    def _set_entries(self, entries: list[tuple[int, MboxEntry]]) -> None:
        self._entries = entries
        self._index = {uid: i for i, (uid, _) in enumerate(entries) if uid}

    def _entry(self, uid: int) -> MboxEntry | None:
        at = self._index.get(uid)
        return None if at is None else self._entries[at][1]

    def _flags(self, uid: int, entry: MboxEntry) -> frozenset[Flag]:
        added, removed = self._pending.get(uid, (frozenset(), frozenset()))
        return (entry.flags - removed) | added

    # -- reading

    def status(self) -> FolderStatus:
        shown = [(uid, e) for uid, e in self._entries if uid]
        return FolderStatus(
            name=self.name,
            count=len(shown),
            recent=sum(1 for _, e in shown if not e.old),
            unseen=sum(1 for uid, e in shown if Flag.SEEN not in self._flags(uid, e)),
            uidvalidity=self.uidvalidity,
            uidnext=self._next_uid,
            read_only=self.read_only,
        )

    def uids(self) -> list[int]:
        return [uid for uid, _ in self._entries if uid]

    def _read_envelope(self, uid: int, entry: MboxEntry) -> Envelope:
        line = self._read(entry.start, entry.head - entry.start)
        length = min(entry.blank - entry.head, MAX_HEADER_BYTES)
        block = unquote_from(self._read(entry.head, length))
        return envelope_from_headers(
            uid,
            block,
            entry.content_end - entry.head,
            frozenset(),
            internal_date=from_line_date(line),
        )

    def envelopes(self, uids: Sequence[int]) -> list[Envelope]:
        missing = [u for u in uids if u not in self._cache]
        if missing:
            with self._locked(exclusive=False):
                for uid in missing:
                    entry = self._entry(uid)
                    if entry is not None:
                        self._cache[uid] = self._read_envelope(uid, entry)
        out = []
        for uid in uids:
            entry = self._entry(uid)
            envelope = self._cache.get(uid)
            if entry is not None and envelope is not None:
                out.append(
                    replace(
                        envelope, flags=self._flags(uid, entry), size=entry.content_end - entry.head
                    )
                )
        return out

    def fetch_message(self, uid: int) -> bytes:
        with self._locked(exclusive=False):
            entry = self._entry(uid)
            if entry is None:
                raise self._gone(uid)
            return message_bytes(self._read, entry)

    def _poll(self) -> None:
        """Write pending flags, then re-scan if the file changed."""
        if self._pending and not self.read_only:
            self.flush()
        with self._locked(exclusive=False):
            pass

    # -- writing

    def set_flags(self, uids: Sequence[int], flags: frozenset[Flag], value: bool) -> None:
        self._writable("change flags")
        for uid in uids:
            if uid not in self._index:
                continue
            added, removed = self._pending.get(uid, (frozenset(), frozenset()))
            if value:
                added, removed = added | flags, removed - flags
            else:
                added, removed = added - flags, removed | flags
            self._pending[uid] = (added, removed)

    def flush(self) -> None:
        """Write flag changes to the file."""
        if self._pending and not self.read_only:
            with self._locked(exclusive=True) as lock:
                self._rewrite(lock, expunge=False)

    def expunge(self) -> list[int]:
        self._writable("expunge")
        with self._locked(exclusive=True) as lock:
            return self._rewrite(lock, expunge=True)

    def _wanted(self, uid: int, entry: MboxEntry) -> frozenset[Flag]:
        """The flags a message should have in the file (0: a message not ours to change)."""
        return self._flags(uid, entry) if uid else entry.flags

    def _rewrite(self, lock: MailboxLock, expunge: bool) -> list[int]:
        """Write pending flags (and drop DELETED messages when expunging), in place."""
        plan = plan_rewrite(self._entries, self._wanted, self._read, expunge)
        if plan is None:
            self._pending.clear()
            return []
        offset, pieces, kept, removed = plan.offset, plan.pieces, plan.kept, plan.removed
        tick = lock.dot.touch if lock.dot else _nothing
        try:
            journal = write_journal(self._fd, self.path, offset, pieces)
        except OSError as exc:
            raise StoreError(
                f"cannot rewrite {self._shown()}: {exc.strerror}; nothing was changed",
                hint="free some disk space and try again",
            ) from exc
        tick()
        try:
            mbox_journal.apply_journal(self._fd, journal, tick)
        except OSError as exc:
            self._stamp = ()
            raise StoreError(
                f"rewriting {self._shown()} failed: {exc.strerror}",
                hint=f"no mail is lost: the rewrite is kept in {safe_line(str(journal.path))}"
                " and finished the next time the folder is opened for writing",
            ) from exc
        for uid in removed:
            self._cache.pop(uid, None)
        self._pending.clear()
        self._set_entries(kept)
        info = os.fstat(self._fd)
        self._stamp = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        return removed

    def append(
        self, message: bytes, flags: frozenset[Flag] = frozenset(), date: datetime | None = None
    ) -> int | None:
        self._writable("append")
        record = mbox_record(message, flags, date)
        with self._locked(exclusive=True):
            size = os.fstat(self._fd).st_size
            tail = self._read(max(size - 2, 0), min(size, 2))
            # The message before must end with an empty line, or our From line would not
            # start a message for everyone.
            prefix = b""
            if size and tail != b"\n\n":
                prefix = b"\n" if tail.endswith(b"\n") else b"\n\n"
            try:
                write_all(self._fd, prefix + record, size)
                os.fsync(self._fd)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, size)  # no half message left behind
                raise StoreError(
                    f"cannot append to {self._shown()}: {exc.strerror}",
                    hint="free some disk space and try again",
                ) from exc
            if prefix and self._entries:
                last_uid, last = self._entries[-1]
                grown = size + len(prefix)
                self._entries[-1] = (last_uid, replace(last, content_end=grown - 1, end=grown))
            (entry,) = scan_bytes(record)
            uid = self._next_uid
            self._next_uid += 1
            self._entries.append((uid, entry.moved(size + len(prefix))))
            self._index[uid] = len(self._entries) - 1
            info = os.fstat(self._fd)
            self._stamp = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        return uid

    def close(self) -> None:
        """Write pending flag changes and close the file."""
        if self._fd < 0:
            return
        try:
            self.flush()
        finally:
            os.close(self._fd)
            self._fd = -1
            self._cache.clear()
