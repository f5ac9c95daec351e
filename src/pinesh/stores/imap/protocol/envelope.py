"""Our Envelope from one message's FETCH of ENVELOPE_ITEMS, as IMAPClient parses it.

Every value is checked (a hostile server can put anything anywhere): a wrong shape
raises ImapSyntaxError, a date the server got wrong is no date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timezone
from typing import Any

from pinesh.stores.base import Address, Envelope
from pinesh.stores.headers import header_addresses, message_ids, parse_header_block
from pinesh.stores.imap.errors import ImapSyntaxError
from pinesh.stores.imap.protocol.responses import decoded, flags_of, text_of

ENVELOPE_ITEMS = (
    "ENVELOPE",
    "FLAGS",
    "RFC822.SIZE",
    "INTERNALDATE",
    # From as written too: the server's ENVELOPE loses the address of a From whose name
    # holds a control character or an unquoted "[" (Dovecot gives "Evil@MISSING_DOMAIN");
    # read here as the local stores read it (headers.address_list).
    "BODY.PEEK[HEADER.FIELDS (REFERENCES NEWSGROUPS FROM)]",
)
_EXTRA_HEADERS_KEY = b"BODY[HEADER.FIELDS"


def _addresses(value: object) -> tuple[Address, ...]:
    """ENVELOPE addresses; group markers (RFC 3501 7.4.2) are left out."""
    if value is None:
        return ()
    if not isinstance(value, tuple | list):
        raise ImapSyntaxError("an address list is not a list")
    out = []
    for item in value:
        name = getattr(item, "name", None)
        mailbox = getattr(item, "mailbox", None)
        host = getattr(item, "host", None)
        if not hasattr(item, "mailbox"):
            raise ImapSyntaxError("an address is not an address")
        if host is None:
            continue  # start (mailbox = group name) or end (both None) of a group
        local = text_of(mailbox)
        email = f"{local}@{text_of(host)}" if local else text_of(host)
        out.append(Address(decoded(name), email))
    return tuple(out)


def _aware(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    try:
        offset = value.utcoffset()
    except ValueError:  # a hostile zone like +9959: no usable date, not a crash
        return None
    # IMAPClient leaves a date without a zone naive: read it as UTC rather than guess.
    # Its own tzinfo class is swapped for the standard one.
    return value.replace(tzinfo=timezone(offset) if offset is not None else UTC)


def _first_id(value: object) -> str | None:
    ids = message_ids(text_of(value))
    return ids[0] if ids else None


@dataclass(frozen=True)
class _ExtraHeaders:
    """What the BODY[HEADER.FIELDS (...)] literal adds to the ENVELOPE."""

    references: tuple[str, ...] = ()
    newsgroups: tuple[str, ...] = ()
    sender: tuple[Address, ...] = ()  # From as written; () when the message has none


def _extra_headers(item: Mapping[bytes, object]) -> _ExtraHeaders:
    """References, Newsgroups and From from the BODY[HEADER.FIELDS (...)] literal."""
    for key, value in item.items():
        if isinstance(key, bytes) and key.upper().startswith(_EXTRA_HEADERS_KEY):
            if value is None:
                return _ExtraHeaders()
            if not isinstance(value, bytes):
                raise ImapSyntaxError("the header fields are not a string")
            message = parse_header_block(value)
            references = message_ids(" ".join(str(v) for v in message.get_all("References", [])))
            groups = ",".join(str(v) for v in message.get_all("Newsgroups", []))
            return _ExtraHeaders(
                references,
                tuple(g.strip() for g in groups.split(",") if g.strip()),
                header_addresses(message, "From"),
            )
    return _ExtraHeaders()


def envelope_of(uid: int, item: Mapping[bytes, object]) -> Envelope:
    """Our Envelope from one message's FETCH of ENVELOPE_ITEMS."""
    env: Any = item.get(b"ENVELOPE")  # IMAPClient's Envelope (untyped)
    if env is None or not hasattr(env, "subject"):
        raise ImapSyntaxError(f"no ENVELOPE for UID {uid}")
    size = item.get(b"RFC822.SIZE", 0)
    if not isinstance(size, int) or size < 0:
        raise ImapSyntaxError(f"RFC822.SIZE of UID {uid} is not a number")
    extra = _extra_headers(item)
    return Envelope(
        uid=uid,
        date=_aware(env.date),
        sender=extra.sender or _addresses(env.from_),
        to=_addresses(env.to),
        cc=_addresses(env.cc),
        subject=decoded(env.subject),
        message_id=_first_id(env.message_id),
        in_reply_to=_first_id(env.in_reply_to),
        references=extra.references,
        size=size,
        flags=flags_of(item.get(b"FLAGS")),
        internal_date=_aware(item.get(b"INTERNALDATE")),
        newsgroups=extra.newsgroups,
    )
