"""What we write in IMAP commands: UID sets, SEARCH keys, SORT criteria, flag names.

Search strings are sent as quoted strings when they are ASCII and as literals (raw
UTF-8 bytes; IMAPClient sends any 8-bit argument as a literal) when not. Line breaks and
NULs in them are turned into spaces first: inside a quoted string they would end the
command line and let the rest be read as a command of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from pinesh.stores.base import Flag, SearchQuery, SortKey
from pinesh.stores.imap.errors import ImapSyntaxError

FLAG_NAMES: dict[Flag, bytes] = {
    Flag.SEEN: rb"\Seen",
    Flag.ANSWERED: rb"\Answered",
    Flag.FLAGGED: rb"\Flagged",
    Flag.DELETED: rb"\Deleted",
    Flag.DRAFT: rb"\Draft",
}
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
