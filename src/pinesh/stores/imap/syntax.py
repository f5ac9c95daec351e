"""Pure pieces of IMAP syntax we write or read ourselves: UID sets, SEARCH keys, SORT
criteria, THREAD replies and the APPENDUID response code.

Search strings are sent as quoted strings when they are ASCII and as literals (raw
UTF-8 bytes; IMAPClient sends any 8-bit argument as a literal) when not. Line breaks and
NULs in them are turned into spaces first: inside a quoted string they would end the
command line and let the rest be read as a command of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date

from pinesh.stores.base import Flag, SearchQuery, SortKey, ThreadNode

MAX_THREAD_DEPTH = 200  # nesting of parenthesized branches in a THREAD reply

_SET_FLAG = {
    Flag.SEEN: b"SEEN",
    Flag.ANSWERED: b"ANSWERED",
    Flag.FLAGGED: b"FLAGGED",
    Flag.DELETED: b"DELETED",
    Flag.DRAFT: b"DRAFT",
}
_SORT = {
    SortKey.ARRIVAL: "ARRIVAL",
    SortKey.DATE: "DATE",
    SortKey.FROM: "FROM",
    SortKey.SUBJECT: "SUBJECT",
    SortKey.SIZE: "SIZE",
    SortKey.TO: "TO",
}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Anything but digits and spaces, or a number of more than 10 digits (> 2^32).
_NOT_UIDS = re.compile(rb"[^0-9 ]+|[0-9]{11,}")
_MODSEQ = re.compile(rb"MODSEQ [0-9]{1,20}\) *", re.IGNORECASE)
_APPENDUID = re.compile(rb"^\s*\[APPENDUID (\d{1,10}) (\d{1,10})\]", re.IGNORECASE)


class ImapSyntaxError(ValueError):
    """A reply (or a value to send) that does not fit IMAP's grammar."""


def uid_set(uids: Iterable[int]) -> str:
    """UIDs as an IMAP sequence set with ranges: [1, 2, 3, 7] -> "1:3,7"."""
    ordered = sorted(set(uids))
    if not ordered:
        raise ImapSyntaxError("an empty UID set")
    if ordered[0] < 1:
        raise ImapSyntaxError(f"UID {ordered[0]} is not a UID (they start at 1)")
    ranges: list[str] = []
    start = prev = ordered[0]
    for uid in ordered[1:]:
        if uid == prev + 1:
            prev = uid
            continue
        ranges.append(f"{start}:{prev}" if prev != start else str(start))
        start = prev = uid
    ranges.append(f"{start}:{prev}" if prev != start else str(start))
    return ",".join(ranges)


def search_string(text: str) -> bytes:
    """A search argument: a quoted string if ASCII, else raw UTF-8 (sent as a literal)."""
    clean = text.replace("\r", " ").replace("\n", " ").replace("\0", " ")
    if clean.isascii():
        return b'"' + clean.encode("ascii").replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return clean.encode("utf-8")


def search_date(when: date) -> bytes:
    """A date as SEARCH writes it: 1-Feb-2024 (a datetime's own day, in its own zone)."""
    return f"{when.day}-{_MONTHS[when.month - 1]}-{when.year:04d}".encode("ascii")


def search_keys(query: SearchQuery) -> list[bytes]:
    """The SEARCH keys for a query (ALL when it asks for nothing)."""
    keys: list[bytes] = []
    for name, value in (
        (b"TEXT", query.text),
        (b"SUBJECT", query.subject),
        (b"FROM", query.sender),
        (b"TO", query.to),
        (b"BODY", query.body),
    ):
        if value:
            keys += [name, search_string(value)]
    for flag in sorted(query.flags, key=lambda f: f.value):
        keys.append(_SET_FLAG[flag])
    for flag in sorted(query.not_flags, key=lambda f: f.value):
        keys.append(b"UN" + _SET_FLAG[flag])
    # The Date header's day, as Envelope.date is the Date header (SINCE would be arrival).
    if query.since is not None:
        keys += [b"SENTSINCE", search_date(query.since)]
    if query.before is not None:
        keys += [b"SENTBEFORE", search_date(query.before)]
    return keys or [b"ALL"]


def needs_utf8(keys: Sequence[bytes]) -> bool:
    """Whether SEARCH must say CHARSET UTF-8 (some servers refuse it when not needed)."""
    return any(not key.isascii() for key in keys)


def sort_criteria(key: SortKey, reverse: bool) -> list[str]:
    """SORT criteria (RFC 5256) for a key."""
    return ["REVERSE", _SORT[key]] if reverse else [_SORT[key]]


def search_result(data: Sequence[object]) -> list[int]:
    """The UIDs of SEARCH replies (imaplib's list of their data), ascending, no repeats.

    Several "* SEARCH" lines are merged; a trailing "(MODSEQ n)" (RFC 7162) is skipped.
    Anything else that is not a UID makes the reply unreadable. (IMAPClient's own parser
    allows one line only, and its regular expression costs ~20 MB for 100,000 UIDs.)
    """
    uids: set[int] = set()
    for item in data:
        if item is None:
            continue  # no SEARCH line at all: nothing matched
        if not isinstance(item, bytes):
            raise ImapSyntaxError("a SEARCH reply with a literal in it")
        numbers, paren, rest = item.partition(b"(")
        if paren and not _MODSEQ.fullmatch(rest):
            raise ImapSyntaxError(f"not a UID in a SEARCH reply: {(paren + rest)[:20]!r}")
        bad = _NOT_UIDS.search(numbers)
        if bad:
            raise ImapSyntaxError(f"not a UID in a SEARCH reply: {bad[0][:20]!r}")
        uids.update(map(int, numbers.split()))
    if uids and (min(uids) < 1 or max(uids) >= 1 << 32):
        raise ImapSyntaxError("a UID out of range in a SEARCH reply")
    return sorted(uids)


def appenduid(response: object) -> tuple[int, int] | None:
    """(uidvalidity, uid) from an APPEND's tagged OK text '[APPENDUID 38505 3955] ...'.

    None when the code is missing or names several UIDs (a MULTIAPPEND range).
    """
    if isinstance(response, str):
        response = response.encode("utf-8", "replace")
    if not isinstance(response, bytes):
        return None
    match = _APPENDUID.match(response)
    if not match:
        return None
    validity, uid = int(match[1]), int(match[2])
    return (validity, uid) if validity > 0 and uid > 0 else None


def _branch(items: object, depth: int) -> ThreadNode:
    """A parenthesized list: one node, or a missing parent (uid None) over several."""
    nodes = _chain(items, depth)
    if len(nodes) == 1:
        return nodes[0]
    return ThreadNode(None, tuple(nodes))


def _chain(items: object, depth: int) -> list[ThreadNode]:
    """'3 6 (4 23)(44 7 96)': 3 is the parent of 6, whose children are 4 and 44."""
    if depth > MAX_THREAD_DEPTH:
        raise ImapSyntaxError(f"THREAD nests deeper than {MAX_THREAD_DEPTH}")
    if not isinstance(items, tuple | list) or not items:
        raise ImapSyntaxError("an empty or malformed thread")
    count = 0
    while count < len(items) and not isinstance(items[count], tuple | list):
        count += 1
    uids, branches = items[:count], items[count:]
    if any(not isinstance(b, tuple | list) for b in branches):
        raise ImapSyntaxError("a message number after a branch in a THREAD reply")
    tail = [_branch(branch, depth + 1) for branch in branches]
    for uid in reversed(uids):
        if not isinstance(uid, int) or isinstance(uid, bool) or uid < 1:
            raise ImapSyntaxError(f"not a message number in a THREAD reply: {uid!r:.40}")
        tail = [ThreadNode(uid, tuple(tail))]
    return tail


def threads_of(parsed: Sequence[object]) -> list[ThreadNode]:
    """Thread trees from IMAPClient's parse of a THREAD reply (one tuple per thread)."""
    return [_branch(thread, 0) for thread in parsed]


MAX_ESEARCH_UIDS = 10_000_000  # a set that expands to more is refused (a hostile server)


def expand_sequence_set(text: bytes) -> list[int]:
    """'1:5,9,12:10' -> [1, 2, 3, 4, 5, 9, 10, 11, 12], ascending, no repeats."""
    found: set[int] = set()
    total = 0
    for item in text.split(b","):
        first, colon, last = item.partition(b":")
        try:
            low, high = int(first), int(last) if colon else int(first)
        except ValueError:
            raise ImapSyntaxError(f"not a sequence set: {text[:40]!r}") from None
        low, high = min(low, high), max(low, high)
        if low < 1 or high >= 1 << 32:
            raise ImapSyntaxError("a UID out of range in a sequence set")
        total += high - low + 1
        if total > MAX_ESEARCH_UIDS:
            raise ImapSyntaxError("a sequence set of more UIDs than any mailbox holds")
        found.update(range(low, high + 1))
    return sorted(found)


def esearch_result(data: Sequence[object]) -> tuple[list[int], int | None]:
    """(UIDs of ALL, COUNT) of ESEARCH replies (RFC 4731), e.g.
    ``(TAG "a1") UID ALL 1:100000`` or ``(TAG "a2") UID COUNT 5``. No ALL: no UIDs.

    The compact set is why pinesh asks for ESEARCH: 100,000 UIDs come as "1:100000"
    instead of 600 KB of numbers.
    """
    uids: list[int] = []
    count: int | None = None
    for item in data:
        if item is None:
            continue
        if not isinstance(item, bytes):
            raise ImapSyntaxError("an ESEARCH reply with a literal in it")
        words = item.split()
        if words and words[0].startswith(b"("):  # the (TAG "...") correlator
            while words and not words[0].endswith(b")"):
                words.pop(0)
            words = words[1:]
        if words and words[0].upper() == b"UID":
            words = words[1:]
        for name, value in zip(words[::2], words[1::2], strict=False):
            key = name.upper()
            if key == b"ALL":
                uids = expand_sequence_set(value)
            elif key == b"COUNT":
                if not value.isdigit():
                    raise ImapSyntaxError(f"not a count in an ESEARCH reply: {value[:20]!r}")
                count = int(value)
    return uids, count
