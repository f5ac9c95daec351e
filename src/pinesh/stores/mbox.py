"""The mbox driver: the mail spool and Pine's ``~/mail`` files, shared safely with MTAs.

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
the crash (it lies after the end our rewrite had: see appended_since()).

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
import hashlib
import os
import re
import shutil
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Self

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
)
from pinesh.stores.headers import envelope_from_headers
from pinesh.stores.local_common import (
    mime_structure,
    part_content,
    search_uids,
    sort_uids,
    thread_envelopes,
)
from pinesh.stores.locking import MailboxLock, locked_mailbox
from pinesh.stores.maildir import MaildirFolder, is_maildir, new_uidvalidity, pattern_regex
from pinesh.textsafe import safe_line

MAX_HEADER_BYTES = 1024 * 1024  # of one message's headers read for flags and envelopes
_BLOCK = 4 * 1024 * 1024  # bytes read at a time when scanning and copying
_POLL_SECONDS = 0.5

# --------------------------------------------------------------------------- format

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# A From line has a time and a year (c-client's VALID is stricter about their places, but
# writers differ): a body line "From here on" is not one, even when nobody quoted it.
_FROM_LINE = re.compile(rb"From (?=[^\n]*\d{1,2}:\d\d)(?=[^\n]*\b(?:19|2\d)\d\d\b)")
_FROM_DATE = re.compile(
    rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[ \t]+(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    rb"[ \t]+(\d{1,2})[ \t]+(\d{1,2}):(\d\d)(?::(\d\d))?[ \t]+"
    rb"(?:([+-]\d{4}|[A-Z]{1,5})[ \t]+)?(\d{4})"
)
_QUOTE = re.compile(rb"^(>*From )", re.MULTILINE)
_UNQUOTE = re.compile(rb"^>(>*From )", re.MULTILINE)
# Headers that other mail programs rewrite with the flags: not part of a message's identity.
_VOLATILE = frozenset(
    {b"status", b"x-status", b"x-keywords", b"x-uid", b"x-imap", b"x-imapbase", b"content-length"}
)
_PSEUDO_SUBJECT = b"DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA"
_RETURN_PATH = re.compile(rb"(?im)^Return-Path:[ \t]*<?([!-;=?-~]+?)>?[ \t]*\r?$")
_FROM_ADDRESS = re.compile(rb"(?im)^From:[^\n]*?<?([!-;=?-~]+@[!-;=?-~]+?)>?[ \t]*\r?$")


def is_from_line(line: bytes) -> bool:
    """Whether a line starts a message: "From sender Thu Jun  5 10:00:00 2025"."""
    return _FROM_LINE.match(line) is not None


def from_line_date(line: bytes) -> datetime | None:
    """The date of a From line (local time when it names no zone, as ctime writes it)."""
    match = _FROM_DATE.search(line)
    if match is None:
        return None
    month = _MONTHS.index(match[1].decode()) + 1
    try:
        moment = datetime(
            int(match[7]),
            month,
            int(match[2]),
            int(match[3]),
            int(match[4]),
            int(match[5] or 0),
        )
    except ValueError:
        return None
    zone = match[6]
    if zone and zone[:1] in b"+-":
        sign = -1 if zone[:1] == b"-" else 1
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
        return moment.replace(tzinfo=timezone(sign * offset))
    return moment.astimezone()


def quote_from(data: bytes) -> bytes:
    """mboxrd quoting: one more '>' before every line that starts with '>*From '."""
    return _QUOTE.sub(rb">\1", data)


def unquote_from(data: bytes) -> bytes:
    """The reverse of quote_from: one '>' less before '>+From ' lines."""
    return _UNQUOTE.sub(rb"\1", data)


def blank_line(data: bytes, start: int = 0, end: int | None = None) -> int | None:
    """Where the empty line that ends the headers starting at data[start] begins, if any
    before end (start itself, when there are no headers)."""
    if data[start : start + 1] == b"\n" or data[start : start + 2] == b"\r\n":
        return start
    return _next_blank(data, start, end)


def _next_blank(data: bytes, start: int, end: int | None = None) -> int | None:
    """Where the first empty line after a line end at or after data[start] begins."""
    stop = len(data) if end is None else end
    found = None
    for sep in (b"\n\n", b"\n\r\n"):
        at = data.find(sep, start, stop)
        if at >= 0 and (found is None or at + 1 < found):
            found = at + 1
    return found


def _fields(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(lowercase name, whole field with continuation lines) of each header field."""
    name = b""
    lines: list[bytes] = []
    for line in block.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and lines:
            lines.append(line)
            continue
        if lines:
            yield name, b"".join(lines)
        name = line.split(b":", 1)[0].strip().lower()
        lines = [line]
    if lines:
        yield name, b"".join(lines)


def status_flags(block: bytes) -> tuple[frozenset[Flag], bool]:
    """(flags, old) from the Status and X-Status headers of a header block."""
    status = xstatus = b""
    for name, whole in _fields(block):
        value = whole.partition(b":")[2].strip() or b" "  # " ": seen, even if empty
        if name == b"status" and not status:
            status = value
        elif name == b"x-status" and not xstatus:
            xstatus = value
    flags = set()
    if b"R" in status:
        flags.add(Flag.SEEN)
    letters = {b"A": Flag.ANSWERED, b"F": Flag.FLAGGED, b"T": Flag.DRAFT, b"D": Flag.DELETED}
    for letter, flag in letters.items():
        if letter in xstatus:
            flags.add(flag)
    return frozenset(flags), b"O" in status


def with_status(block: bytes, flags: frozenset[Flag]) -> bytes:
    """A header block with its Status and X-Status replaced (at the end, as c-client
    writes them); the message is marked old (O), as any MUA that has seen it does."""
    newline = b"\r\n" if block.endswith(b"\r\n") else b"\n"
    kept = b"".join(w for n, w in _fields(block) if n not in (b"status", b"x-status"))
    if kept and not kept.endswith(b"\n"):
        kept += newline
    status = (b"R" if Flag.SEEN in flags else b"") + b"O"
    xstatus = b"".join(
        letter
        for flag, letter in (
            (Flag.DELETED, b"D"),
            (Flag.FLAGGED, b"F"),
            (Flag.ANSWERED, b"A"),
            (Flag.DRAFT, b"T"),
        )
        if flag in flags
    )
    out = kept + b"Status: " + status + newline
    if xstatus:
        out += b"X-Status: " + xstatus + newline
    return out


def identity(from_line: bytes, block: bytes) -> bytes:
    """What finds a message again after another program rewrote the file."""
    digest = hashlib.blake2b(from_line, digest_size=16)
    for name, whole in _fields(block):
        if name not in _VOLATILE:
            digest.update(whole)
    return digest.digest()


def from_line(message: bytes, date: datetime | None) -> bytes:
    """A From line for a message we store: its Return-Path (else From) and the date in
    local time, as ctime() writes it (what Postfix and c-client write)."""
    end = blank_line(message)
    head = message[: len(message) if end is None else end]
    match = _RETURN_PATH.search(head) or _FROM_ADDRESS.search(head)
    sender = match[1] if match else b"MAILER-DAEMON"
    stamp = (date or datetime.now().astimezone()).timestamp()
    return b"From " + sender + b" " + time.asctime(time.localtime(stamp)).encode() + b"\n"


def mbox_record(
    message: bytes, flags: frozenset[Flag] = frozenset(), date: datetime | None = None
) -> bytes:
    """A message as it goes into an mbox: From line, quoted message with status headers
    when it has flags, and the empty line that ends it."""
    if flags:
        end = blank_line(message)
        if end is None:
            message = with_status(message, flags) + b"\n"
        else:
            message = with_status(message[:end], flags) + message[end:]
    body = quote_from(message)
    if not body.endswith(b"\n"):
        body += b"\n"
    return from_line(message, date) + body + b"\n"


@dataclass(frozen=True)
class MboxEntry:
    """Where one message lies in an mbox file, and what its headers say."""

    start: int  # its From line
    head: int  # its first header line
    blank: int  # the empty line after its headers (content_end when there is none)
    content_end: int  # its end, less the empty line that separates it from the next
    end: int  # the next message's From line, or the end of the file
    flags: frozenset[Flag]
    old: bool  # Status has O: not recent
    key: bytes
    pseudo: bool = False  # c-client's FOLDER INTERNAL DATA message

    def moved(self, delta: int) -> MboxEntry:
        return replace(
            self,
            start=self.start + delta,
            head=self.head + delta,
            blank=self.blank + delta,
            content_end=self.content_end + delta,
            end=self.end + delta,
        )


Reader = Callable[[int, int], bytes]  # read(offset, length)


class NotMboxError(StoreError):
    """A file that is not an mbox (it does not start with a From line)."""


def _candidates(read: Reader, size: int, block: int) -> Iterator[int]:
    """Offsets of the lines after offset 0 that start with "From "."""
    pos = 0
    carry = b""
    while pos < size:
        chunk = read(pos, min(block, size - pos))
        if not chunk:
            return
        data = carry + chunk
        base = pos - len(carry)
        at = data.find(b"\nFrom ")
        while at >= 0:
            yield base + at + 1
            at = data.find(b"\nFrom ", at + 1)
        carry = data[-5:]  # "\nFrom" may straddle two blocks; a match in it ends later
        pos += len(chunk)


def _header_block(read: Reader, head: int, end: int) -> tuple[bytes, int]:
    """(the header lines, up to MAX_HEADER_BYTES of them; where the empty line after
    them begins, or end) of a message whose headers start at head."""
    data = b""
    while True:
        take = min(64 * 1024, end - head - len(data))
        seen = max(len(data) - 2, 0)  # an empty line may straddle two reads
        if take > 0:
            data += read(head + len(data), take)
        found = _next_blank(data, seen) if seen else blank_line(data)
        if found is not None:
            return data[:found], head + found
        if take <= 0 or head + len(data) >= end:
            return data, end
        if len(data) >= MAX_HEADER_BYTES:
            # Hostile headers: keep the first MB for flags and identity, find the end.
            return data, _blank_after(read, head + len(data) - 2, end)


def _blank_after(read: Reader, pos: int, end: int) -> int:
    while pos < end:
        chunk = read(pos, min(_BLOCK, end - pos))
        found = _next_blank(chunk, 0)
        if found is not None:
            return pos + found
        if len(chunk) <= 2:
            break
        pos += len(chunk) - 2
    return end


def scan_mbox(read: Reader, size: int, chunk_size: int = _BLOCK) -> list[MboxEntry]:
    """The messages of an mbox of size bytes that read(offset, length) gives.

    NotMboxError when a non-empty file does not start with "From ".
    """
    if size == 0:
        return []
    if read(0, 5) != b"From ":
        raise NotMboxError('not an mbox file: it does not start with a "From " line')
    starts = [0]
    for at in _candidates(read, size, chunk_size):
        if at <= starts[-1]:
            continue
        line = read(at, min(4096, size - at))
        if b"\n" not in line:  # a long (hostile) line: look further for its end
            line = read(at, min(MAX_HEADER_BYTES, size - at))
        if is_from_line(line.split(b"\n", 1)[0]):
            starts.append(at)
    entries = []
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else size
        first = read(start, min(4096, end - start))
        newline = first.find(b"\n")
        if newline < 0:  # a From line longer than 4 KB: hostile; look further
            rest = read(start, min(MAX_HEADER_BYTES, end - start))
            newline = rest.find(b"\n")
            first = rest
        line_end = start + newline + 1 if newline >= 0 else end
        line = first[: line_end - start]
        block, blank = _header_block(read, line_end, end)
        tail = read(max(end - 2, line_end), min(2, end - line_end))
        # The empty line that separates messages is not part of the message.
        content_end = end
        if tail.endswith(b"\n\n") or (tail == b"\n" and end - line_end == 1):
            content_end = end - 1
        flags, old = status_flags(block)
        pseudo = index == 0 and b"\nx-imap" in b"\n" + block.lower() and _PSEUDO_SUBJECT in block
        entries.append(
            MboxEntry(
                start,
                line_end,
                min(blank, content_end),
                content_end,
                end,
                flags,
                old,
                identity(line, block),
                pseudo,
            )
        )
    return entries


def scan_bytes(data: bytes) -> list[MboxEntry]:
    """scan_mbox over bytes in memory."""
    return scan_mbox(lambda at, n: data[at : at + n], len(data))


def without_mbox_headers(message: bytes) -> bytes:
    """A message without the headers that belong to the mbox, not to it (Status,
    X-Status, X-Keywords, X-UID, X-IMAP, Content-Length), as c-client and Dovecot show
    it: a copy elsewhere must not carry flags that are stale there."""
    end = blank_line(message)
    head = message if end is None else message[:end]
    kept = b"".join(w for n, w in _fields(head) if n not in _VOLATILE)
    return kept if end is None else kept + message[end:]


def message_bytes(read: Reader, entry: MboxEntry) -> bytes:
    """A message as it was delivered: without its From line, separator, quoting and
    mbox headers."""
    return without_mbox_headers(unquote_from(read(entry.head, entry.content_end - entry.head)))


# --------------------------------------------------------------------------- journal

_JOURNAL_MAGIC = b"PINESH-MBOX-JOURNAL 1\n"
Piece = tuple[int, int] | bytes  # a range of the mailbox to copy, or new bytes


def _state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "pinesh" / "mbox-journals"


def journal_paths(path: Path) -> list[Path]:
    """Where a rewrite of path keeps its journal: next to it, else in our state dir."""
    absolute = Path(os.path.abspath(path))
    digest = hashlib.sha256(str(absolute).encode("utf-8", "surrogateescape")).hexdigest()
    return [
        absolute.with_name(f".{absolute.name}.pinesh-journal"),
        _state_dir() / f"{digest[:32]}.pinesh-journal",
    ]


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
        chunk = os.pread(fd, min(_BLOCK, end - pos), pos)
        if not chunk:
            raise OSError(errno.EIO, "the mailbox is shorter than expected")
        yield chunk
        pos += len(chunk)


def _write_all(fd: int, data: bytes, at: int | None = None) -> None:
    view = memoryview(data)
    while view:
        done = os.write(fd, view) if at is None else os.pwrite(fd, view, at)
        view = view[done:]
        if at is not None:
            at += done


def _sync_directory(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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
    for place in [target] if target else journal_paths(path):
        temporary = place.with_name(f"{place.name}.{os.getpid()}.tmp")
        try:
            place.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            out = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            last_error = exc
            continue
        try:
            digest = hashlib.sha256()
            _write_all(out, header)
            for piece in pieces:
                chunks = [piece] if isinstance(piece, bytes) else _copy_chunks(fd, *piece)
                for chunk in chunks:
                    digest.update(chunk)
                    _write_all(out, chunk)
            _write_all(out, b"END " + digest.hexdigest().encode() + b"\n")
            os.fsync(out)
        except OSError:
            os.close(out)
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        os.close(out)
        os.replace(temporary, place)
        _sync_directory(place.parent)
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
                chunk = handle.read(min(_BLOCK, remaining))
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
            chunk = os.pread(source, min(_BLOCK, length - done), journal.data_at + done)
            if not chunk:
                raise OSError(errno.EIO, f"the journal {journal.path} is short")
            _write_all(fd, chunk, journal.offset + done)
            done += len(chunk)
            tick()
    finally:
        os.close(source)
    os.fsync(fd)
    if journal.new_size < journal.old_size:
        os.ftruncate(fd, journal.new_size)
        os.fsync(fd)
    os.unlink(journal.path)
    _sync_directory(journal.path.parent)


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
    """Finish a rewrite that a crash interrupted (exclusive locks held); whether one was."""
    found = False
    for candidate in journal_paths(path):
        if not candidate.exists():
            continue
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


# --------------------------------------------------------------------------- folder


def _nothing() -> None:
    """A tick that does nothing (no dot-lock to keep fresh)."""


class MboxFolder(Folder):
    """One mbox file, open. Not thread-safe (see Folder)."""

    def __init__(self, path: Path, read_only: bool = False, name: str | None = None) -> None:
        self.path = Path(path)
        self.name = name or str(path)
        self.read_only = read_only
        self.capabilities = Capability.NONE if read_only else Capability.APPEND | Capability.EXPUNGE
        self.lock_warning: str | None = None  # set when the mailbox could not be dot-locked
        self.uidvalidity = new_uidvalidity()
        self._fd = self._open()
        self._entries: list[tuple[int, MboxEntry]] = []  # file order; uid 0: hidden
        self._index: dict[int, int] = {}  # uid -> position in _entries
        self._next_uid = 1
        self._stamp: tuple[int, ...] = ()
        self._pending: dict[int, tuple[frozenset[Flag], frozenset[Flag]]] = {}  # (set, clear)
        self._cache: dict[int, Envelope] = {}
        self._arrived = False  # UIDs given out since the last check()
        try:
            with self._locked(exclusive=False):
                pass  # the first scan
        except BaseException:
            os.close(self._fd)
            raise
        self._arrived = False

    # -- the file

    def _shown(self) -> str:
        return safe_line(self.name)

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
                crashed = any(p.exists() for p in journal_paths(self.path))
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
            raise StoreError(
                f"cannot finish an interrupted rewrite of {self._shown()}: {exc.strerror}",
                hint="no mail is lost: the rewrite's journal is kept ("
                + ", ".join(safe_line(str(p)) for p in journal_paths(self.path))
                + "); free some disk space and open the folder again",
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

    def __enter__(self) -> Self:
        return self

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

    def _all(self) -> list[Envelope]:
        return self.envelopes(self.uids())

    def sort(self, key: SortKey, reverse: bool = False) -> list[int]:
        if key is SortKey.ARRIVAL:  # file order is arrival order: nothing to read
            uids = self.uids()
            return uids[::-1] if reverse else uids
        return sort_uids(self._all(), key, reverse)

    def thread(self) -> list[ThreadNode]:
        return thread_envelopes(self._all())

    def search(self, query: SearchQuery) -> list[int]:
        return search_uids(self._all(), query, self.fetch_message)

    def fetch_message(self, uid: int) -> bytes:
        with self._locked(exclusive=False):
            entry = self._entry(uid)
            if entry is None:
                raise self._gone(uid)
            return message_bytes(self._read, entry)

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

    def check(self, timeout: float = 0.0) -> bool:
        """Write pending flags, then look for new mail (polling up to timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            if self._pending and not self.read_only:
                self.flush()
            with self._locked(exclusive=False):
                pass
            if self._arrived:
                self._arrived = False
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(_POLL_SECONDS, remaining))

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

    def _rewrite(self, lock: MailboxLock, expunge: bool) -> list[int]:
        """Write pending flags (and drop DELETED messages when expunging), in place."""
        first = None
        for position, (uid, entry) in enumerate(self._entries):
            wanted = self._flags(uid, entry) if uid else entry.flags
            if wanted != entry.flags or (expunge and uid and Flag.DELETED in wanted):
                first = position
                break
        if first is None:
            self._pending.clear()
            return []
        offset = self._entries[first][1].start
        pieces: list[Piece] = []
        kept: list[tuple[int, MboxEntry]] = list(self._entries[:first])
        removed: list[int] = []
        pos = offset
        for uid, entry in self._entries[first:]:
            wanted = self._flags(uid, entry) if uid else entry.flags
            if expunge and uid and Flag.DELETED in wanted:
                removed.append(uid)
                continue
            if wanted == entry.flags:
                pieces.append((entry.start, entry.end))
                kept.append((uid, entry.moved(pos - entry.start)))
                pos += entry.end - entry.start
                continue
            block = with_status(self._read(entry.head, entry.blank - entry.head), wanted)
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
                        flags=wanted,
                        old=True,
                    ),
                )
            )
            pos += entry.end - entry.start + grown
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
            apply_journal(self._fd, journal, tick)
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
                _write_all(self._fd, prefix + record, size)
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


# --------------------------------------------------------------------------- store

_HIDDEN_SUFFIXES = (".lock", ".pinesh-journal")
MAX_LIST_DEPTH = 16


def looks_like_mbox(path: Path) -> bool:
    """An empty file, or one that starts with a From line."""
    try:
        with open(path, "rb") as handle:
            start = handle.read(5)
    except OSError:
        return False
    return start in (b"", b"From ")


class MboxStore(Store):
    """A directory of mail folders, as Pine's ``~/mail``: mbox files and Maildirs.

    Names are paths relative to the directory, with "/" between levels.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _path(self, name: str) -> Path:
        parts = name.strip("/").split("/")
        if (
            not name.strip("/")
            or name.startswith("/")
            or any(p in ("", ".", "..") or not p.isprintable() for p in parts)
        ):
            raise StoreError(
                f"{safe_line(name)!r} is not a folder name in {safe_line(str(self.directory))}",
                hint="use a name relative to the folder directory, without '..'",
            )
        return self.directory.joinpath(*parts)

    def _walk(self, directory: Path, prefix: str, depth: int) -> Iterator[FolderInfo]:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            return
        for entry in names:
            if entry.startswith(".") or entry.endswith(_HIDDEN_SUFFIXES):
                continue  # dot files, lock files, journals
            path = directory / entry
            name = prefix + entry
            if path.is_dir():
                if is_maildir(path):
                    yield FolderInfo(name, entry)
                elif depth < MAX_LIST_DEPTH and not path.is_symlink():
                    yield FolderInfo(name, entry + "/", selectable=False, has_children=True)
                    yield from self._walk(path, name + "/", depth + 1)
            elif path.is_file() and looks_like_mbox(path):
                yield FolderInfo(name, entry)

    def list_folders(self, pattern: str = "*") -> list[FolderInfo]:
        matcher = pattern_regex(pattern, "/")
        return [f for f in self._walk(self.directory, "", 0) if matcher.match(f.name)]

    def open(self, name: str, read_only: bool = False) -> Folder:
        path = self._path(name)
        if path.is_dir():
            if is_maildir(path):
                return MaildirFolder(path, read_only, name=name)
            raise StoreError(
                f"{safe_line(name)!r} is a directory of folders, not a folder",
                hint="open one of the folders in it",
            )
        return MboxFolder(path, read_only, name=name)

    def create(self, name: str) -> None:
        """An empty mbox file; a name that ends in "/" makes a directory instead."""
        path = self._path(name)
        try:
            if name.endswith("/"):
                path.mkdir(mode=0o700)
            else:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
        except FileExistsError as exc:
            raise StoreError(f"the folder {safe_line(name)!r} exists already") from exc
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder {safe_line(name)!r}: {exc.strerror}",
                hint="check that its directory exists and is writable",
            ) from exc

    def rename(self, old: str, new: str) -> None:
        source, target = self._path(old), self._path(new)
        if not source.exists():
            raise StoreError(f"no folder {safe_line(old)!r} to rename")
        if target.exists():
            raise StoreError(f"cannot rename {safe_line(old)!r}: {safe_line(new)!r} exists")
        try:
            if source.is_file():
                # link + unlink, not rename: it fails rather than replace a file that
                # appeared at the new name meanwhile.
                with _exclusive(source):
                    os.link(source, target)
                    os.unlink(source)
            else:
                os.rename(source, target)
        except OSError as exc:
            raise StoreError(
                f"cannot rename {safe_line(old)!r}: {exc.strerror}",
                hint="check the directory's permissions",
            ) from exc

    def delete(self, name: str) -> None:
        """Delete an mbox file (under its locks), an empty directory, or a Maildir."""
        path = self._path(name)
        try:
            if path.is_file():
                with _exclusive(path):
                    os.unlink(path)
            elif is_maildir(path):
                others = [p.name for p in path.iterdir() if p.is_dir()]
                if set(others) - {"cur", "new", "tmp"}:
                    raise StoreError(
                        f"the Maildir {safe_line(name)!r} holds other directories; not deleted",
                        hint="move them away first",
                    )
                shutil.rmtree(path)
            elif path.is_dir():
                path.rmdir()
            else:
                raise StoreError(f"no folder {safe_line(name)!r} to delete")
        except OSError as exc:
            raise StoreError(
                f"cannot delete {safe_line(name)!r}: {exc.strerror}",
                hint="a directory must be empty first" if path.is_dir() else None,
            ) from exc


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold an mbox file's write locks (for deleting or renaming it)."""
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        with locked_mailbox(path, fd, exclusive=True):
            yield
    finally:
        os.close(fd)
