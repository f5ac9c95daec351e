"""Local sort and thread (for servers without SORT/THREAD): RFC 5256 base subjects,
i;unicode-casemap, ties, and threads by References with cycles and long chains."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pinesh.stores.base import Address, Envelope, SortKey, ThreadNode
from pinesh.stores.ordering import base_subject, sort_uids, thread_envelopes, unicode_casemap


def _envelope(
    uid: int,
    *,
    subject: str = "",
    sender: str = "",
    date: datetime | None = None,
    arrived: datetime | None = None,
    size: int = 0,
    message_id: str | None = None,
    references: tuple[str, ...] = (),
    in_reply_to: str | None = None,
) -> Envelope:
    return Envelope(
        uid=uid,
        date=date,
        sender=(Address("", sender),) if sender else (),
        to=(),
        cc=(),
        subject=subject,
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
        size=size,
        flags=frozenset(),
        internal_date=arrived,
    )


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
        _envelope(1, subject="Re: beta", sender="zed@x", date=datetime(2024, 1, 2, tzinfo=UTC)),
        _envelope(2, subject="alpha", sender="Amy@x", date=datetime(2024, 1, 2, 8, tzinfo=zone)),
        _envelope(3, subject="[l] Beta", sender="bob@x", date=None, size=5),
        _envelope(
            4,
            subject="Fwd: alpha",
            sender="amy@y",
            date=datetime(2024, 1, 1, tzinfo=UTC),
            arrived=datetime(2023, 12, 1, tzinfo=UTC),
            size=5,
        ),
    ]
    # 2 is 2024-01-01 23:00 UTC; 3 has no date nor arrival time: the earliest.
    assert sort_uids(envelopes, SortKey.DATE) == [3, 4, 2, 1]
    assert sort_uids(envelopes, SortKey.SUBJECT) == [2, 4, 1, 3]
    assert sort_uids(envelopes, SortKey.FROM) == [2, 4, 3, 1]
    assert sort_uids(envelopes, SortKey.SIZE) == [1, 2, 3, 4]
    # Reversed, equal keys still keep arrival order.
    assert sort_uids(envelopes, SortKey.SIZE, reverse=True) == [3, 4, 1, 2]
    assert sort_uids(envelopes, SortKey.ARRIVAL) == [1, 2, 3, 4]
    assert sort_uids([], SortKey.TO) == []


def test_threads_by_references() -> None:
    envelopes = [
        _envelope(1, message_id="<a>"),
        _envelope(2, message_id="<b>", references=("<a>",)),
        _envelope(3, message_id="<c>", in_reply_to="<b>"),
        _envelope(4, message_id="<d>", references=("<a>", "<gone>")),  # last known: <a>
        _envelope(5, message_id="<e>", references=("<nowhere>",)),
        _envelope(6, message_id="<a>", references=("<b>",)),  # a duplicate Message-ID
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
        _envelope(1, message_id="<a>", references=("<b>",)),
        _envelope(2, message_id="<b>", references=("<a>",)),
        _envelope(3, message_id="<c>", references=("<c>",)),  # refers to itself
        _envelope(4, message_id="<d>", references=("<a>",)),
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
        _envelope(n, message_id=f"<{n}>", references=(f"<{n - 1}>",) if n > 1 else ())
        for n in range(1, count + 1)
    ]
    [root] = thread_envelopes(envelopes)
    depth, node = 1, root
    while node.children:
        [node] = node.children
        depth += 1
    assert (root.uid, node.uid, depth) == (1, count, count)
