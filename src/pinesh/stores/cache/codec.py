"""Envelope and Part to JSON bytes and back, for the header cache; flags to a bitmask.

A cache file is data, never code: JSON only (no pickle), and decoding checks every type.
A blob that is not what encode_* wrote (bad JSON, wrong types, nesting deeper than
MAX_DEPTH) decodes to None: the caller treats that message as not cached. Decoding never
raises. Flags are not in the envelope blob: they live in the message's row (a bitmask).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pinesh.stores.base import Address, Envelope, Flag, Part

MAX_DEPTH = 64  # deepest Part tree kept; mime_structure stops far earlier

# Fixed bits, never derived from the enum's order: the numbers are on disk.
FLAG_BITS: dict[Flag, int] = {
    Flag.SEEN: 1,
    Flag.ANSWERED: 2,
    Flag.FLAGGED: 4,
    Flag.DELETED: 8,
    Flag.DRAFT: 16,
}
SEEN_BIT = FLAG_BITS[Flag.SEEN]


def flags_to_bits(flags: Iterable[Flag]) -> int:
    """The bitmask of flags."""
    bits = 0
    for flag in flags:
        bits |= FLAG_BITS[flag]
    return bits


_BITS_TO_FLAGS: list[frozenset[Flag]] = [
    frozenset(flag for flag, bit in FLAG_BITS.items() if mask & bit) for mask in range(32)
]


def bits_to_flags(bits: int) -> frozenset[Flag]:
    """The flags of a bitmask; unknown bits are ignored."""
    return _BITS_TO_FLAGS[bits & 31]


def _dumps(value: object) -> bytes:
    # ensure_ascii: decoded text may hold lone surrogates, which UTF-8 cannot encode;
    # escaped, they round-trip exactly.
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _loads(data: bytes) -> Any:
    """The JSON value of data; raises ValueError (or RecursionError) when it is none."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ValueError("not bytes")
    return json.loads(bytes(data).decode("utf-8"))


class _BadBlobError(Exception):
    """The blob is not what the encoder wrote."""


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise _BadBlobError
    return value


def _opt_str(value: object) -> str | None:
    return None if value is None else _str(value)


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _BadBlobError
    return value


def _strs(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _BadBlobError
    return tuple(_str(item) for item in value)


def _date_out(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _date_in(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(_str(value))
    except ValueError as exc:
        raise _BadBlobError from exc
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise _BadBlobError  # an Envelope's dates are aware; a naive one was not written by us
    return parsed


def _addresses_out(addresses: tuple[Address, ...]) -> list[list[str]]:
    return [[a.name, a.email] for a in addresses]


def _addresses_in(value: object) -> tuple[Address, ...]:
    if not isinstance(value, list):
        raise _BadBlobError
    out = []
    for item in value:
        if not isinstance(item, list) or len(item) != 2:
            raise _BadBlobError
        out.append(Address(_str(item[0]), _str(item[1])))
    return tuple(out)


def encode_envelope(envelope: Envelope) -> bytes:
    """envelope as JSON, without its uid (the row's key) and flags (the row's bitmask)."""
    return _dumps(
        {
            "date": _date_out(envelope.date),
            "from": _addresses_out(envelope.sender),
            "to": _addresses_out(envelope.to),
            "cc": _addresses_out(envelope.cc),
            "subject": envelope.subject,
            "message_id": envelope.message_id,
            "in_reply_to": envelope.in_reply_to,
            "references": list(envelope.references),
            "size": envelope.size,
            "internal_date": _date_out(envelope.internal_date),
            "newsgroups": list(envelope.newsgroups),
        }
    )


def decode_envelope(data: bytes, *, uid: int, flags: frozenset[Flag]) -> Envelope | None:
    """The Envelope encode_envelope wrote as data, with this uid and flags; None when data
    is anything else."""
    try:
        value = _loads(data)
        if not isinstance(value, dict):
            raise _BadBlobError
        return Envelope(
            uid=uid,
            date=_date_in(value["date"]),
            sender=_addresses_in(value["from"]),
            to=_addresses_in(value["to"]),
            cc=_addresses_in(value["cc"]),
            subject=_str(value["subject"]),
            message_id=_opt_str(value["message_id"]),
            in_reply_to=_opt_str(value["in_reply_to"]),
            references=_strs(value["references"]),
            size=_int(value["size"]),
            flags=flags,
            internal_date=_date_in(value["internal_date"]),
            newsgroups=_strs(value["newsgroups"]),
        )
    except (_BadBlobError, KeyError, ValueError, RecursionError):
        return None


def _part_out(part: Part, depth: int) -> dict[str, object]:
    if depth > MAX_DEPTH:
        raise ValueError(f"MIME structure deeper than {MAX_DEPTH}")
    return {
        "id": part.part_id,
        "type": part.content_type,
        "params": dict(part.params),
        "encoding": part.encoding,
        "size": part.size,
        "filename": part.filename,
        "disposition": part.disposition,
        "description": part.description,
        "children": [_part_out(child, depth + 1) for child in part.children],
    }


def encode_part(part: Part) -> bytes:
    """The Part tree as JSON. Raises ValueError for a tree deeper than MAX_DEPTH (which
    decode_part would refuse): do not cache it."""
    return _dumps(_part_out(part, 1))


def _part_in(value: object, depth: int) -> Part:
    if depth > MAX_DEPTH or not isinstance(value, dict):
        raise _BadBlobError
    params = value["params"]
    children = value["children"]
    if not isinstance(params, dict) or not isinstance(children, list):
        raise _BadBlobError
    return Part(
        part_id=_str(value["id"]),
        content_type=_str(value["type"]),
        params={_str(k): _str(v) for k, v in params.items()},
        encoding=_str(value["encoding"]),
        size=_int(value["size"]),
        filename=_opt_str(value["filename"]),
        disposition=_opt_str(value["disposition"]),
        description=_opt_str(value["description"]),
        children=tuple(_part_in(child, depth + 1) for child in children),
    )


def decode_part(data: bytes) -> Part | None:
    """The Part tree encode_part wrote as data; None when data is anything else."""
    try:
        return _part_in(_loads(data), 1)
    except (_BadBlobError, KeyError, ValueError, RecursionError):
        return None
