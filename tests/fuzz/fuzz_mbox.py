"""Family 6: the mbox format (stores/local/mbox_format.py): scanning any bytes, and the
write -> scan round trip.

Allowed errors: NotMboxError from scan_bytes. Invariants: the entries of a scan tile the
file (each ends where the next starts, the last at the end) and each has start <= head <=
blank <= content_end <= end; every message written with mbox_record() reads back with
message_bytes() byte-equal as one message (none split or merged), given that it ends with
a line break (mbox_record adds one) and carries none of the mbox's own headers (Status,
X-Status, X-Keywords, X-UID, X-IMAP, Content-Length), which message_bytes() drops; a
message written with flags and no empty line after its headers gains that empty line.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from pinesh.stores.base import Flag
from pinesh.stores.local.mbox_format import (
    NotMboxError,
    blank_line,
    from_line_date,
    is_from_line,
    mbox_record,
    message_bytes,
    scan_bytes,
    scan_mbox,
    without_mbox_headers,
)
from tests.fuzz.common import SEP, check, pick

MAX_LEN = 4096
MESSAGE_SELECTORS = (0, 1)
_WHEN = datetime(2024, 6, 5, 10, 0, tzinfo=UTC)
_FLAGS = tuple(Flag)

SEEDS = [
    b"\x00From alice@example.org Thu Jun  5 10:00:00 2025\nSubject: a\n\nFrom here on\n"
    b">From quoted\n\nFrom bob Thu Jun  5 10:00:00 2025\nStatus: RO\nX-Status: AF\n\nb\n",
    b"\x00From x Mon Jan  1 00:00:00 +0100 2024\r\nSubject: crlf\r\n\r\nbody\r\n\r\n",
    b"\x00From \n\nFrom 1:00 1999\n",
    b"\x01Subject: one\n\nFrom me Thu Jun  5 10:00:00 2025 in the body\n>From too\n"
    + SEP
    + b"Return-Path: <bounce@example.org>\nSubject: two\n\nno newline at the end"
    + SEP
    + b""
    + SEP
    + b"\n\n\n",
    b"\x01From: Jane <jane@example.org>\r\n\r\n.\r\n" + SEP + b"\rbare cr\r\rFrom 10:00 2024\r",
    b"\x02From sender Thu Jun  5 10:00:00 2025",
]


def _check_tiles(entries: list, size: int) -> None:  # type: ignore[type-arg]
    check(not entries or entries[0].start == 0, "the first message does not start the file")
    for entry, after in itertools.pairwise(entries):
        check(entry.end == after.start, "the messages of a scan do not tile the file")
    check(not entries or entries[-1].end == size, "the last message does not end the file")
    for entry in entries:
        check(
            entry.start <= entry.head <= entry.blank <= entry.content_end <= entry.end,
            f"an entry out of order: {entry}",
        )


def _round_trip(rest: bytes) -> None:
    flags_byte, rest = pick(rest, 256)
    messages = rest.split(SEP)
    flags = frozenset(f for i, f in enumerate(_FLAGS) if flags_byte >> i & 1)
    mbox = b"".join(
        mbox_record(m, flags if i % 2 else frozenset(), _WHEN) for i, m in enumerate(messages)
    )
    entries = scan_bytes(mbox)
    check(len(entries) == len(messages), f"{len(messages)} messages written, {len(entries)} read")
    _check_tiles(entries, len(mbox))
    for i, (entry, message) in enumerate(zip(entries, messages, strict=True)):
        expected = message if message.endswith(b"\n") else message + b"\n"
        if i % 2 and flags and blank_line(expected) is None:
            expected += b"\n"  # Status written after headers-only: they get their empty line
        read = message_bytes(lambda at, n: mbox[at : at + n], entry)
        check(read == without_mbox_headers(expected), f"a message reads back changed: {read!r:.80}")


def TestOneInput(data: bytes) -> None:  # noqa: N802 - the name fuzzing engines call
    which, rest = pick(data, 3)
    if which == 0:
        try:
            entries = scan_bytes(rest)
        except NotMboxError:
            return
        _check_tiles(entries, len(rest))
        # The same file read in small blocks: a "\\nFrom " across a block edge is found.
        small = scan_mbox(lambda at, n: rest[at : at + n], len(rest), chunk_size=7)
        check(small == entries, "the scan depends on the block size")
    elif which == 1:
        _round_trip(rest)
    else:
        line = rest.split(b"\n", 1)[0]
        is_from_line(line)
        from_line_date(line)
