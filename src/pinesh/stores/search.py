"""Searching a folder here, over envelopes and message bytes, for drivers without SEARCH.

Used by Maildir, mbox and news. Subject, from, to, flags and dates are answered from
the envelope; body and text only where they are asked for, from the message's decoded
text parts (``mime_structure.text_parts``). Matching is a case-insensitive substring, as
IMAP SEARCH does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pinesh.stores.base import Address, Envelope, SearchQuery
from pinesh.stores.headers import decode_words, header_text, parse_header_block
from pinesh.stores.mime_structure import ByteSource, body_offset, text_parts


def _has(haystack: str, needle: str | None) -> bool:
    return needle is None or needle.casefold() in haystack.casefold()


def _addresses(addresses: tuple[Address, ...]) -> str:
    return " ".join(f"{a.name} <{a.email}>" for a in addresses)


def envelope_matches(envelope: Envelope, query: SearchQuery) -> bool:
    """What the envelope alone can answer: subject, from, to, flags and dates."""
    if not _has(envelope.subject, query.subject):
        return False
    if not _has(_addresses(envelope.sender), query.sender):
        return False
    if not _has(_addresses(envelope.to), query.to):
        return False
    if not query.flags <= envelope.flags or query.not_flags & envelope.flags:
        return False
    moment = envelope.date or envelope.internal_date
    if query.since is not None and (moment is None or moment < query.since):
        return False
    return query.before is None or (moment is not None and moment < query.before)


def needs_message(query: SearchQuery) -> bool:
    """Whether the query looks into the message (body or all text), not just the envelope."""
    return bool(query.text or query.body)


def message_matches(data: ByteSource, query: SearchQuery) -> bool:
    """The parts of a query that need the message: the body, and text anywhere."""
    if not needs_message(query):
        return True
    body = "\n".join(text_parts(data))
    if not _has(body, query.body):
        return False
    if query.text is None:
        return True
    try:
        headers = parse_header_block(bytes(data[: body_offset(data)]))
        head = "\n".join(f"{k}: {decode_words(header_text(v))}" for k, v in headers.raw_items())
    except Exception:  # a header block the parser cannot take: search its raw text
        head = bytes(data[: body_offset(data)]).decode("utf-8", "replace")
    return _has(head, query.text) or _has(body, query.text)


def search_uids(
    envelopes: Sequence[Envelope], query: SearchQuery, message: Callable[[int], ByteSource]
) -> list[int]:
    """UIDs (in UID order) whose envelope, and message where needed, match the query.

    message(uid) gives a message's bytes; it is called only for envelopes that match.
    """
    found = []
    for envelope in sorted(envelopes, key=lambda e: e.uid):
        if not envelope_matches(envelope, query):
            continue
        if not needs_message(query) or message_matches(message(envelope.uid), query):
            found.append(envelope.uid)
    return found
