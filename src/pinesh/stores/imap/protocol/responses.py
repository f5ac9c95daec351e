"""What we read from IMAP replies into our types: strings, FLAGS, LIST entries, SEARCH and
ESEARCH results, THREAD trees, the APPENDUID code, a FETCH body section, the greeting's
capabilities and what SELECT said.

IMAPClient hands over nested tuples of bytes, ints and None, exactly as the server sent
them (strings that look like numbers come as ints); SEARCH and ESEARCH replies are read
here from imaplib's raw lines. A hostile server can put anything anywhere, so every
function here checks what it gets and raises ImapSyntaxError (a ValueError) rather than
TypeError or IndexError.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from pinesh.stores.base import Flag, FolderInfo, ThreadNode
from pinesh.stores.headers import decode_words
from pinesh.stores.imap.errors import ImapSyntaxError
from pinesh.stores.imap.protocol.arguments import FLAG_NAMES

MAX_THREAD_DEPTH = 200  # nesting of parenthesized branches in a THREAD reply
# UIDs in one search result, in either form. A plain SEARCH line of at most
# channel_client.MAX_LINE (16 MiB) holds about 2,000,000 UIDs; ESEARCH's compact form
# ("1:9999999" is 9 bytes) gets no more. Kept as a list of ints, they cost ~40 bytes each.
MAX_SEARCH_UIDS = 2_000_000
MAX_ESEARCH_WORDS = 16  # an ESEARCH line: correlator, UID and a few pairs (ALL, COUNT...)
_PIECE = 65536  # bytes of a SEARCH line split at once (split() of 16 MiB: millions of objects)

_FLAGS_BY_NAME = {name.lower(): flag for flag, name in FLAG_NAMES.items()}
# Anything but digits and spaces, or a number of more than 10 digits (> 2^32).
_NOT_UIDS = re.compile(rb"[^0-9 ]+|[0-9]{11,}")
_MODSEQ = re.compile(rb"MODSEQ [0-9]{1,20}\) *", re.IGNORECASE)
_GREETING_CAPABILITY = re.compile(
    rb"^\* (?:OK|PREAUTH) \[CAPABILITY ([\x21-\x5a\x5e-\x7e ]{1,4000})\]", re.IGNORECASE
)
_CORRELATOR = re.compile(rb'^\(TAG "([\x21\x23-\x5b\x5d-\x7e]{1,40})"\)', re.IGNORECASE)
_APPENDUID = re.compile(rb"^\s*\[APPENDUID (\d{1,10}) (\d{1,10})\]", re.IGNORECASE)


def text_of(value: object) -> str:
    """An IMAP string (bytes, or an int when it looked like a number) as text.

    8-bit bytes are read as UTF-8 (RFC 6532), else as Latin-1; None is "".
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.decode("latin-1")
    raise ImapSyntaxError(f"expected a string, got {type(value).__name__}")


def decoded(value: object) -> str:
    """An IMAP string holding RFC 2047 encoded words, decoded; never raises for bad words."""
    return decode_words(text_of(value))


def flags_of(value: object) -> frozenset[Flag]:
    """The system flags among a FLAGS list (keywords and \\Recent are left out)."""
    if value is None:
        return frozenset()
    if not isinstance(value, tuple | list):
        raise ImapSyntaxError("FLAGS is not a list")
    found = set()
    for item in value:
        if isinstance(item, bytes):
            flag = _FLAGS_BY_NAME.get(item.lower())
            if flag is not None:
                found.add(flag)
    return frozenset(found)


def folder_info(entry: Sequence[object]) -> FolderInfo:
    """One LIST entry (flags, delimiter, name) as IMAPClient returns it."""
    if len(entry) != 3:
        raise ImapSyntaxError("a LIST entry does not have three parts")
    flags, delimiter, name = entry
    if not isinstance(name, str):
        name = text_of(name)
    if not isinstance(flags, tuple | list):
        raise ImapSyntaxError("LIST flags are not a list")
    names = {f.lower() for f in flags if isinstance(f, bytes)}
    sep = text_of(delimiter) if delimiter is not None else ""
    display = name.rsplit(sep, 1)[-1] if sep else name
    return FolderInfo(
        name=name,
        display=display,
        selectable=not ({rb"\noselect", rb"\nonexistent"} & names),
        has_children=rb"\haschildren" in names,
    )


def body_section(item: Mapping[bytes, object], uid: int) -> bytes:
    """The BODY[...]<offset> value of one message's FETCH reply (NIL: no bytes)."""
    for key, value in item.items():
        if isinstance(key, bytes) and key.upper().startswith(b"BODY["):
            if value is None:
                return b""
            if not isinstance(value, bytes):
                raise ImapSyntaxError(f"the body of UID {uid} is not a string")
            return value
    raise ImapSyntaxError(f"no body section in the reply for UID {uid}")


def _pieces(text: bytes) -> Iterator[bytes]:
    """text in pieces of about _PIECE bytes, cut at spaces."""
    start = 0
    while start < len(text):
        end = text.find(b" ", start + _PIECE)
        end = len(text) if end < 0 else end
        yield text[start:end]
        start = end


def _ascending(uids: list[int]) -> list[int]:
    """uids ascending, no repeats: as they are when they already are (servers send them so)."""
    if any(a >= b for a, b in pairwise(uids)):
        return sorted(set(uids))
    return uids


def search_result(data: Sequence[object]) -> list[int]:
    """The UIDs of SEARCH replies (imaplib's list of their data), ascending, no repeats.

    Several "* SEARCH" lines are merged; a trailing "(MODSEQ n)" (RFC 7162) is skipped.
    Anything else that is not a UID makes the reply unreadable, and so do more than
    MAX_SEARCH_UIDS UIDs. (IMAPClient's own parser allows one line only, and its regular
    expression costs ~20 MB for 100,000 UIDs.)
    """
    uids: list[int] = []
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
        for piece in _pieces(numbers):
            uids.extend(map(int, piece.split()))
            if len(uids) > MAX_SEARCH_UIDS:
                raise ImapSyntaxError(f"a SEARCH reply of more than {MAX_SEARCH_UIDS} UIDs")
    uids = _ascending(uids)
    if uids and (uids[0] < 1 or uids[-1] >= 1 << 32):
        raise ImapSyntaxError("a UID out of range in a SEARCH reply")
    return uids


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


def expand_sequence_set(text: bytes) -> list[int]:
    """'1:5,9,12:10' -> [1, 2, 3, 4, 5, 9, 10, 11, 12], ascending, no repeats.

    A set naming more than MAX_SEARCH_UIDS UIDs (repeats counted) is refused before the
    UIDs past that are made.
    """
    uids: list[int] = []
    start = 0
    while start >= 0:  # text.split(b","), an item at a time
        end = text.find(b",", start)
        item = text[start:] if end < 0 else text[start:end]
        start = end if end < 0 else end + 1
        first, colon, last = item.partition(b":")
        try:
            low, high = int(first), int(last) if colon else int(first)
        except ValueError:
            raise ImapSyntaxError(f"not a sequence set: {text[:40]!r}") from None
        low, high = min(low, high), max(low, high)
        if low < 1 or high >= 1 << 32:
            raise ImapSyntaxError("a UID out of range in a sequence set")
        if len(uids) + high - low + 1 > MAX_SEARCH_UIDS:
            raise ImapSyntaxError(f"a sequence set of more than {MAX_SEARCH_UIDS} UIDs")
        uids.extend(range(low, high + 1))
    return _ascending(uids)


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
        words = item.split(None, MAX_ESEARCH_WORDS)
        if len(words) > MAX_ESEARCH_WORDS:
            raise ImapSyntaxError(f"an ESEARCH reply of more than {MAX_ESEARCH_WORDS} words")
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


def greeting_capabilities(greeting: bytes) -> frozenset[str] | None:
    """The capabilities a greeting carries ("* PREAUTH [CAPABILITY IMAP4rev1 ...] ..."),
    upper case; None when it carries none (or an unreadable list), so CAPABILITY is asked.
    """
    match = _GREETING_CAPABILITY.match(greeting)
    if not match:
        return None
    words = match[1].upper().split()
    if not any(w.startswith(b"IMAP4") for w in words):
        return None  # RFC 3501: the list names IMAP4rev1; without it, it is not one
    return frozenset(w.decode("ascii") for w in words)


@dataclass(frozen=True)
class Selected:
    """What SELECT (or EXAMINE) said about the mailbox."""

    exists: int
    recent: int
    uidvalidity: int
    uidnext: int | None
    highestmodseq: int | None  # with CONDSTORE (RFC 7162); None without
    read_only: bool


def _number(values: Sequence[object] | None, what: str, digits: int) -> int | None:
    """The last of imaplib's values for one response (b"300" of "* 300 EXISTS")."""
    if not values:
        return None
    value = values[-1]
    if not isinstance(value, bytes):
        raise ImapSyntaxError(f"{what} in the SELECT reply is not a number")
    text = value.strip()
    if not text.isdigit() or len(text) > digits:
        raise ImapSyntaxError(f"{what} in the SELECT reply is not a number: {text[:24]!r}")
    return int(text)


def selected(untagged: Mapping[str, Sequence[object]], completion: bytes) -> Selected:
    """SELECT's answer, from imaplib's untagged responses (response codes like
    [UIDVALIDITY n] filed under their names) and the text of its tagged OK
    ("[READ-WRITE] Select completed."). UIDVALIDITY must be there (RFC 3501 6.3.1)."""
    validity = _number(untagged.get("UIDVALIDITY"), "UIDVALIDITY", 10)
    if not validity or validity >= 1 << 32:
        raise ImapSyntaxError("the SELECT reply has no usable UIDVALIDITY")
    uidnext = _number(untagged.get("UIDNEXT"), "UIDNEXT", 10)
    if uidnext is not None and not 0 < uidnext < 1 << 32:
        uidnext = None
    return Selected(
        exists=_number(untagged.get("EXISTS"), "EXISTS", 10) or 0,
        recent=_number(untagged.get("RECENT"), "RECENT", 10) or 0,
        uidvalidity=validity,
        uidnext=uidnext,
        highestmodseq=_number(untagged.get("HIGHESTMODSEQ"), "HIGHESTMODSEQ", 20),
        read_only=completion.lstrip().upper().startswith(b"[READ-ONLY]"),
    )


def esearch_by_tag(data: Sequence[object]) -> dict[bytes, bytes]:
    """ESEARCH replies by the tag of the command they answer ("(TAG "a2") UID ALL 1:9"),
    so that pipelined searches are told apart; replies without a correlator are left out.
    A tag answered twice is unreadable."""
    out: dict[bytes, bytes] = {}
    for item in data:
        if not isinstance(item, bytes):
            raise ImapSyntaxError("an ESEARCH reply with a literal in it")
        match = _CORRELATOR.match(item)
        if not match:
            continue
        if match[1] in out:
            raise ImapSyntaxError("two ESEARCH replies for one command")
        out[match[1]] = item
    return out
