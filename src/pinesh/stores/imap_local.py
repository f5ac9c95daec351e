"""Sorting and threading here, over envelopes, for servers without SORT or THREAD.

The orders follow RFC 5256 so that a folder sorts the same with or without server help:
DATE is the Date header in UTC (else the arrival time), FROM and TO the mailbox (local
part) of the first address, SUBJECT the base subject (no "Re:", "Fwd:", "[list]"),
compared with i;unicode-casemap as servers with I18NLEVEL=1 do; ties go by arrival.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pinesh.stores.base import Address, Envelope, SortKey, ThreadNode

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WSP = re.compile(r"\s+")
_TRAILER = re.compile(r"(\s*\(fwd\))+\s*$", re.IGNORECASE)
_BLOB = r"\[[^\[\]]*\]\s*"
_LEADER = re.compile(rf"^(?:(?:{_BLOB})*(?:re|fwd?)\s*(?:{_BLOB})?:\s*|\s+)", re.IGNORECASE)
_LEADING_BLOB = re.compile(rf"^{_BLOB}")
_FWD_WRAP = re.compile(r"^\[fwd:(.*)\]$", re.IGNORECASE)


def unicode_casemap(text: str) -> str:
    """i;unicode-casemap (RFC 5051): each character's simple titlecase, then NFKD.

    The comparator of servers with I18NLEVEL=1 (RFC 5255), Dovecot among them, so that
    "Änderung" sorts with the A's. Strings compare in code point order, which is the
    order of their UTF-8 octets.
    """
    titled = []
    for ch in text:
        title = ch.title()
        # Python applies full mappings ("ß" -> "Ss"); the simple mapping keeps one char.
        titled.append(title if len(title) == 1 else ch)
    return unicodedata.normalize("NFKD", "".join(titled))


def base_subject(subject: str) -> str:
    """RFC 5256 2.1: the subject without reply/forward markers and list tags."""
    text = _WSP.sub(" ", subject).strip()
    while True:
        before = text
        text = _TRAILER.sub("", text)
        while True:
            stripped = _LEADER.sub("", text, count=1)
            blob = _LEADING_BLOB.match(stripped)
            if blob and stripped[blob.end() :]:
                stripped = stripped[blob.end() :]
            if stripped == text:
                break
            text = stripped
        wrapped = _FWD_WRAP.match(text)
        if wrapped:
            text = wrapped[1].strip()
        if text == before:
            return text


def _mailbox(addresses: tuple[Address, ...]) -> str:
    if not addresses:
        return ""
    return unicode_casemap(addresses[0].email.rpartition("@")[0] or addresses[0].email)


def _when(envelope: Envelope) -> float:
    moment = envelope.date or envelope.internal_date
    return (moment - _EPOCH).total_seconds() if moment else 0.0


def _arrival(envelope: Envelope) -> float:
    moment = envelope.internal_date
    return (moment - _EPOCH).total_seconds() if moment else 0.0


_KEYS: dict[SortKey, Callable[[Envelope], object]] = {
    SortKey.ARRIVAL: _arrival,
    SortKey.DATE: _when,
    SortKey.FROM: lambda e: _mailbox(e.sender),
    SortKey.TO: lambda e: _mailbox(e.to),
    SortKey.SUBJECT: lambda e: unicode_casemap(base_subject(e.subject)),
    SortKey.SIZE: lambda e: e.size,
}


def sort_uids(envelopes: Sequence[Envelope], key: SortKey, reverse: bool = False) -> list[int]:
    """UIDs ordered by key; equal keys keep arrival (UID) order, reversed or not."""
    by_uid = sorted(envelopes, key=lambda e: e.uid)
    # sorted() is stable with reverse=True too: ties stay in ascending UID order.
    ordered = sorted(by_uid, key=_KEYS[key], reverse=reverse)  # type: ignore[arg-type]
    return [e.uid for e in ordered]


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
