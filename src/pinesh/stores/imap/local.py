"""Sorting and threading here, over envelopes, for servers without SORT or THREAD.

The orders follow RFC 5256 so that a folder sorts the same with or without server help:
DATE is the Date header in UTC (else the arrival time), FROM and TO the mailbox (local
part) of the first address, SUBJECT the base subject (no "Re:", "Fwd:", "[list]"),
compared with i;unicode-casemap as servers with I18NLEVEL=1 do; ties go by arrival.
Those orders are local_common's; ARRIVAL here is the server's INTERNALDATE.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pinesh.stores import local_common
from pinesh.stores.base import Envelope, SortKey, ThreadNode

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _arrival(envelope: Envelope) -> float:
    moment = envelope.internal_date
    return (moment - _EPOCH).total_seconds() if moment else 0.0


def sort_uids(envelopes: Sequence[Envelope], key: SortKey, reverse: bool = False) -> list[int]:
    """UIDs ordered by key (local_common's RFC 5256 orders), ARRIVAL being the server's
    INTERNALDATE; equal keys keep UID order, reversed or not."""
    return local_common.sort_uids(envelopes, key, reverse, arrival=_arrival)


def thread_envelopes(envelopes: Sequence[Envelope]) -> list[ThreadNode]:
    """Threads by References / In-Reply-To: a message's parent is the last message it
    refers to that is in the folder. Roots and children are in UID order.
    """
    by_uid = sorted(envelopes, key=lambda e: e.uid)
    owner: dict[str, int] = {}
    for envelope in by_uid:
        if envelope.message_id and envelope.message_id not in owner:
            owner[envelope.message_id] = envelope.uid
    parent: dict[int, int] = {}
    for envelope in by_uid:
        refs = envelope.references or ((envelope.in_reply_to,) if envelope.in_reply_to else ())
        for ref in reversed(refs):
            candidate = owner.get(ref)
            if candidate is not None and candidate != envelope.uid:
                parent[envelope.uid] = candidate
                break
    # Break cycles (a refers to b, b refers to a): walk up from each message, marking the
    # walk; coming back onto the same walk is a cycle, cut where it closes. Each message is
    # walked over once in all (a long reply chain must not cost its length squared).
    walked: dict[int, int] = {}  # uid -> the walk that reached it
    for start in list(parent):
        if start in walked:
            continue
        path = []
        node: int | None = start
        while node is not None and node not in walked:
            walked[node] = start
            path.append(node)
            node = parent.get(node)
        if node is not None and walked[node] == start:
            del parent[path[-1]]
    children: dict[int, list[int]] = {}
    for child, up in parent.items():
        children.setdefault(up, []).append(child)
    roots = [e.uid for e in by_uid if e.uid not in parent]
    # Build bottom-up without recursion: a long reply chain must not hit the stack limit.
    order: list[int] = []
    stack = list(roots)
    while stack:
        uid = stack.pop()
        order.append(uid)
        stack.extend(children.get(uid, ()))
    nodes: dict[int, ThreadNode] = {}
    for uid in reversed(order):
        kids = tuple(nodes[c] for c in sorted(children.get(uid, ())))
        nodes[uid] = ThreadNode(uid, kids)
    return [nodes[uid] for uid in roots]
