"""The Maildir driver: a Maildir (``cur/ new/ tmp/``) and its Maildir++ folders ``.Name``.

Messages are files named ``BASE[:2,FLAGS]``; BASE is unique and never changes, FLAGS (the
"info") are letters in ASCII order: D draft, F flagged, R answered, S seen, T trashed
(our DELETED). Other letters (P passed, Dovecot's keyword letters a-z) are kept as they
are. Another program (Dovecot, mutt, another pinesh) may rename or remove any file at any
time; a file that is not where we left it is found again by its BASE after a re-scan.

- **UIDs** are our own: at open, the files get 1..N in the order of their names (which
  start with the delivery time, so this is arrival order); files that appear later get
  higher UIDs at check(). UIDVALIDITY is new for every open.
- **Opening is lazy**: two directory listings, no file is opened; an envelope reads its
  file only up to the blank line after the headers. 10,000 messages open in milliseconds.
- **new/ and cur/**: a message stays in new/ (it is "recent") until it gets a flag, which
  moves it to cur/ with its info, as other MUAs do. Opening moves nothing.
- **Delivery** (append) writes to tmp/ under a unique name, fsyncs, then hard-links into
  new/ or cur/ (the Maildir protocol: a reader never sees a partial file).
- **Expunge** unlinks the files whose info has T.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from pinesh.stores.base import (
    Envelope,
    Flag,
    FolderInfo,
    FolderStatus,
    Store,
    StoreError,
)
from pinesh.stores.headers import envelope_from_headers
from pinesh.stores.local.folder import LocalFolder, sync_directory
from pinesh.stores.mime_structure import body_offset
from pinesh.textsafe import safe_line

INBOX = "INBOX"
MAX_HEADER_BYTES = 4 * 1024 * 1024  # an envelope reads at most this much of a file
_READ_STEP = 16 * 1024

_LETTERS = {
    Flag.DRAFT: "D",
    Flag.FLAGGED: "F",
    Flag.ANSWERED: "R",
    Flag.SEEN: "S",
    Flag.DELETED: "T",
}
_FLAGS = {letter: flag for flag, letter in _LETTERS.items()}
_DIGITS = re.compile(r"(\d+)")
_LEADING_DIGITS = re.compile(r"\d+")


# --------------------------------------------------------------------------- names


def split_name(name: str) -> tuple[str, str]:
    """A message file name as (base, info): "1.M2P3.host:2,FS" -> ("1.M2P3.host", "2,FS")."""
    base, _, info = name.partition(":")
    return base, info


def flags_of(info: str) -> frozenset[Flag]:
    """The flags in a Maildir info ("2,FS"); other info versions carry none."""
    if not info.startswith("2,"):
        return frozenset()
    return frozenset(_FLAGS[c] for c in info[2:] if c in _FLAGS)


def with_flags(info: str, flags: frozenset[Flag], value: bool) -> str:
    """The info with flags set or cleared, other letters kept, in ASCII order (the spec)."""
    letters = set(info[2:]) if info.startswith("2,") else set()
    change = {_LETTERS[f] for f in flags}
    letters = letters | change if value else letters - change
    return "2," + "".join(sorted(letters))


def arrival_key(base: str) -> tuple[object, ...]:
    """Sort key of a base name: its numbers compared as numbers ("M9" before "M10"), so
    that names that start with the delivery time sort in arrival order."""
    texts = _DIGITS.split(base)  # text, digits, text, ..., text
    pieces: list[object] = list(texts)
    pieces[1::2] = map(int, texts[1::2])
    return tuple(pieces)


def leading_number(base: str) -> int | None:
    """The number a base name starts with, None if it starts with no digit: when not
    None, arrival_key(base) is ("", leading_number(base), ...)."""
    head = base.partition(".")[0]
    if head.isascii() and head.isdecimal():  # the usual "<time>.<rest>": no regex
        return int(head)
    match = _LEADING_DIGITS.match(base)
    return int(match.group()) if match else None


def arrival_order(bases: Iterable[str]) -> list[str]:
    """sorted(bases, key=arrival_key), the same list (equal keys in their input order), but
    fast: names that start with a number are sorted by that number alone, and arrival_key
    is computed only for names with the same number and for names that start with none."""
    numbered: list[str] = []
    numbers: list[int] = []
    other: list[str] = []
    for base in bases:
        found = leading_number(base)
        if found is None:
            other.append(base)
        else:
            numbered.append(base)
            numbers.append(found)
    places = sorted(range(len(numbers)), key=numbers.__getitem__)  # stable, as arrival_key's
    ordered = list(map(numbered.__getitem__, places))
    keys = list(map(numbers.__getitem__, places))
    if len(set(keys)) < len(keys):
        for tied in {a for a, b in itertools.pairwise(keys) if a == b}:
            start, end = bisect.bisect_left(keys, tied), bisect.bisect_right(keys, tied)
            ordered[start:end] = sorted(ordered[start:end], key=arrival_key)
    # The others' keys start with their text: after the numbers' "", except "" itself.
    other.sort(key=arrival_key)
    empty = other.count("")  # sorted first: ("",) comes before ("", number, ...)
    return other[:empty] + ordered + other[empty:]


_counter = itertools.count()


def unique_name(size: int) -> str:
    """A new base name per the Maildir spec: time.MusecPpidQnRrandom.host,S=size."""
    now = time.time()
    seconds, micros = int(now), int((now % 1) * 1_000_000)
    # The spec: "/" and ":" in the host name become octal escapes; "," too (S= follows).
    host = socket.gethostname().replace("/", "\\057").replace(":", "\\072")
    host = host.replace(",", "\\054") or "localhost"
    return (
        f"{seconds}.M{micros}P{os.getpid()}Q{next(_counter)}R{secrets.token_hex(8)}.{host},S={size}"
    )


_last_validity = 0


def new_uidvalidity() -> int:
    """A UIDVALIDITY for a new open: the time, made to grow within one process."""
    global _last_validity
    _last_validity = max(int(time.time()) & 0x7FFFFFFF, _last_validity + 1)
    return _last_validity


def is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


# --------------------------------------------------------------------------- folder


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


def deliver(
    maildir: Path,
    message: bytes,
    flags: frozenset[Flag] = frozenset(),
    date: datetime | None = None,
) -> tuple[str, str]:
    """Write a message into a Maildir the Maildir way; return (subdirectory, file name).

    tmp/ first (created exclusively, fsynced, mtime set to date: Dovecot's INTERNALDATE),
    then a hard link into new/ (no flags) or cur/ (with its info), then tmp/ is cleaned.
    """
    info = with_flags("", flags, True) if flags else ""
    sub = "cur" if info else "new"
    for _ in range(10):
        base = unique_name(len(message))
        tmp = maildir / "tmp" / base
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise StoreError(
                f"cannot write into {safe_line(str(maildir))}: {exc.strerror}",
                hint="check the folder's permissions and free space",
            ) from exc
        try:
            try:
                view = memoryview(message)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            if date is not None:
                stamp = date.timestamp()
                os.utime(tmp, (stamp, stamp))
            filename = f"{base}:{info}" if info else base
            target = maildir / sub / filename
            try:
                os.link(tmp, target)
            except FileExistsError:
                continue
            except OSError:
                os.rename(tmp, target)  # a file system without hard links (e.g. vfat)
            sync_directory(maildir / sub)
            return sub, filename
        except OSError as exc:
            raise StoreError(
                f"cannot write into {safe_line(str(maildir))}: {exc.strerror}",
                hint="check the folder's permissions and free space",
            ) from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    raise StoreError(f"cannot find a unique file name in {safe_line(str(maildir))}")


# --------------------------------------------------------------------------- store


def check_folder_name(name: str) -> str:
    """A Maildir++ folder name ("Lists.python"), or StoreError saying what is wrong."""
    if (
        not name
        or "/" in name
        or name.startswith(".")
        or name.endswith(".")
        or ".." in name
        or not name.isprintable()
    ):
        raise StoreError(
            f"{safe_line(name)!r} is not a Maildir folder name",
            hint="use printable characters, no '/', and '.' only between levels (A.B)",
        )
    if name.upper() == INBOX:
        raise StoreError("INBOX is the Maildir itself", hint="choose another name")
    return name


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


_FOLDER_FILES = ("maildirfolder",)


class MaildirStore(Store):
    """A Maildir and its Maildir++ folders: "INBOX" is the root, "A.B" is ROOT/.A.B."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        if name.upper() == INBOX:
            return self.root
        return self.root / f".{check_folder_name(name)}"

    def _folder_names(self) -> list[str]:
        try:
            names = os.listdir(self.root)
        except OSError as exc:
            raise StoreError(
                f"cannot list the Maildir {safe_line(str(self.root))}: {exc.strerror}",
                hint="check that it exists",
            ) from exc
        return sorted(
            n[1:]
            for n in names
            if n.startswith(".") and n not in (".", "..") and is_maildir(self.root / n)
        )

    def list_folders(self, pattern: str = "*") -> list[FolderInfo]:
        names = self._folder_names()
        existing = set(names)
        implied = {n.rsplit(".", i)[0] for n in names for i in range(1, n.count(".") + 1)}
        matcher = pattern_regex(pattern, ".")
        out = []
        if matcher.match(INBOX):
            out.append(FolderInfo(INBOX, INBOX))
        for name in sorted(existing | implied):
            if not matcher.match(name):
                continue
            children = any(other.startswith(name + ".") for other in existing)
            out.append(
                FolderInfo(
                    name,
                    name.rsplit(".", 1)[-1],
                    selectable=name in existing,
                    has_children=children,
                )
            )
        return out

    def open(self, name: str, read_only: bool = False) -> MaildirFolder:
        path = self._path(name)
        if not is_maildir(path):
            raise StoreError(
                f"no folder {safe_line(name)!r} in the Maildir {safe_line(str(self.root))}",
                hint="check the name, or create the folder",
            )
        return MaildirFolder(path, read_only, name=name)

    def create(self, name: str) -> None:
        path = self.root / f".{check_folder_name(name)}"
        if path.exists():
            raise StoreError(f"the folder {safe_line(name)!r} exists already")
        try:
            path.mkdir(mode=0o700)
            for sub in ("cur", "new", "tmp"):
                (path / sub).mkdir(mode=0o700)
            (path / "maildirfolder").touch(mode=0o600)
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder {safe_line(name)!r}: {exc.strerror}",
                hint="check the Maildir's permissions",
            ) from exc

    def rename(self, old: str, new: str) -> None:
        source = self.root / f".{check_folder_name(old)}"
        check_folder_name(new)
        if not is_maildir(source):
            raise StoreError(f"no folder {safe_line(old)!r} to rename")
        # The folder and its subfolders (.old.x -> .new.x), as Dovecot renames them.
        moves = [(old, new)] + [
            (n, new + n[len(old) :]) for n in self._folder_names() if n.startswith(old + ".")
        ]
        for _, target in moves:
            if (self.root / f".{target}").exists():
                raise StoreError(
                    f"cannot rename {safe_line(old)!r}: {safe_line(target)!r} exists already"
                )
        try:
            for before, after in moves:
                os.rename(self.root / f".{before}", self.root / f".{after}")
        except OSError as exc:
            raise StoreError(
                f"cannot rename {safe_line(old)!r}: {exc.strerror}",
                hint="check the Maildir's permissions",
            ) from exc

    def delete(self, name: str) -> None:
        """Delete a folder and its messages (its subfolders, other directories, stay)."""
        path = self.root / f".{check_folder_name(name)}"
        if not is_maildir(path):
            raise StoreError(f"no folder {safe_line(name)!r} to delete")
        unexpected = [
            p.name for p in path.iterdir() if p.is_dir() and p.name not in ("cur", "new", "tmp")
        ]
        if unexpected:
            raise StoreError(
                f"the folder {safe_line(name)!r} holds other directories "
                f"({safe_line(', '.join(unexpected))}); not deleted",
                hint="move them away first",
            )
        try:
            shutil.rmtree(path)
        except OSError as exc:
            raise StoreError(
                f"cannot delete the folder {safe_line(name)!r}: {exc.strerror}",
                hint="check the Maildir's permissions",
            ) from exc
