"""Pure conversions from IMAPClient's parsed FETCH and LIST values to our Envelope and FolderInfo.

IMAPClient hands over nested tuples of bytes, ints and None, exactly as the server sent
them (strings that look like numbers come as ints). A hostile server can put anything
anywhere, so every function here checks what it gets and raises ConvertError (a
ValueError) rather than TypeError or IndexError.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timezone
from typing import Any

from pinesh.stores.base import Address, Envelope, Flag, FolderInfo
from pinesh.stores.headers import decode_words, message_ids, parse_header_block

FLAG_NAMES: dict[Flag, bytes] = {
    Flag.SEEN: rb"\Seen",
    Flag.ANSWERED: rb"\Answered",
    Flag.FLAGGED: rb"\Flagged",
    Flag.DELETED: rb"\Deleted",
    Flag.DRAFT: rb"\Draft",
}
_FLAGS_BY_NAME = {name.lower(): flag for flag, name in FLAG_NAMES.items()}

ENVELOPE_ITEMS = (
    "ENVELOPE",
    "FLAGS",
    "RFC822.SIZE",
    "INTERNALDATE",
    "BODY.PEEK[HEADER.FIELDS (REFERENCES NEWSGROUPS)]",
)
_EXTRA_HEADERS_KEY = b"BODY[HEADER.FIELDS"


class ConvertError(ValueError):
    """A value from the server does not have the shape IMAP says it has."""


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
    raise ConvertError(f"expected a string, got {type(value).__name__}")


def decoded(value: object) -> str:
    """An IMAP string holding RFC 2047 encoded words, decoded; never raises for bad words."""
    return decode_words(text_of(value))


def flags_of(value: object) -> frozenset[Flag]:
    """The system flags among a FLAGS list (keywords and \\Recent are left out)."""
    if value is None:
        return frozenset()
    if not isinstance(value, tuple | list):
        raise ConvertError("FLAGS is not a list")
    found = set()
    for item in value:
        if isinstance(item, bytes):
            flag = _FLAGS_BY_NAME.get(item.lower())
            if flag is not None:
                found.add(flag)
    return frozenset(found)


def _addresses(value: object) -> tuple[Address, ...]:
    """ENVELOPE addresses; group markers (RFC 3501 7.4.2) are left out."""
    if value is None:
        return ()
    if not isinstance(value, tuple | list):
        raise ConvertError("an address list is not a list")
    out = []
    for item in value:
        name = getattr(item, "name", None)
        mailbox = getattr(item, "mailbox", None)
        host = getattr(item, "host", None)
        if not hasattr(item, "mailbox"):
            raise ConvertError("an address is not an address")
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


def _extra_headers(item: Mapping[bytes, object]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """References and Newsgroups from the BODY[HEADER.FIELDS (...)] literal."""
    for key, value in item.items():
        if isinstance(key, bytes) and key.upper().startswith(_EXTRA_HEADERS_KEY):
            if value is None:
                return (), ()
            if not isinstance(value, bytes):
                raise ConvertError("the header fields are not a string")
            message = parse_header_block(value)
            references = message_ids(" ".join(str(v) for v in message.get_all("References", [])))
            groups = ",".join(str(v) for v in message.get_all("Newsgroups", []))
            return references, tuple(g.strip() for g in groups.split(",") if g.strip())
    return (), ()


def envelope_of(uid: int, item: Mapping[bytes, object]) -> Envelope:
    """Our Envelope from one message's FETCH of ENVELOPE_ITEMS."""
    env: Any = item.get(b"ENVELOPE")  # IMAPClient's Envelope (untyped)
    if env is None or not hasattr(env, "subject"):
        raise ConvertError(f"no ENVELOPE for UID {uid}")
    size = item.get(b"RFC822.SIZE", 0)
    if not isinstance(size, int) or size < 0:
        raise ConvertError(f"RFC822.SIZE of UID {uid} is not a number")
    references, newsgroups = _extra_headers(item)
    return Envelope(
        uid=uid,
        date=_aware(env.date),
        sender=_addresses(env.from_),
        to=_addresses(env.to),
        cc=_addresses(env.cc),
        subject=decoded(env.subject),
        message_id=_first_id(env.message_id),
        in_reply_to=_first_id(env.in_reply_to),
        references=references,
        size=size,
        flags=flags_of(item.get(b"FLAGS")),
        internal_date=_aware(item.get(b"INTERNALDATE")),
        newsgroups=newsgroups,
    )


def folder_info(entry: Sequence[object]) -> FolderInfo:
    """One LIST entry (flags, delimiter, name) as IMAPClient returns it."""
    if len(entry) != 3:
        raise ConvertError("a LIST entry does not have three parts")
    flags, delimiter, name = entry
    if not isinstance(name, str):
        name = text_of(name)
    if not isinstance(flags, tuple | list):
        raise ConvertError("LIST flags are not a list")
    names = {f.lower() for f in flags if isinstance(f, bytes)}
    sep = text_of(delimiter) if delimiter is not None else ""
    display = name.rsplit(sep, 1)[-1] if sep else name
    return FolderInfo(
        name=name,
        display=display,
        selectable=not ({rb"\noselect", rb"\nonexistent"} & names),
        has_children=rb"\haschildren" in names,
    )
