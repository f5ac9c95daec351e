"""Sorting and threading over envelopes, one rule for every driver (RFC 5256).

Used by Maildir, mbox and news, which have no server to ask, and by IMAP on a server
without SORT or THREAD, so that a folder sorts and threads the same everywhere: DATE is
the Date header in UTC (else the arrival time), FROM and TO the mailbox (local part) of
the first address, SUBJECT the base subject (no "Re:", "Fwd:", "[list]"), compared with
i;unicode-casemap as servers with I18NLEVEL=1 do; ties go by UID. ARRIVAL is the UID for
local folders (their UIDs are given in arrival order); IMAP passes INTERNALDATE instead
(internal_time). Threads are RFC 5256 REFERENCES without the subject grouping.
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
    """i;unicode-casemap (RFC 5051): simple titlecase of each character, then NFKD, the
    comparator of IMAP servers with I18NLEVEL=1 (Dovecot), so that "Ä" sorts with "A"."""
    titled = []
    for ch in text:
        title = ch.title()
        titled.append(title if len(title) == 1 else ch)  # the simple mapping: one char
    return unicodedata.normalize("NFKD", "".join(titled))


def base_subject(subject: str) -> str:
    """RFC 5256 2.1: the subject without "Re:", "Fwd:", "[list]" tags and "(fwd)"."""
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
    """RFC 5256 FROM/TO: the local part of the first address (its name if it has none)."""
    if not addresses:
        return ""
    first = addresses[0]
    local = first.email.rpartition("@")[0] or first.email or first.name
    return unicode_casemap(local)


def sent_time(envelope: Envelope) -> float:
    """RFC 5256 sent date: the Date header in UTC, else the arrival time, else 0."""
    moment = envelope.date or envelope.internal_date
    return (moment - _EPOCH).total_seconds() if moment else 0.0


_KEYS: dict[SortKey, Callable[[Envelope], object]] = {
    SortKey.ARRIVAL: lambda e: e.uid,  # local UIDs are in arrival order
    SortKey.DATE: sent_time,
    SortKey.FROM: lambda e: _mailbox(e.sender),
    SortKey.TO: lambda e: _mailbox(e.to),
    SortKey.SUBJECT: lambda e: unicode_casemap(base_subject(e.subject)),
    SortKey.SIZE: lambda e: e.size,
}


def sort_uids(
    envelopes: Sequence[Envelope],
    key: SortKey,
    reverse: bool = False,
    *,
    arrival: Callable[[Envelope], float] | None = None,
) -> list[int]:
    """UIDs ordered by key; equal keys stay in UID (arrival) order, reversed or not.

    arrival, when given, is the ARRIVAL key (an IMAP server's INTERNALDATE); else ARRIVAL
    is the UID, as local UIDs are in arrival order.
    """
    by_uid = sorted(envelopes, key=lambda e: e.uid)
    by = arrival if key is SortKey.ARRIVAL and arrival is not None else _KEYS[key]
    # sorted() is stable with reverse=True too: ties stay in ascending UID order.
    ordered = sorted(by_uid, key=by, reverse=reverse)  # type: ignore[arg-type]
    return [e.uid for e in ordered]


def internal_time(envelope: Envelope) -> float:
    """The ARRIVAL key of an IMAP message: its INTERNALDATE (0 when unknown)."""
    moment = envelope.internal_date
    return (moment - _EPOCH).total_seconds() if moment else 0.0


class _Container:
    """JWZ's container: a message (uid) or a placeholder for one that is referred to."""

    __slots__ = ("children", "envelope", "parent")

    def __init__(self) -> None:
        self.envelope: Envelope | None = None
        self.parent: _Container | None = None
        self.children: list[_Container] = []

    def has_descendant(self, other: _Container) -> bool:
        """Whether other is this container or below it (linking would make a loop)."""
        if not self.children:
            return other is self  # a leaf: the usual case, no walk up a long chain
        node: _Container | None = other
        while node is not None:
            if node is self:
                return True
            node = node.parent
        return False

    def adopt(self, child: _Container) -> None:
        if child.parent is not None:
            child.parent.children.remove(child)
        child.parent = self
        self.children.append(child)

    def orphan(self) -> None:
        if self.parent is not None:
            self.parent.children.remove(self)
            self.parent = None


def _containers(envelopes: Sequence[Envelope]) -> list[_Container]:
    """RFC 5256 REFERENCES steps 1 and 2: containers linked by references; the roots."""
    table: dict[str, _Container] = {}
    for envelope in sorted(envelopes, key=lambda e: e.uid):
        mid = envelope.message_id
        if not mid or (mid in table and table[mid].envelope is not None):
            mid = f"<{envelope.uid}.pinesh-unique@invalid>"  # duplicate or missing ID
        this = table.setdefault(mid, _Container())
        this.envelope = envelope
        refs = envelope.references or ((envelope.in_reply_to,) if envelope.in_reply_to else ())
        previous: _Container | None = None
        for ref in refs:
            if ref == mid:
                continue
            container = table.setdefault(ref, _Container())
            # Link each reference to the one before it, unless a parent is known already
            # or the link would make a loop (hostile or broken References).
            if (
                previous is not None
                and container.parent is None
                and not container.has_descendant(previous)
            ):
                previous.adopt(container)
            previous = container
        # The message's own References name its parent, over what others presumed.
        if previous is not None and not this.has_descendant(previous):
            if this.parent is not previous:
                previous.adopt(this)
        elif previous is None:
            this.orphan()
    return [c for c in table.values() if c.parent is None]


def _prune(roots: list[_Container]) -> list[_Container]:
    """RFC 5256 step 3: drop empty containers; an empty one's children move up, except
    that a root keeps its place (as a missing parent) when it has more than one child."""
    out: list[_Container] = []
    stack: list[tuple[_Container, list[_Container], bool]] = [
        (root, out, True) for root in reversed(roots)
    ]
    while stack:
        node, siblings, at_root = stack.pop()
        if node.envelope is None:
            if not node.children:
                continue
            if not at_root or len(node.children) == 1:
                stack.extend((c, siblings, at_root) for c in reversed(node.children))
                continue
        kept: list[_Container] = []
        kids, node.children = node.children, kept
        siblings.append(node)
        stack.extend((c, kept, False) for c in reversed(kids))
    return out


def _first_time(node: _Container) -> tuple[float, int]:
    envelope = node.envelope or node.children[0].envelope
    assert envelope is not None  # pruning keeps only containers with a message below
    return sent_time(envelope), envelope.uid


def thread_envelopes(envelopes: Sequence[Envelope]) -> list[ThreadNode]:
    """Threads by References (else In-Reply-To), RFC 5256 REFERENCES without the subject
    grouping: siblings and threads ordered by sent date, then UID. A missing parent with
    several children is a ThreadNode with uid None."""
    roots = _prune(_containers(envelopes))
    # Children first, then parents (no recursion: a reply chain can be thousands deep).
    order: list[_Container] = []
    stack = list(roots)
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node.children)
    built: dict[int, ThreadNode] = {}
    for node in reversed(order):
        node.children.sort(key=_first_time)
        uid = node.envelope.uid if node.envelope else None
        built[id(node)] = ThreadNode(uid, tuple(built.pop(id(c)) for c in node.children))
    return [built[id(root)] for root in sorted(roots, key=_first_time)]
