"""The mbox format, as pure functions of bytes: From lines, mboxrd quoting, the
Status/X-Status flag headers, and the scan of a mailbox into its messages.

See mbox.py for the format as read and written, and for the folder over it.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from pinesh.stores.base import Flag, StoreError

MAX_HEADER_BYTES = 1024 * 1024  # of one message's headers read for flags and envelopes
BLOCK = 4 * 1024 * 1024  # bytes read at a time when scanning and copying

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# A From line has a time and a year (c-client's VALID is stricter about their places, but
# writers differ): a body line "From here on" is not one, even when nobody quoted it.
_FROM_LINE = re.compile(rb"From (?=[^\n]*\d{1,2}:\d\d)(?=[^\n]*\b(?:19|2\d)\d\d\b)")
_FROM_DATE = re.compile(
    rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[ \t]+(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    rb"[ \t]+(\d{1,2})[ \t]+(\d{1,2}):(\d\d)(?::(\d\d))?[ \t]+"
    rb"(?:([+-]\d{4}|[A-Z]{1,5})[ \t]+)?(\d{4})"
)
_LINE = re.compile(rb"[^\n]*\n|[^\n]+")
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
        hours, minutes = int(zone[1:3]), int(zone[3:5])
        if hours > 23 or minutes > 59:  # "+6311": no such zone, so no trustworthy date
            return None
        return moment.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))
    try:
        return moment.astimezone()
    except (OverflowError, ValueError):  # year 1 west of UTC: before datetime.min
        return None


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
    # Lines end at LF only: splitlines() would also cut at a bare CR inside a value.
    for line in _LINE.findall(block):
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
    tail = b""
    if kept == b"\r" or kept.endswith(b"\n\r"):
        # A last line that is a lone CR becomes an empty line (the end of the headers)
        # once a line feed follows it: Status goes before it, not into the body.
        kept, tail = kept[:-1], b"\r"
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
    return out + tail


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
        chunk = read(pos, min(BLOCK, end - pos))
        found = _next_blank(chunk, 0)
        if found is not None:
            return pos + found
        if len(chunk) <= 2:
            break
        pos += len(chunk) - 2
    return end


def scan_mbox(read: Reader, size: int, chunk_size: int = BLOCK) -> list[MboxEntry]:
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
