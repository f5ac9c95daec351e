"""UID sets, SEARCH keys, SORT criteria, APPENDUID and THREAD replies (literal bytes)."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pinesh.stores.base import Flag, SearchQuery, SortKey, ThreadNode
from pinesh.stores.imap.errors import ImapSyntaxError
from pinesh.stores.imap.protocol.arguments import (
    needs_utf8,
    search_keys,
    search_string,
    sort_criteria,
    uid_set,
)
from pinesh.stores.imap.protocol.responses import (
    MAX_THREAD_DEPTH,
    appenduid,
    search_result,
    threads_of,
)
from tests.unit.test_imap_records import parsed


@pytest.mark.parametrize(
    ("uids", "text"),
    [
        ([1], "1"),
        ([3, 1, 2, 7, 9, 8, 8], "1:3,7:9"),
        ([10, 12, 14], "10,12,14"),
        (range(1, 10_001), "1:10000"),
    ],
)
def test_uid_sets(uids: list[int], text: str) -> None:
    assert uid_set(uids) == text


@pytest.mark.parametrize("uids", [[], [0, 1], [-4]])
def test_no_uid_set_of_nothing_or_non_uids(uids: list[int]) -> None:
    with pytest.raises(ImapSyntaxError):
        uid_set(uids)


def test_search_strings_cannot_smuggle_commands() -> None:
    assert search_string("plain") == b'"plain"'
    assert search_string('say "hi" \\o/') == b'"say \\"hi\\" \\\\o/"'
    assert search_string("x\r\nA1 DELETE INBOX") == b'"x  A1 DELETE INBOX"'
    assert search_string("nul\0byte") == b'"nul byte"'
    assert search_string("{5}") == b'"{5}"'  # never an atom the server reads as a literal
    assert search_string("Grüße\n") == "Grüße ".encode()  # 8-bit: IMAPClient sends a literal


def test_search_keys() -> None:
    query = SearchQuery(
        text="a",
        subject="b",
        sender="c",
        to="d",
        body="e",
        flags=frozenset({Flag.SEEN, Flag.FLAGGED}),
        not_flags=frozenset({Flag.DELETED}),
        since=datetime(2024, 2, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5))),
        before=datetime(2024, 3, 9, tzinfo=UTC),
    )
    assert search_keys(query) == [
        b"TEXT",
        b'"a"',
        b"SUBJECT",
        b'"b"',
        b"FROM",
        b'"c"',
        b"TO",
        b'"d"',
        b"BODY",
        b'"e"',
        b"FLAGGED",
        b"SEEN",
        b"UNDELETED",
        b"SENTSINCE",
        b"1-Feb-2024",
        b"SENTBEFORE",
        b"9-Mar-2024",
    ]
    assert search_keys(SearchQuery()) == [b"ALL"]
    assert not needs_utf8(search_keys(query))
    assert needs_utf8(search_keys(SearchQuery(subject="Отчёт")))


@pytest.mark.parametrize(
    ("data", "uids"),
    [
        ([b"1 2 3"], [1, 2, 3]),
        ([b""], []),
        ([None], []),
        ([b"5 3", b"3 9"], [3, 5, 9]),  # several SEARCH lines, repeats
        ([b"4 2 (MODSEQ 917162500)"], [2, 4]),
        ([b"4294967295"], [4294967295]),
    ],
)
def test_search_results(data: list[object], uids: list[int]) -> None:
    assert search_result(data) == uids


@pytest.mark.parametrize(
    "data",
    [
        [b"1 two 3"],
        [b"0"],
        [b"-1"],
        [b"4294967296"],
        [b"9" * 5000],
        [(b"1 {3}", b"abc")],
        [b"1 (2"],
        [b"1 (MODSEQ 5) 7"],
    ],
)
def test_hostile_search_results(data: list[object]) -> None:
    with pytest.raises(ImapSyntaxError):
        search_result(data)


def test_sort_criteria() -> None:
    assert sort_criteria(SortKey.DATE, False) == ["DATE"]
    assert sort_criteria(SortKey.FROM, True) == ["REVERSE", "FROM"]
    assert {tuple(sort_criteria(k, False)) for k in SortKey} == {
        ("ARRIVAL",),
        ("DATE",),
        ("FROM",),
        ("SUBJECT",),
        ("SIZE",),
        ("TO",),
    }


@pytest.mark.parametrize(
    ("reply", "found"),
    [
        (b"[APPENDUID 38505 3955] APPEND completed", (38505, 3955)),
        (b"[appenduid 1 2] ok", (1, 2)),
        ("[APPENDUID 7 9] text as str", (7, 9)),
        (b"[APPENDUID 38505 3955:3957] MULTIAPPEND", None),
        (b"[APPENDUID 0 5] zero validity", None),
        (b"[APPENDUID 99999999999999999999 5] absurd", None),
        (b"APPEND completed", None),
        (None, None),
        (b"[APPENDUID \x1b[2J 5]", None),
    ],
)
def test_appenduid(reply: object, found: tuple[int, int] | None) -> None:
    assert appenduid(reply) == found


def _threads(line: bytes) -> list[ThreadNode]:
    return threads_of(parsed(line))


def test_threads_from_rfc5256_examples() -> None:
    assert _threads(b"(2)(3 6 (4 23)(44 7 96))") == [
        ThreadNode(2),
        ThreadNode(
            3,
            (
                ThreadNode(
                    6,
                    (
                        ThreadNode(4, (ThreadNode(23),)),
                        ThreadNode(44, (ThreadNode(7, (ThreadNode(96),)),)),
                    ),
                ),
            ),
        ),
    ]
    # A missing parent over 3 and 5; Dovecot sends such threads too.
    assert _threads(b"((3)(5))") == [ThreadNode(None, (ThreadNode(3), ThreadNode(5)))]
    assert _threads(b"") == []


def test_a_long_reply_chain_does_not_recurse() -> None:
    line = b"(" + b" ".join(b"%d" % n for n in range(1, 20_001)) + b")"
    [root] = _threads(line)
    depth, node = 1, root
    while node.children:
        [node] = node.children
        depth += 1
    assert (root.uid, node.uid, depth) == (1, 20_000, 20_000)


@pytest.mark.parametrize(
    "line",
    [
        b"(1 (2) 3)",  # a message number after a branch
        b"(x)",
        b"()",
        b"(0)",
        b"(-3)",
        b"1 2 3",
        b"(" * (MAX_THREAD_DEPTH + 2) + b"1" + b")" * (MAX_THREAD_DEPTH + 2),
    ],
)
def test_hostile_thread_replies(line: bytes) -> None:
    with pytest.raises(ImapSyntaxError):
        _threads(line)


# --- ESEARCH (RFC 4731) -----------------------------------------------------------------

from pinesh.stores.imap.protocol import responses  # noqa: E402
from pinesh.stores.imap.protocol.responses import (  # noqa: E402
    MAX_SEARCH_UIDS,
    esearch_result,
    expand_sequence_set,
)


@pytest.mark.parametrize(
    ("line", "uids", "count"),
    [
        (b'(TAG "a1") UID ALL 1:5,9,12:10', [1, 2, 3, 4, 5, 9, 10, 11, 12], None),
        (b'(TAG "a1") UID ALL 1:100000', list(range(1, 100001)), None),
        (b'(TAG "a2") UID COUNT 17', [], 17),
        (b'(TAG "a3") UID', [], None),  # nothing matched
        (b"UID ALL 4", [4], None),
    ],
)
def test_esearch_replies(line: bytes, uids: list[int], count: int | None) -> None:
    assert esearch_result([line]) == (uids, count)


@pytest.mark.parametrize(
    "line",
    [
        b'(TAG "a1") UID ALL 1:4294967295',  # would be 4 billion UIDs
        b'(TAG "a1") UID ALL 0:3',
        b'(TAG "a1") UID ALL 1:x',
        b'(TAG "a1") UID COUNT many',
    ],
)
def test_hostile_esearch_replies_are_refused(line: bytes) -> None:
    with pytest.raises(ImapSyntaxError):
        esearch_result([line])


def test_sequence_set_overlaps_are_merged() -> None:
    assert expand_sequence_set(b"3:1,2,5") == [1, 2, 3, 5]


def test_a_long_search_line_is_read_whole() -> None:
    uids = list(range(1, 30_001))  # 170 KB: read in several pieces
    assert search_result([" ".join(map(str, uids)).encode()]) == uids


def test_a_compact_set_past_the_bound_is_refused_before_it_is_expanded() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ImapSyntaxError, match=f"more than {MAX_SEARCH_UIDS} UIDs"):
            esearch_result([b'(TAG "a1") UID ALL 1:9999999'])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # expanded, it was 650 MB


def test_the_uid_bound_holds_in_either_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(responses, "MAX_SEARCH_UIDS", 1000)
    assert esearch_result([b"UID ALL 1:1000"])[0] == list(range(1, 1001))
    lines = [" ".join(map(str, range(start, start + 500))).encode() for start in (1, 501)]
    assert search_result(lines) == list(range(1, 1001))
    with pytest.raises(ImapSyntaxError, match="more than 1000 UIDs"):
        esearch_result([b"UID ALL 1:1001"])
    with pytest.raises(ImapSyntaxError, match="more than 1000 UIDs"):
        esearch_result([b"UID ALL 1:600,401:801"])  # repeats count: no server sends them
    with pytest.raises(ImapSyntaxError, match="more than 1000 UIDs"):
        search_result([*lines, b"1001"])  # several lines add up


def test_an_esearch_reply_of_endless_items_is_refused() -> None:
    line = b'(TAG "a1") UID ALL 1:3 COUNT 3 MODSEQ 9 MIN 1 MAX 3'
    assert esearch_result([line]) == ([1, 2, 3], 3)
    with pytest.raises(ImapSyntaxError, match="more than 16 words"):
        esearch_result([line + b" MODSEQ 9" * 100_000])


# --- opening a mailbox: the greeting's capabilities, SELECT, pipelined ESEARCH -----------

from pinesh.stores.imap.protocol.responses import (  # noqa: E402
    Selected,
    esearch_by_tag,
    greeting_capabilities,
    selected,
)


@pytest.mark.parametrize(
    ("greeting", "caps"),
    [
        (
            b"* PREAUTH [CAPABILITY IMAP4rev1 SASL-IR ESEARCH CONDSTORE] Logged in as lab",
            {"IMAP4REV1", "SASL-IR", "ESEARCH", "CONDSTORE"},
        ),
        (b"* OK [CAPABILITY imap4rev1 auth=plain] Dovecot ready.", {"IMAP4REV1", "AUTH=PLAIN"}),
        (b"* PREAUTH ready", None),  # no code: CAPABILITY is asked
        (b"* OK [ALERT] ready [CAPABILITY IMAP4rev1]", None),  # not the first code
        (b"* PREAUTH [CAPABILITY ESEARCH IDLE] no IMAP4rev1 named", None),
        (b"* PREAUTH [CAPABILITY IMAP4rev1 \x1b[2J] hostile", None),  # control bytes
        (b"* BYE [CAPABILITY IMAP4rev1] go away", None),
        (b"* PREAUTH [CAPABILITY IMAP4rev1 " + b"X" * 5000 + b"]", None),  # absurd
    ],
)
def test_greeting_capabilities(greeting: bytes, caps: set[str] | None) -> None:
    found = greeting_capabilities(greeting)
    assert (None if found is None else set(found)) == caps


# What imaplib files from a Dovecot SELECT: "* 300 EXISTS", "* OK [UIDVALIDITY 1796650636]".
DOVECOT_SELECT: dict[str, list[object]] = {
    "FLAGS": [b"(\\Answered \\Flagged \\Deleted \\Seen \\Draft)"],
    "OK": [
        b"[PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted."
    ],
    "PERMANENTFLAGS": [b"(\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)"],
    "EXISTS": [b"300"],
    "RECENT": [b"0"],
    "UIDVALIDITY": [b"1796650636"],
    "UIDNEXT": [b"301"],
    "HIGHESTMODSEQ": [b"12"],
}


def test_a_dovecot_select() -> None:
    assert selected(DOVECOT_SELECT, b"[READ-WRITE] Select completed (0.011 secs).") == Selected(
        exists=300,
        recent=0,
        uidvalidity=1796650636,
        uidnext=301,
        highestmodseq=12,
        read_only=False,
    )
    state = selected({"UIDVALIDITY": [b"7"]}, b"[READ-ONLY] Examine completed")
    assert (state.exists, state.uidnext, state.highestmodseq, state.read_only) == (
        0,
        None,
        None,
        True,
    )
    assert selected({**DOVECOT_SELECT, "EXISTS": [b"300", b"301"]}, b"").exists == 301  # the last


@pytest.mark.parametrize(
    "untagged",
    [
        {},  # no UIDVALIDITY
        {"UIDVALIDITY": [b"0"]},
        {"UIDVALIDITY": [b"4294967296"]},  # 2^32
        {"UIDVALIDITY": [b"12abc"]},
        {"UIDVALIDITY": [(b"literal", b"7")]},
        {"UIDVALIDITY": [b"7"], "EXISTS": [b"-1"]},
        {"UIDVALIDITY": [b"7"], "EXISTS": [b"9" * 40]},
        {"UIDVALIDITY": [b"7"], "HIGHESTMODSEQ": [b"1" * 21]},
    ],
)
def test_hostile_select_replies_are_refused(untagged: dict[str, list[object]]) -> None:
    with pytest.raises(ImapSyntaxError):
        selected(untagged, b"OK")


def test_esearch_replies_are_told_apart_by_tag() -> None:
    lines: list[object] = [
        b'(TAG "IMKF2") UID ALL 100:105',
        b'(TAG "IMKF1") UID ALL 1:300',
        b"UID ALL 4",  # no correlator: not an answer to either
    ]
    replies = esearch_by_tag(lines)
    assert set(replies) == {b"IMKF1", b"IMKF2"}
    assert esearch_result([replies[b"IMKF2"]])[0] == list(range(100, 106))


@pytest.mark.parametrize(
    "lines",
    [
        [b'(TAG "a1") UID ALL 1', b'(TAG "a1") UID ALL 2'],  # one command answered twice
        [(b'(TAG "a1") UID ALL {1}', b"1")],  # a literal
    ],
)
def test_hostile_esearch_correlators_are_refused(lines: list[object]) -> None:
    with pytest.raises(ImapSyntaxError):
        esearch_by_tag(lines)
