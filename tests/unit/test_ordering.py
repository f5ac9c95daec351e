"""Sort and thread for every driver (stores.ordering): RFC 5256 base subjects,
i;unicode-casemap, ties, ARRIVAL as UID or INTERNALDATE, and REFERENCES threads with
missing parents, cycles and long chains."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pinesh.stores.base import Address, Envelope, Flag, SortKey, ThreadNode
from pinesh.stores.ordering import (
    base_subject,
    internal_time,
    sort_uids,
    thread_envelopes,
    unicode_casemap,
)


def make_envelope(
    uid: int,
    *,
    subject: str = "",
    sender: str = "",
    to: str = "",
    date: datetime | None = None,
    arrival: datetime | None = None,
    size: int = 0,
    message_id: str | None = None,
    references: tuple[str, ...] = (),
    in_reply_to: str | None = None,
    flags: frozenset[Flag] = frozenset(),
) -> Envelope:
    def addr(text: str) -> tuple[Address, ...]:
        if not text:
            return ()
        name, _, email = text.rpartition(" ")
        return (Address(name, email),)

    return Envelope(
        uid=uid,
        date=date,
        sender=addr(sender),
        to=addr(to),
        cc=(),
        subject=subject,
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
        size=size,
        flags=flags,
        internal_date=arrival,
    )


T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def test_base_subject_strips_reply_and_list_markers() -> None:
    assert base_subject("Re: Fwd: [list] RE:  hello  world (fwd)") == "hello world"
    assert base_subject("[Fwd: the plan]") == "the plan"
    assert base_subject("[list]") == "[list]"
    assert base_subject("Re:") == ""


def test_unicode_casemap_folds_case_and_accents_apart() -> None:
    assert unicode_casemap("änderung") == unicode_casemap("Änderung")
    assert unicode_casemap("Änderung") < unicode_casemap("B")


def test_sort_by_each_key_with_ties_in_uid_order() -> None:
    envelopes = [
        make_envelope(1, subject="Re: beta", sender="Zed z@x", to="B b@x", date=T0, size=30),
        make_envelope(
            2, subject="alpha", sender="Amy a@x", to="A a@x", date=T0 - timedelta(days=1)
        ),
        make_envelope(
            3, subject="Beta", sender="Bob b@x", to="C c@x", date=None, arrival=T0, size=30
        ),
        make_envelope(4, subject="Änderung", sender="Ann a@x", to="", date=T0 + timedelta(hours=1)),
    ]
    assert sort_uids(envelopes, SortKey.DATE) == [2, 1, 3, 4]  # 3 has no Date: its arrival
    assert sort_uids(envelopes, SortKey.DATE, reverse=True) == [4, 1, 3, 2]
    assert sort_uids(envelopes, SortKey.SUBJECT) == [2, 4, 1, 3]
    assert sort_uids(envelopes, SortKey.FROM) == [2, 4, 3, 1]  # by mailbox: a, a, b, z
    assert sort_uids(envelopes, SortKey.TO) == [4, 2, 1, 3]
    assert sort_uids(envelopes, SortKey.SIZE) == [2, 4, 1, 3]
    assert sort_uids(envelopes, SortKey.SIZE, reverse=True) == [1, 3, 2, 4]
    assert sort_uids(list(reversed(envelopes)), SortKey.ARRIVAL) == [1, 2, 3, 4]


# --------------------------------------------------------------------------- thread


def test_threads_follow_references_and_order_by_date() -> None:
    envelopes = [
        make_envelope(1, message_id="<a>", date=T0),
        make_envelope(2, message_id="<b>", references=("<a>",), date=T0 + timedelta(2)),
        make_envelope(3, message_id="<c>", in_reply_to="<a>", date=T0 + timedelta(1)),
        make_envelope(4, message_id="<d>", references=("<a>", "<c>"), date=T0 + timedelta(3)),
        make_envelope(5, message_id="<e>", date=T0 - timedelta(1)),
    ]
    assert thread_envelopes(envelopes) == [
        ThreadNode(5),
        ThreadNode(1, (ThreadNode(3, (ThreadNode(4),)), ThreadNode(2))),
    ]


def test_a_missing_parent_with_several_children_stays_as_an_empty_node() -> None:
    envelopes = [
        make_envelope(1, message_id="<x>", references=("<gone>",), date=T0),
        make_envelope(2, message_id="<y>", references=("<gone>",), date=T0 + timedelta(1)),
        make_envelope(3, message_id="<z>", references=("<lost>",), date=T0 + timedelta(2)),
    ]
    assert thread_envelopes(envelopes) == [
        ThreadNode(None, (ThreadNode(1), ThreadNode(2))),
        ThreadNode(3),  # one child: it takes the missing parent's place
    ]


def test_reference_loops_and_duplicate_ids_do_not_break_threading() -> None:
    envelopes = [
        make_envelope(1, message_id="<a>", references=("<b>",), date=T0),
        make_envelope(2, message_id="<b>", references=("<a>",), date=T0 + timedelta(1)),
        make_envelope(3, message_id="<a>", date=T0 + timedelta(2)),  # a duplicate Message-ID
        make_envelope(4, message_id="<self>", references=("<self>",), date=T0 + timedelta(3)),
    ]
    threads = thread_envelopes(envelopes)
    seen = []
    stack = list(threads)
    while stack:
        node = stack.pop()
        seen.append(node.uid)
        stack.extend(node.children)
    assert sorted(u for u in seen if u is not None) == [1, 2, 3, 4]


def test_a_very_deep_reply_chain_threads_without_recursion() -> None:
    count = 5000
    envelopes = [
        make_envelope(
            i,
            message_id=f"<m{i}>",
            references=(f"<m{i - 1}>",) if i > 1 else (),
            date=T0 + timedelta(seconds=i),
        )
        for i in range(1, count + 1)
    ]
    (root,) = thread_envelopes(envelopes)
    depth = 0
    node = root
    while node.children:
        (node,) = node.children
        depth += 1
    assert (root.uid, node.uid, depth) == (1, count, count - 1)


@pytest.mark.parametrize(
    ("subject", "base"),
    [
        ("Re: hello", "hello"),
        ("RE: Re: re:hello", "hello"),
        ("Fwd: Fw: hello (fwd)", "hello"),
        ("[list] Re: [list] hello", "hello"),
        ("Re[2]: hello", "hello"),
        ("[fwd: Re: hello]", "hello"),
        ("[list]", "[list]"),  # removing the blob would leave nothing: it stays
        ("  spaced\t  out  ", "spaced out"),
        ("Regarding: x", "Regarding: x"),
        ("", ""),
    ],
)
def test_base_subject(subject: str, base: str) -> None:
    assert base_subject(subject) == base


def test_unicode_casemap() -> None:
    assert unicode_casemap("änderung") == unicode_casemap("Änderung")
    assert unicode_casemap("Änderung") < unicode_casemap("Backup")  # Ä sorts with the A's
    assert unicode_casemap("straße") == "STRAßE"  # simple mapping: ß stays one letter
    assert unicode_casemap("ﬁ") == "fi"  # NFKD


def test_sort_keys_and_ties() -> None:
    zone = timezone(timedelta(hours=9))
    envelopes = [
        make_envelope(1, subject="Re: beta", sender="zed@x", date=datetime(2024, 1, 2, tzinfo=UTC)),
        make_envelope(
            2, subject="alpha", sender="Amy@x", date=datetime(2024, 1, 2, 8, tzinfo=zone)
        ),
        make_envelope(3, subject="[l] Beta", sender="bob@x", date=None, size=5),
        make_envelope(
            4,
            subject="Fwd: alpha",
            sender="amy@y",
            date=datetime(2024, 1, 1, tzinfo=UTC),
            arrival=datetime(2023, 12, 1, tzinfo=UTC),
            size=5,
        ),
    ]
    # 2 is 2024-01-01 23:00 UTC; 3 has no date nor arrival time: the earliest.
    assert sort_uids(envelopes, SortKey.DATE, arrival=internal_time) == [3, 4, 2, 1]
    assert sort_uids(envelopes, SortKey.SUBJECT, arrival=internal_time) == [2, 4, 1, 3]
    assert sort_uids(envelopes, SortKey.FROM, arrival=internal_time) == [2, 4, 3, 1]
    assert sort_uids(envelopes, SortKey.SIZE, arrival=internal_time) == [1, 2, 3, 4]
    # Reversed, equal keys still keep arrival order.
    assert sort_uids(envelopes, SortKey.SIZE, reverse=True, arrival=internal_time) == [3, 4, 1, 2]
    assert sort_uids(envelopes, SortKey.ARRIVAL, arrival=internal_time) == [1, 2, 3, 4]
    assert sort_uids([], SortKey.TO, arrival=internal_time) == []


def test_threads_by_references() -> None:
    envelopes = [
        make_envelope(1, message_id="<a>"),
        make_envelope(2, message_id="<b>", references=("<a>",)),
        make_envelope(3, message_id="<c>", in_reply_to="<b>"),
        make_envelope(4, message_id="<d>", references=("<a>", "<gone>")),  # last known: <a>
        make_envelope(5, message_id="<e>", references=("<nowhere>",)),
        make_envelope(6, message_id="<a>", references=("<b>",)),  # a duplicate Message-ID
    ]
    assert thread_envelopes(envelopes) == [
        ThreadNode(
            1,
            (
                ThreadNode(2, (ThreadNode(3), ThreadNode(6))),
                ThreadNode(4),
            ),
        ),
        ThreadNode(5),
    ]


def test_reference_cycles_are_cut() -> None:
    envelopes = [
        make_envelope(1, message_id="<a>", references=("<b>",)),
        make_envelope(2, message_id="<b>", references=("<a>",)),
        make_envelope(3, message_id="<c>", references=("<c>",)),  # refers to itself
        make_envelope(4, message_id="<d>", references=("<a>",)),
    ]
    threads = thread_envelopes(envelopes)
    seen: list[int | None] = []
    stack = list(threads)
    while stack:
        node = stack.pop()
        seen.append(node.uid)
        stack += node.children
    assert sorted(u for u in seen if u is not None) == [1, 2, 3, 4]
    assert ThreadNode(3) in threads


def test_a_long_chain_does_not_recurse() -> None:
    count = 20_000
    envelopes = [
        make_envelope(n, message_id=f"<{n}>", references=(f"<{n - 1}>",) if n > 1 else ())
        for n in range(1, count + 1)
    ]
    [root] = thread_envelopes(envelopes)
    depth, node = 1, root
    while node.children:
        [node] = node.children
        depth += 1
    assert (root.uid, node.uid, depth) == (1, count, count)
