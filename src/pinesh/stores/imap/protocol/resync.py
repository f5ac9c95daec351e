"""What a server says when a client resynchronises a mailbox (RFC 7162, CONDSTORE and
QRESYNC): VANISHED responses (the UIDs expunged) and FETCH responses carrying a message's
UID, FLAGS and MODSEQ, read from imaplib's untagged data.

imaplib files ``* VANISHED (EARLIER) 1:5,9`` under "VANISHED" with the data
``b"(EARLIER) 1:5,9"``, and ``* 12 FETCH (UID 5 FLAGS (\\Seen) MODSEQ (7))`` under "FETCH"
with the data ``b"12 (UID 5 FLAGS (\\Seen) MODSEQ (7))"``; a line that ends in a literal
comes as a (line, literal) tuple, which neither response may hold.

A hostile server can send anything, so every function here raises ImapSyntaxError (and
nothing else) for what it cannot read. A VANISHED set may name ranges of millions of
UIDs, which are never expanded past MAX_VANISHED_UIDS: VanishedTooLarge (an
ImapSyntaxError) says so, and the caller may treat the resynchronisation as failed
rather than the connection as broken.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pinesh.stores.base import Flag
from pinesh.stores.imap.errors import ImapSyntaxError
from pinesh.stores.imap.protocol.responses import flags_of

# UIDs one resynchronisation may name as vanished, all VANISHED responses together. A
# frozenset of 2,000,000 ints costs ~120 MB; a server that has more to tell (Dovecot
# does send "1:n" ranges when it no longer knows which UIDs went) is better asked again
# without a cache.
MAX_VANISHED_UIDS = 2_000_000
MAX_UID = (1 << 32) - 1
MAX_MODSEQ = (1 << 63) - 1  # RFC 7162: mod-sequence values are 63-bit
MAX_FETCH_DEPTH = 8  # nesting of parentheses in one FETCH response's items
MAX_FETCH_TOKENS = 4096  # items, flags and words in one FETCH response

_SET = re.compile(rb"[0-9]{1,10}(?::[0-9]{1,10})?(?:,[0-9]{1,10}(?::[0-9]{1,10})?)*")
_EARLIER = re.compile(rb"\(EARLIER\) ", re.IGNORECASE)
_FETCH_HEAD = re.compile(rb"([0-9]{1,10}) \(")
# One token of a FETCH response: a parenthesis, a quoted string, NIL, or an atom (a
# flag's backslash allowed in front).
_TOKEN = re.compile(
    rb'(?P<open>\()|(?P<close>\))|"(?P<quoted>(?:[^"\\\r\n]|\\["\\])*)"'
    rb"|(?P<atom>\\?[\x21\x23\x24\x26\x27\x2b-\x5b\x5d-\x7a\x7c\x7e]+)"
)


class VanishedTooLarge(ImapSyntaxError):  # noqa: N818 - as errors.ReplyTooLarge
    """A VANISHED set naming more UIDs than MAX_VANISHED_UIDS (never expanded)."""


@dataclass(frozen=True)
class Vanished:
    """The UIDs of VANISHED responses: earlier (``(EARLIER)``: gone before this session,
    the message count unchanged) and now (expunged in this session, as EXPUNGE would)."""

    earlier: frozenset[int]
    now: frozenset[int]


def uid_ranges(text: bytes) -> Iterator[tuple[int, int]]:
    """'1:5,9,12:10' -> (1, 5), (9, 9), (10, 12): a UID set as ranges, unexpanded, one at
    a time (a 16 MiB line of "1,1,1..." is never held as a list).

    ``*`` is refused (a server names UIDs, never "the last"), and so is 0 or a UID past
    2**32-1."""
    if not _SET.fullmatch(text):
        raise ImapSyntaxError(f"not a UID set: {text[:40]!r}")
    start = 0
    while start >= 0:
        end = text.find(b",", start)
        item = text[start:] if end < 0 else text[start:end]
        start = end if end < 0 else end + 1
        first, _, last = item.partition(b":")
        low, high = int(first), int(last or first)
        low, high = min(low, high), max(low, high)
        if low < 1 or high > MAX_UID:
            raise ImapSyntaxError("a UID out of range in a UID set")
        yield low, high


def is_earlier(item: object) -> bool:
    """Whether imaplib's data of one VANISHED response is a ``(EARLIER)`` one."""
    return isinstance(item, bytes) and _EARLIER.match(item.lstrip(b" ")) is not None


def vanished(
    data: Sequence[object], *, below: int | None = None, limit: int = MAX_VANISHED_UIDS
) -> Vanished:
    """The UIDs of VANISHED responses (imaplib's data of each, as above).

    below: UIDs from this one up cannot have vanished (a UIDNEXT): ranges are cut there
    before they are expanded, so "1:4294967295" from a server whose UIDNEXT is 40 names
    39 UIDs. More than limit UIDs in all raises VanishedTooLarge before they are made.
    """
    earlier: set[int] = set()
    now: set[int] = set()
    ranges = 0
    for item in data:
        if not isinstance(item, bytes):
            raise ImapSyntaxError("a VANISHED response with a literal in it")
        text = item.strip(b" ")
        tagged = _EARLIER.match(text)
        into = earlier if tagged else now
        if tagged:
            text = text[tagged.end() :]
        for low, high in uid_ranges(text):
            ranges += 1
            if ranges > limit:
                raise VanishedTooLarge(f"a VANISHED set of more than {limit} ranges")
            if below is not None:
                high = min(high, below - 1)
            if high < low:
                continue
            if len(earlier) + len(now) + high - low + 1 > limit:
                raise VanishedTooLarge(f"a VANISHED set of more than {limit} UIDs")
            into.update(range(low, high + 1))
    return Vanished(frozenset(earlier), frozenset(now))


def _tokens(text: bytes) -> list[object]:
    """The parenthesized list text as nested lists of bytes (atoms, NIL, quoted strings)."""
    stack: list[list[object]] = [[]]
    at, count = 0, 0
    while at < len(text):
        if text[at : at + 1] == b" " and at > 0 and text[at - 1 : at] != b"(":
            at += 1  # one space between items
        match = _TOKEN.match(text, at)
        if match is None:
            raise ImapSyntaxError(f"unreadable FETCH response at: {text[at : at + 20]!r}")
        at = match.end()
        count += 1
        if count > MAX_FETCH_TOKENS:
            raise ImapSyntaxError(f"a FETCH response of more than {MAX_FETCH_TOKENS} items")
        if match["open"]:
            if len(stack) > MAX_FETCH_DEPTH:
                raise ImapSyntaxError(f"a FETCH response nested deeper than {MAX_FETCH_DEPTH}")
            inner: list[object] = []
            stack[-1].append(inner)
            stack.append(inner)
        elif match["close"]:
            if len(stack) == 1:
                raise ImapSyntaxError("an unbalanced ')' in a FETCH response")
            stack.pop()
        else:
            stack[-1].append(match["quoted"] if match["quoted"] is not None else match["atom"])
        if len(stack) == 1 and at != len(text):
            raise ImapSyntaxError("words after a FETCH response's list")
    if len(stack) != 1 or len(stack[0]) != 1:
        raise ImapSyntaxError("an unfinished FETCH response")
    return stack[0]


def _number(value: object, what: str, most: int) -> int:
    if not isinstance(value, bytes) or not value.isdigit() or len(value) > 20:
        raise ImapSyntaxError(f"{what} in a FETCH response is not a number")
    number = int(value)
    if not 0 < number <= most:
        raise ImapSyntaxError(f"{what} out of range in a FETCH response")
    return number


@dataclass(frozen=True)
class FlagsFetched:
    """One FETCH response's UID (None: it carried none), system flags and MODSEQ."""

    uid: int | None
    flags: frozenset[Flag] | None  # None: no FLAGS item
    modseq: int | None


def fetched(item: object) -> FlagsFetched:
    """One FETCH response (imaplib's data: b"12 (UID 5 FLAGS (\\Seen) MODSEQ (7))").

    Items other than UID, FLAGS and MODSEQ are skipped when they are atoms, strings or
    lists; a repeated item, a literal or anything unbalanced is unreadable."""
    if not isinstance(item, bytes):
        raise ImapSyntaxError("a FETCH response with a literal in it")
    head = _FETCH_HEAD.match(item)
    if head is None:
        raise ImapSyntaxError(f"not a FETCH response: {item[:30]!r}")
    _number(head[1], "the message number", MAX_UID)
    (items,) = _tokens(item[head.end() - 1 :])
    if not isinstance(items, list):
        raise ImapSyntaxError("a FETCH response without its list")
    if len(items) % 2:
        raise ImapSyntaxError("a FETCH item without its value")
    found: dict[bytes, object] = {}
    for name, value in zip(items[::2], items[1::2], strict=True):
        if not isinstance(name, bytes) or name.startswith(b"\\"):
            raise ImapSyntaxError("a FETCH item name that is not an atom")
        key = name.upper()
        if key in found:
            raise ImapSyntaxError(f"{key[:20]!r} twice in one FETCH response")
        found[key] = value
    uid = _number(found[b"UID"], "UID", MAX_UID) if b"UID" in found else None
    flags = None
    if b"FLAGS" in found:
        names = found[b"FLAGS"]
        if not isinstance(names, list) or not all(isinstance(n, bytes) for n in names):
            raise ImapSyntaxError("FLAGS in a FETCH response is not a list of flags")
        flags = flags_of(tuple(names))
    modseq = None
    if b"MODSEQ" in found:
        value = found[b"MODSEQ"]
        if not isinstance(value, list) or len(value) != 1:
            raise ImapSyntaxError("MODSEQ in a FETCH response is not (n)")
        modseq = _number(value[0], "MODSEQ", MAX_MODSEQ)
    return FlagsFetched(uid, flags, modseq)


def changed_flags(data: Sequence[object]) -> dict[int, frozenset[Flag]]:
    """The flags of each UID, from FETCH responses to a resynchronisation (the last one
    of a UID wins, as the server sent them in order). Responses without a UID or without
    FLAGS are skipped: a change after SELECT (unsolicited, by message number) has a
    modseq past the HIGHESTMODSEQ remembered, so the next resynchronisation tells it."""
    out: dict[int, frozenset[Flag]] = {}
    for item in data:
        found = fetched(item)
        if found.uid is not None and found.flags is not None:
            out[found.uid] = found.flags
    return out
