"""An mbox rewrite in place: its plan, and its redo journal, so that a crash mid-rewrite
loses no mail.

plan_rewrite() says what the new tail is made of. Before the first byte of the mailbox
changes, the new tail is written to a journal and fsynced; recover() finishes an
interrupted rewrite. See mbox_folder.py for why and how.

The mailbox's directory may be a shared spool (mode 1777) where another user can put a
file at our journal's name. Only a journal this user wrote (a regular file of our uid) is
read, replaced or removed; another's is left where it is (the sticky bit forbids removing
it, and it is not ours to judge), and the rewrite keeps its journal in our state directory.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pinesh.paths import mbox_journal_dir
from pinesh.stores.base import Flag
from pinesh.stores.local.folder import sync_directory
from pinesh.stores.local.mbox_format import BLOCK, MboxEntry, with_status

_JOURNAL_MAGIC = b"PINESH-MBOX-JOURNAL 1\n"
Piece = tuple[int, int] | bytes  # a range of the mailbox to copy, or new bytes


@dataclass(frozen=True)
class RewritePlan:
    """An in-place rewrite of an mbox from offset on: what to write, and what it gives."""

    offset: int  # the first byte that changes
    pieces: list[Piece]  # the new tail, from offset on
    kept: list[tuple[int, MboxEntry]]  # every message after the rewrite, (uid, where)
    removed: list[int]  # UIDs of the messages expunged


def plan_rewrite(
    entries: Sequence[tuple[int, MboxEntry]],
    wanted: Callable[[int, MboxEntry], frozenset[Flag]],
    read: Callable[[int, int], bytes],
    expunge: bool,
) -> RewritePlan | None:
    """The rewrite that gives each message (uid, entry) the flags wanted(uid, entry) and,
    when expunging, drops those with DELETED (uid 0: never dropped); None if nothing
    changes. read(offset, length) gives bytes of the mailbox (for the header blocks)."""
    first = None
    for position, (uid, entry) in enumerate(entries):
        flags = wanted(uid, entry)
        if flags != entry.flags or (expunge and uid and Flag.DELETED in flags):
            first = position
            break
    if first is None:
        return None
    offset = entries[first][1].start
    pieces: list[Piece] = []
    kept: list[tuple[int, MboxEntry]] = list(entries[:first])
    removed: list[int] = []
    pos = offset
    for uid, entry in entries[first:]:
        flags = wanted(uid, entry)
        if expunge and uid and Flag.DELETED in flags:
            removed.append(uid)
            continue
        if flags == entry.flags:
            pieces.append((entry.start, entry.end))
            kept.append((uid, entry.moved(pos - entry.start)))
            pos += entry.end - entry.start
            continue
        block = with_status(read(entry.head, entry.blank - entry.head), flags)
        pieces += [(entry.start, entry.head), block, (entry.blank, entry.end)]
        grown = len(block) - (entry.blank - entry.head)
        moved = entry.moved(pos - entry.start)
        kept.append(
            (
                uid,
                replace(
                    moved,
                    blank=moved.blank + grown,
                    content_end=moved.content_end + grown,
                    end=moved.end + grown,
                    flags=flags,
                    old=True,
                ),
            )
        )
        pos += entry.end - entry.start + grown
    return RewritePlan(offset, pieces, kept, removed)


def journal_paths(path: Path) -> list[Path]:
    """Where a rewrite of path keeps its journal: next to it, else in our state dir."""
    absolute = Path(os.path.abspath(path))
    digest = hashlib.sha256(str(absolute).encode("utf-8", "surrogateescape")).hexdigest()
    return [
        absolute.with_name(f".{absolute.name}.pinesh-journal"),
        mbox_journal_dir() / f"{digest[:32]}.pinesh-journal",
    ]


def _is_ours(info: os.stat_result) -> bool:
    return stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid()


def find_journals(path: Path) -> tuple[list[Path], list[Path]]:
    """The files at journal_paths(path): (ours, others). Ours are journals this user
    wrote; others are anything else found there (another user's file, a FIFO, a link)."""
    ours: list[Path] = []
    others: list[Path] = []
    for candidate in journal_paths(path):
        try:
            info = os.lstat(candidate)
        except FileNotFoundError:
            continue
        except OSError:
            others.append(candidate)
            continue
        (ours if _is_ours(info) else others).append(candidate)
    return ours, others


@dataclass(frozen=True)
class Journal:
    """A rewrite of a mailbox's tail: its bytes from offset on become the journal's data.

    old_digest is the SHA-256 of the tail it replaces (offset..old_size), tail_digest of
    the bytes the rewrite cuts off (new_size..old_size) when it shrinks the file.
    """

    path: Path
    dev: int
    ino: int
    offset: int
    old_size: int
    new_size: int
    old_digest: str
    tail_digest: str
    data_at: int  # where the new tail starts in the journal file


def _sha(fd: int, start: int, end: int) -> str:
    digest = hashlib.sha256()
    for chunk in _copy_chunks(fd, start, end):
        digest.update(chunk)
    return digest.hexdigest()


def _copy_chunks(fd: int, start: int, end: int) -> Iterator[bytes]:
    pos = start
    while pos < end:
        chunk = os.pread(fd, min(BLOCK, end - pos), pos)
        if not chunk:
            raise OSError(errno.EIO, "the mailbox is shorter than expected")
        yield chunk
        pos += len(chunk)


def write_all(fd: int, data: bytes, at: int | None = None) -> None:
    view = memoryview(data)
    while view:
        done = os.write(fd, view) if at is None else os.pwrite(fd, view, at)
        view = view[done:]
        if at is not None:
            at += done


def write_journal(
    fd: int, path: Path, offset: int, pieces: Sequence[Piece], target: Path | None = None
) -> Journal:
    """Write the journal of a rewrite (the new tail made of pieces) and make it durable.

    It goes to target (replacing a journal there atomically), else to the first of
    journal_paths() that takes it.
    """
    info = os.fstat(fd)
    old_size = info.st_size
    new_size = offset + sum(p[1] - p[0] if isinstance(p, tuple) else len(p) for p in pieces)
    tail_digest = _sha(fd, new_size, old_size) if new_size < old_size else "-"
    header = (
        _JOURNAL_MAGIC
        + (
            f"{info.st_dev} {info.st_ino} {offset} {old_size} {new_size} "
            f"{_sha(fd, offset, old_size)} {tail_digest}\n"
        ).encode()
    )
    last_error: OSError | None = None
    others = [] if target else find_journals(path)[1]
    for place in [target] if target else journal_paths(path):
        if place in others:
            continue  # another user's file: not ours to replace
        # A random name, created exclusively and never through a symlink: the mailbox's
        # directory may be writable by others (a sticky spool).
        temporary = place.with_name(f"{place.name}.{secrets.token_hex(8)}.tmp")
        try:
            place.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            out = os.open(temporary, flags, 0o600)
        except OSError as exc:
            last_error = exc
            continue
        try:
            digest = hashlib.sha256()
            write_all(out, header)
            for piece in pieces:
                chunks = [piece] if isinstance(piece, bytes) else _copy_chunks(fd, *piece)
                for chunk in chunks:
                    digest.update(chunk)
                    write_all(out, chunk)
            write_all(out, b"END " + digest.hexdigest().encode() + b"\n")
            os.fsync(out)
        except OSError:
            os.close(out)
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        os.close(out)
        try:
            os.replace(temporary, place)
        except OSError as exc:
            # Someone else's file appeared at place meanwhile (a sticky directory).
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            last_error = exc
            continue
        sync_directory(place.parent)
        return Journal(
            place,
            info.st_dev,
            info.st_ino,
            offset,
            old_size,
            new_size,
            header.split()[-2].decode(),
            tail_digest,
            len(header),
        )
    raise last_error or OSError(errno.EACCES, "no place for the journal")


def read_journal(path: Path) -> Journal | None:
    """A journal, if it is complete and intact (else the rewrite never started)."""
    try:
        info = os.lstat(path)
        # Only a journal we wrote ourselves: in a directory others can write to, a planted
        # one would otherwise overwrite the mailbox.
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
            return None
        with open(path, "rb") as handle:
            if handle.readline() != _JOURNAL_MAGIC:
                return None
            fields = handle.readline().split()
            data_at = handle.tell()
            dev, ino, offset, old_size, new_size = (int(f) for f in fields[:5])
            old_digest, tail_digest = (f.decode() for f in fields[5:7])
            length = new_size - offset
            digest = hashlib.sha256()
            remaining = length
            while remaining:
                chunk = handle.read(min(BLOCK, remaining))
                if not chunk:
                    return None
                digest.update(chunk)
                remaining -= len(chunk)
            if handle.read() != b"END " + digest.hexdigest().encode() + b"\n":
                return None
    except (OSError, ValueError):
        return None
    return Journal(path, dev, ino, offset, old_size, new_size, old_digest, tail_digest, data_at)


def apply_journal(fd: int, journal: Journal, tick: Callable[[], None] = lambda: None) -> None:
    """Make the mailbox's tail the journal's, durably, then remove the journal."""
    if journal.new_size > journal.old_size:
        # Reserve the space first: a full disk fails here, before anything is overwritten.
        try:
            os.posix_fallocate(fd, journal.old_size, journal.new_size - journal.old_size)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                raise
            os.ftruncate(fd, journal.new_size)
        os.fsync(fd)
    source = os.open(journal.path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        length = journal.new_size - journal.offset
        done = 0
        while done < length:
            chunk = os.pread(source, min(BLOCK, length - done), journal.data_at + done)
            if not chunk:
                raise OSError(errno.EIO, f"the journal {journal.path} is short")
            write_all(fd, chunk, journal.offset + done)
            done += len(chunk)
            tick()
    finally:
        os.close(source)
    os.fsync(fd)
    if journal.new_size < journal.old_size:
        os.ftruncate(fd, journal.new_size)
        os.fsync(fd)
    os.unlink(journal.path)
    sync_directory(journal.path.parent)


def appended_since(fd: int, journal: Journal) -> int:
    """Where the mailbox ended when the journal's rewrite was interrupted: what lies
    after it was appended later (by an MTA), and must be kept.

    The rewrite changes the size only at two steps, each atomic: growing (to new_size,
    before writing) and truncating (to new_size, after writing). Growing left the new
    space zeroed and the old tail intact until written; truncating is told apart by the
    bytes it cuts off, which nobody but us writes before it happens.
    """
    size = os.fstat(fd).st_size
    if journal.new_size > journal.old_size:
        if size < journal.new_size:
            return journal.old_size
        untouched = _sha(fd, journal.offset, journal.old_size) == journal.old_digest
        if untouched and os.pread(fd, 1, journal.old_size) != b"\0":
            return journal.old_size  # never grown: an MTA's mail follows the old end
        return journal.new_size
    if journal.new_size < journal.old_size:
        if size >= journal.old_size and (
            _sha(fd, journal.new_size, journal.old_size) == journal.tail_digest
        ):
            return journal.old_size  # not yet truncated
        return journal.new_size
    return journal.old_size


def recover(fd: int, path: Path, tick: Callable[[], None] = lambda: None) -> bool:
    """Finish a rewrite that a crash interrupted (exclusive locks held); whether one was.

    Only our own journals count (find_journals): another user's file is left alone."""
    found = False
    for candidate in find_journals(path)[0]:
        found = True
        journal = read_journal(candidate)
        if journal is None:
            # Incomplete: the crash came while writing it, before the mailbox was touched.
            os.unlink(candidate)
            continue
        info = os.fstat(fd)
        if (info.st_dev, info.st_ino) != (journal.dev, journal.ino):
            # Another file now: keep the journal (it holds mail) where a person finds it.
            aside = candidate.with_name(f"{candidate.name}.orphaned-{time.time():.0f}")
            os.rename(candidate, aside)
            continue
        end = appended_since(fd, journal)
        if end < info.st_size:
            # Mail arrived after the crash: a new journal makes it part of the new tail.
            data = journal.data_at
            pieces: list[Piece] = []
            with open(journal.path, "rb") as handle:
                handle.seek(data)
                pieces.append(handle.read(journal.new_size - journal.offset))
            pieces.append(os.pread(fd, info.st_size - end, end))
            # Same place: a crash now leaves either the old journal or this one, never both.
            journal = write_journal(fd, path, journal.offset, pieces, target=candidate)
        apply_journal(fd, journal, tick)
    return found
