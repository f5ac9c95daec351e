"""Family 2: IMAP responses: SEARCH and ESEARCH, BODYSTRUCTURE, THREAD, FETCH and ENVELOPE,
LIST entries, APPENDUID, the greeting's CAPABILITY code, SELECT's answer, pipelined
ESEARCH replies told apart by tag, and a resynchronisation's VANISHED sets and FETCH
FLAGS MODSEQ responses (stores/imap/protocol/).

The bytes go through IMAPClient's parser first, as they do in pinesh: what it raises is
allowed when errors.classify() calls it a broken reply (the connection then drops the
server with that error). pinesh's own functions may raise ImapSyntaxError only.
Invariants: search results ascending, without repeats, every UID in 1..2**32-1, at most
MAX_SEARCH_UIDS; a Part tree's section numbers unique and found again by find_part;
VANISHED sets of UIDs in range below the UIDNEXT given, at most the limit.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from typing import TypeVar

from imapclient.response_parser import (  # type: ignore[import-untyped]
    parse_fetch_response,
    parse_response,
)

from pinesh.stores.base import Part, ThreadNode
from pinesh.stores.imap.errors import Failure, ImapSyntaxError, classify
from pinesh.stores.imap.protocol.bodystructure import find_part, part_tree
from pinesh.stores.imap.protocol.envelope import envelope_of
from pinesh.stores.imap.protocol.responses import (
    MAX_SEARCH_UIDS,
    appenduid,
    body_section,
    esearch_by_tag,
    esearch_result,
    expand_sequence_set,
    flags_of,
    folder_info,
    greeting_capabilities,
    search_result,
    selected,
    threads_of,
)
from pinesh.stores.imap.protocol.resync import changed_flags, vanished
from tests.fuzz.common import SEP, check, pick

T = TypeVar("T")

SEEDS = [
    b"\x00 1 2 3 7 9 12",
    b"\x00 3 1 2 (MODSEQ 917162500)" + SEP + b" 4 5",
    b"\x00 1 2 x 3",
    b"\x00 99999999999 4294967296",
    b'\x01 (TAG "a1") UID ALL 1:5,9,12:10',
    b'\x01 (TAG "a2") UID COUNT 5',
    b'\x01 (TAG "a3") UID ALL 1:9999999',
    b"\x01 UID MIN 1 MAX 9 ALL 1,3:4 COUNT 3",
    b'\x02 1 (UID 5 BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92))',
    b'\x02 1 (UID 5 BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE"'
    b' 120 4 NIL NIL NIL NIL)("APPLICATION" "PDF" ("name*" "utf-8\'\'%C3%9Cbersicht.pdf") NIL NIL'
    b' "BASE64" 5000 NIL ("ATTACHMENT" ("FILENAME*0*" "utf-8\'\'a" "FILENAME*1" "b.pdf")) NIL'
    b' NIL) "MIXED" ("BOUNDARY" "xyz") NIL NIL NIL))',
    b'\x02 2 (UID 6 BODYSTRUCTURE ("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 800 ("Mon, 1 Jan 2024'
    b' 10:00:00 +0000" "hi" NIL NIL NIL NIL NIL NIL NIL NIL) ("TEXT" "PLAIN" NIL NIL NIL "7BIT"'
    b" 10 1) 20))",
    b"\x03(2)(3 6 (4 23)(44 7 96))",
    b"\x03(((((((1)))))))(2 3)",
    b"\x04 1 (UID 7 FLAGS (\\Seen \\Answered $Junk) RFC822.SIZE 2000 INTERNALDATE"
    b' "17-Jul-1996 02:44:25 -0700" ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)"'
    b' "=?utf-8?q?Caf=C3=A9?=" (("Terry Gray" NIL "gray" "cac.washington.edu")) NIL NIL'
    b' ((NIL NIL "imap" "cac.washington.edu")("grp" NIL "g" NIL)(NIL NIL NIL NIL)) NIL NIL'
    b' "<B27397-0100000@cac.washington.edu>" "<x@y>")'
    b" BODY[HEADER.FIELDS (REFERENCES NEWSGROUPS)] {40}"
    + SEP
    + b"References: <a@b> <c@d>\r\nNewsgroups: x\r\n\r\n"
    + SEP
    + b")",
    b'\x04 1 (UID 8 BODY[1]<0> "abc" INTERNALDATE "1-Jan-2024 00:00:00 +9959")',
    b'\x05(\\HasNoChildren \\Noselect) "/" "INBOX/Sent"',
    b"\x05() NIL {5}",
    b"\x06 [APPENDUID 38505 3955] APPEND completed",
    b"\x07 1:5,9,12:10",
    b"\x08* PREAUTH [CAPABILITY IMAP4rev1 LITERAL+ ESEARCH CONDSTORE] Logged in as jane",
    b"\x08* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Dovecot ready.",
    b'\x09(TAG "a2") UID ALL 1:9\x00\xff(TAG "a3") UID ALL 4\x00\xff(TAG "a2") UID',
    b"\x0a1234567\x00\xff301\x00\xff300\x00\xff0\x00\xff17\x00\xff[READ-WRITE] Select completed.",
    b"\x0b(EARLIER) 1:5,9,12:10\x00\xff41:40",
    b"\x0b(EARLIER) 1:4294967295\x00\xff3",
    b"\x0c1 (UID 5 FLAGS (\\Seen \\Flagged $Junk) MODSEQ (917162500))\x00\xff2 (FLAGS ())",
    b'\x0c3 (MODSEQ (7) X ("a" NIL (1 2)) UID 8 FLAGS (\\Answered))',
]

VANISHED_LIMIT = 100_000  # small enough for a fuzzing run's inputs to stay fast


def _parsed(parse: Callable[[], T]) -> T | None:
    """IMAPClient's parse, or None when it refuses the reply as the connection would."""
    try:
        return parse()
    except Exception as exc:
        if classify(exc) is not Failure.BROKEN:
            raise
        return None


def _imaplib_items(rest: bytes) -> list[object]:
    """imaplib's shape of a reply: pieces paired as (line, literal), a last line alone."""
    pieces = rest.split(SEP)
    items: list[object] = [(pieces[i], pieces[i + 1]) for i in range(0, len(pieces) - 1, 2)]
    if len(pieces) % 2:
        items.append(pieces[-1])
    return items


def _check_uids(uids: list[int], what: str) -> None:
    check(len(uids) <= MAX_SEARCH_UIDS, f"{what}: more than MAX_SEARCH_UIDS UIDs")
    check(all(0 < u < 1 << 32 for u in uids), f"{what}: a UID out of range")
    check(all(a < b for a, b in itertools.pairwise(uids)), f"{what}: not ascending")


def _check_tree(root: Part) -> None:
    ids = [part.part_id for part in root.walk()]
    check(len(ids) == len(set(ids)), f"a Part tree repeats section numbers: {ids[:10]}")
    for part_id in ids[:50]:
        check(find_part(root, part_id) is not None, "find_part misses a section of its tree")


def _check_thread(node: ThreadNode) -> None:
    stack = [node]
    while stack:
        item = stack.pop()
        check(item.uid is None or item.uid >= 1, "a thread node that is not a message number")
        stack.extend(item.children)


def _fetch(rest: bytes) -> None:
    reply = _parsed(lambda: parse_fetch_response(_imaplib_items(rest)))
    if reply is None:
        return
    for uid, item in reply.items():
        if not isinstance(uid, int):
            continue  # the connection drops these (unsolicited replies)
        for step in (
            lambda: envelope_of(uid, item),  # noqa: B023 - called at once
            lambda: flags_of(item.get(b"FLAGS")),  # noqa: B023
            lambda: body_section(item, uid),  # noqa: B023
        ):
            with contextlib.suppress(ImapSyntaxError):
                step()
        if b"BODYSTRUCTURE" in item:
            with contextlib.suppress(ImapSyntaxError):
                _check_tree(part_tree(item[b"BODYSTRUCTURE"]))


_SELECT_CODES = ("UIDVALIDITY", "UIDNEXT", "EXISTS", "RECENT", "HIGHESTMODSEQ")


def _selected(rest: bytes) -> None:
    *values, completion = rest.split(SEP)
    untagged: dict[str, list[object]] = {}
    for name, value in zip(_SELECT_CODES, values, strict=False):
        untagged.setdefault(name, []).append(value)
    answer = selected(untagged, completion)
    check(0 < answer.uidvalidity < 1 << 32, "a SELECT answer with UIDVALIDITY out of range")
    check(answer.uidnext is None or 0 < answer.uidnext < 1 << 32, "UIDNEXT out of range")
    check(answer.exists >= 0 and answer.recent >= 0, "a negative count in a SELECT answer")


def _greeting_capabilities(rest: bytes) -> None:
    found = greeting_capabilities(rest)
    if found is not None:
        check(any(word.startswith("IMAP4") for word in found), "capabilities without IMAP4")
        check(
            all(word and word.isascii() and word == word.upper() and " " not in word
                for word in found),
            "a capability that is not one upper-case ASCII word",
        )  # fmt: skip


def _esearch_by_tag(rest: bytes) -> None:
    items = _imaplib_items(rest)
    for tag, reply in esearch_by_tag(items).items():
        check(reply in items and tag in reply, "an ESEARCH reply filed under another tag")


def _vanished(rest: bytes) -> None:
    *items, below = rest.split(SEP)
    mark = int(below) if below.isdigit() and 0 < len(below) < 11 else None
    told = vanished(items, below=mark, limit=VANISHED_LIMIT)
    every = told.earlier | told.now
    check(len(every) <= VANISHED_LIMIT, "a VANISHED set past its limit")
    check(all(0 < u < 1 << 32 for u in every), "a vanished UID out of range")
    check(mark is None or all(u < mark for u in every), "a vanished UID at or past UIDNEXT")


def _changed_flags(rest: bytes) -> None:
    for uid, flags in changed_flags(_imaplib_items(rest)).items():
        check(0 < uid < 1 << 32, "a changed UID out of range")
        check(isinstance(flags, frozenset), "changed flags that are not a set")


def TestOneInput(data: bytes) -> None:  # noqa: N802 - the name fuzzing engines call
    which, rest = pick(data, 13)
    try:
        if which == 0:
            lines = [piece or None for piece in rest.split(SEP)]
            _check_uids(search_result(lines), "search_result")
        elif which == 1:
            lines = [piece or None for piece in rest.split(SEP)]
            uids, count = esearch_result(lines)
            _check_uids(uids, "esearch_result")
            check(count is None or count >= 0, "a negative ESEARCH count")
        elif which in (2, 4):
            _fetch(rest)
        elif which == 3:
            parsed = _parsed(lambda: parse_response([rest]))
            if parsed is not None:
                for node in threads_of(parsed):
                    _check_thread(node)
        elif which == 5:
            parsed = _parsed(lambda: parse_response(_imaplib_items(rest)))
            if parsed is not None and len(parsed) == 3:
                folder_info(parsed)
        elif which == 6:
            found = appenduid(rest)
            check(found is None or min(found) > 0, "an APPENDUID of zero")
        elif which == 7:
            _check_uids(expand_sequence_set(rest), "expand_sequence_set")
        elif which == 8:
            _greeting_capabilities(rest)
        elif which == 9:
            _esearch_by_tag(rest)
        elif which == 10:
            _selected(rest)
        elif which == 11:
            _vanished(rest)
        else:
            _changed_flags(rest)
    except ImapSyntaxError:
        pass
