"""A Maildir folder (``cur/ new/ tmp/``), open; the store of its Maildir++ folders is in
``maildir_store.py``.

Messages are files named ``BASE[:2,FLAGS]`` (``maildir_names.py``). Another program
(Dovecot, mutt, another pinesh) may rename or remove any file at any time; a file that
is not where we left it is found again by its BASE after a re-scan.

- **UIDs** are our own: at open, the files get 1..N in the order of their names (which
  start with the delivery time, so this is arrival order); files that appear later get
  higher UIDs at check(). UIDVALIDITY is new for every open.
- **Opening is lazy**: two directory listings, no file is opened; an envelope reads its
  file only up to the blank line after the headers. 10,000 messages open in milliseconds.
- **new/ and cur/**: a message stays in new/ (it is "recent") until it gets a flag, which
  moves it to cur/ with its info, as other MUAs do. Opening moves nothing.
- **Delivery** (append) writes to tmp/ under a unique name, fsyncs, then hard-links into
  new/ or cur/ (the Maildir protocol: a reader never sees a partial file); see
  ``maildir_delivery.py``.
- **Expunge** unlinks the files whose info has T.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from pinesh.stores.base import Envelope, Flag, FolderStatus, StoreError
from pinesh.stores.headers import envelope_from_headers
from pinesh.stores.local.folder import LocalFolder, new_uidvalidity
from pinesh.stores.local.maildir_delivery import deliver
from pinesh.stores.local.maildir_names import arrival_order, flags_of, split_name, with_flags
from pinesh.stores.mime_structure import body_offset
from pinesh.textsafe import safe_line

MAX_HEADER_BYTES = 4 * 1024 * 1024  # an envelope reads at most this much of a file
_READ_STEP = 16 * 1024


def is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


@dataclass(frozen=True)
class _Entry:
    base: str
    sub: str  # "new" or "cur"
    info: str  # "" or e.g. "2,FS"

    @property
    def filename(self) -> str:
        return f"{self.base}:{self.info}" if self.info else self.base


class _GoneError(Exception):
    """A message's file is in neither new/ nor cur/ any more."""


class MaildirFolder(LocalFolder):
    """One Maildir, open. Not thread-safe (see Folder)."""

    def __init__(self, path: Path, read_only: bool = False, name: str | None = None) -> None:
        super().__init__(path, read_only, name)
        if not is_maildir(self.path):
            raise StoreError(
                f"{safe_line(str(self.path))} is not a Maildir (no cur/ and new/)",
                hint="check the folder name; create the folder first",
            )
        self.uidvalidity = new_uidvalidity()
        self._entries: dict[int, _Entry] = {}
        self._uid_of: dict[str, int] = {}
        self._next_uid = 1
        self._cache: dict[int, Envelope] = {}  # envelopes as read (flags come from names)
        self._rescan()
        self._arrived = False

    # -- the directory

    def _listing(self) -> dict[str, _Entry]:
        """Every message file by base name. new/ is listed before cur/: a file moved from
        new/ to cur/ between the two listings is then seen twice (cur/ wins), never missed."""
        found: dict[str, _Entry] = {}
        for sub in ("new", "cur"):
            try:
                names = os.listdir(self.path / sub)
            except FileNotFoundError as exc:
                raise StoreError(
                    f"the Maildir {safe_line(str(self.path))} has lost its {sub}/ directory",
                    hint="another program removed the folder; open it again",
                ) from exc
            for filename in names:
                if filename.startswith("."):
                    continue  # the spec: readers skip dot files
                base, _, info = filename.partition(":")  # split_name, inline: 100,000s
                found[base] = _Entry(base, sub, info)
        return found

    def _rescan(self) -> None:
        """Read the directories again: new files get UIDs, moved ones are followed."""
        found = self._listing()
        for uid, entry in list(self._entries.items()):
            now = found.get(entry.base)
            if now is None:
                del self._entries[uid]
                del self._uid_of[entry.base]
                self._cache.pop(uid, None)
            else:
                self._entries[uid] = now
        fresh = arrival_order([b for b in found if b not in self._uid_of])
        first = self._next_uid
        self._entries.update(zip(itertools.count(first), map(found.__getitem__, fresh)))
        self._uid_of.update(zip(fresh, itertools.count(first)))
        self._next_uid = first + len(fresh)
        if fresh:
            self._arrived = True

    def _file(self, entry: _Entry) -> Path:
        return self.path / entry.sub / entry.filename

    def _entry(self, uid: int) -> _Entry:
        entry = self._entries.get(uid)
        if entry is None:
            raise _GoneError
        return entry

    @contextlib.contextmanager
    def _opened(self, uid: int) -> Iterator[int]:
        """A descriptor of the message's file, following it if another program moved it."""
        for attempt in range(3):
            entry = self._entry(uid)
            try:
                fd = os.open(self._file(entry), os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                if attempt == 2:
                    break
                self._rescan()
                continue
            try:
                yield fd
            finally:
                os.close(fd)
            return
        raise _GoneError

    # -- reading

    def status(self) -> FolderStatus:
        entries = self._entries.values()
        return FolderStatus(
            name=self.name,
            count=len(self._entries),
            recent=sum(1 for e in entries if e.sub == "new"),
            unseen=sum(1 for e in entries if Flag.SEEN not in flags_of(e.info)),
            uidvalidity=self.uidvalidity,
            uidnext=self._next_uid,
            read_only=self.read_only,
        )

    def uids(self) -> list[int]:
        return sorted(self._entries)

    def _read_envelope(self, uid: int) -> Envelope:
        with self._opened(uid) as fd:
            info = os.fstat(fd)
            head = bytearray()
            while len(head) < MAX_HEADER_BYTES:
                seen = max(len(head) - 2, 0)  # a blank line may straddle two reads
                chunk = os.read(fd, _READ_STEP)
                head += chunk
                if (
                    not chunk
                    or head.startswith((b"\n", b"\r\n"))
                    or head.find(b"\n\n", seen) >= 0
                    or head.find(b"\n\r\n", seen) >= 0
                ):
                    break
        data = bytes(head)
        # INTERNALDATE is the file's mtime, as Dovecot has it (append sets it to the date).
        return envelope_from_headers(
            uid,
            data[: body_offset(data)],
            info.st_size,
            frozenset(),
            internal_date=datetime.fromtimestamp(int(info.st_mtime), UTC),  # IMAP: seconds
        )

    def envelopes(self, uids: Sequence[int]) -> list[Envelope]:
        out = []
        for uid in uids:
            envelope = self._cache.get(uid)
            if envelope is None:
                try:
                    envelope = self._read_envelope(uid)
                except _GoneError:
                    continue
                self._cache[uid] = envelope
            entry = self._entries.get(uid)
            if entry is not None:
                out.append(replace(envelope, flags=flags_of(entry.info)))
        return out

    def fetch_message(self, uid: int) -> bytes:
        try:
            with self._opened(uid) as fd, os.fdopen(os.dup(fd), "rb") as handle:
                return handle.read()
        except _GoneError:
            raise self._gone(uid) from None

    def _poll(self) -> None:
        self._rescan()

    # -- writing

    def set_flags(self, uids: Sequence[int], flags: frozenset[Flag], value: bool) -> None:
        self._writable("change flags")
        for uid in uids:
            for attempt in range(3):
                entry = self._entries.get(uid)
                if entry is None:
                    break  # expunged by another program: nothing to flag
                info = with_flags(entry.info, flags, value)
                if info == (entry.info or "2,") and (entry.sub == "cur" or info == "2,"):
                    break
                # A flagged message leaves new/ (new/ files carry no info, by the spec).
                sub = "cur" if entry.sub == "cur" or info != "2," else "new"
                moved = _Entry(entry.base, sub, info if sub == "cur" else "")
                try:
                    os.rename(self._file(entry), self._file(moved))
                except FileNotFoundError:
                    if attempt < 2:
                        self._rescan()  # another program moved it: follow it by its base
                    continue
                self._entries[uid] = moved
                break

    def append(
        self, message: bytes, flags: frozenset[Flag] = frozenset(), date: datetime | None = None
    ) -> int | None:
        self._writable("append")
        sub, filename = deliver(self.path, message, flags, date)
        # Ours: a UID now, and no "new mail" for it at the next check().
        base, info = split_name(filename)
        entry = _Entry(base, sub, info)
        uid = self._next_uid
        self._next_uid += 1
        self._entries[uid] = entry
        self._uid_of[entry.base] = uid
        return uid

    def expunge(self) -> list[int]:
        self._writable("expunge")
        self._rescan()  # act on the flags as they are now, whoever set them
        removed = []
        for uid in sorted(self._entries):
            for attempt in range(3):
                entry = self._entries.get(uid)
                if entry is None or Flag.DELETED not in flags_of(entry.info):
                    break
                try:
                    os.unlink(self._file(entry))
                except FileNotFoundError:
                    if attempt < 2:
                        self._rescan()
                    continue
                removed.append(uid)
                del self._entries[uid]
                del self._uid_of[entry.base]
                self._cache.pop(uid, None)
                break
        return removed

    def close(self) -> None:
        self._cache.clear()
