"""Pure conversion of a parsed BODYSTRUCTURE to our Part tree, with IMAP section numbers.

Section numbers follow RFC 3501 6.4.5: the parts of a multipart are 1, 2, ...; those of
a nested multipart 2.1, 2.2, ...; the body of a message/rfc822 part 2 is 2.1 when it is a
single part, and its parts are 2.1, 2.2 when it is a multipart (which is itself 2.TEXT).
A single-part message's body is "1" (BODY[1]), and a multipart message's top is "".

Parameters are decoded here: RFC 2231 continuations and charsets (Dovecot passes them on
as written: ``("name*" "utf-8''%C3%9Cbersicht.pdf")``), and RFC 2047 words in a plain
``name=`` (not standard, but common).
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from collections.abc import Sequence

from pinesh.stores.base import Part
from pinesh.stores.imap.errors import ImapSyntaxError
from pinesh.stores.imap.protocol.responses import decoded, text_of

MAX_DEPTH = 64  # nesting of multiparts and messages; deeper is hostile
MAX_SEGMENTS = 1000  # continuation segments of one RFC 2231 parameter

_SEGMENT = re.compile(r"^(?P<name>[^*]+)\*(?P<index>\d{1,4})(?P<star>\*?)$")


def _charset(name: str) -> str:
    try:
        "".encode(name)
        b"x".decode(name, "replace")
        return name
    except (LookupError, ValueError):  # ValueError: a name with a NUL (UnicodeError is one)
        return "utf-8"


def _extended(value: str, *, first: bool) -> tuple[str | None, bytes]:
    """An RFC 2231 extended value: (charset of a first segment, percent-decoded bytes)."""
    charset = None
    if first:
        parts = value.split("'", 2)
        if len(parts) == 3:
            charset, _, value = parts
    return charset, urllib.parse.unquote_to_bytes(value)


def decode_params(raw: object) -> dict[str, str]:
    """A parameter list (k1 v1 k2 v2 ...) as {lowercase name: decoded value}."""
    if raw is None:
        return {}
    if not isinstance(raw, tuple | list) or len(raw) % 2:
        raise ImapSyntaxError("a parameter list is not a list of pairs")
    plain: dict[str, str] = {}
    segments: dict[str, dict[int, tuple[bool, str]]] = {}
    for key, value in zip(raw[::2], raw[1::2], strict=True):
        name = text_of(key).strip().lower()
        text = text_of(value)
        if name.endswith("*") and "*" not in name[:-1]:
            segments.setdefault(name[:-1], {})[0] = (True, text)
            continue
        match = _SEGMENT.match(name)
        if match:
            group = segments.setdefault(match["name"], {})
            if len(group) < MAX_SEGMENTS:
                group[int(match["index"])] = (bool(match["star"]), text)
            continue
        plain[name] = decoded(text)
    out = dict(plain)
    for name, parts in segments.items():
        charset: str | None = None
        data = bytearray()
        for index in sorted(parts):
            extended, text = parts[index]
            if extended:
                found, chunk = _extended(text, first=index == 0)
                charset = charset or found
                data += chunk
            else:
                data += text.encode("utf-8", "replace")
        out[name] = bytes(data).decode(_charset(charset or "utf-8"), "replace")
    return out


def _disposition(raw: object) -> tuple[str | None, dict[str, str]]:
    if raw is None:
        return None, {}
    if isinstance(raw, bytes | int):  # a bare string: not IMAP, but readable
        return text_of(raw).lower(), {}
    if not isinstance(raw, tuple | list) or len(raw) != 2:
        raise ImapSyntaxError("a disposition is not (type params)")
    return text_of(raw[0]).lower(), decode_params(raw[1])


def _at(body: Sequence[object], index: int) -> object:
    return body[index] if index < len(body) else None


def _child_id(parent: str, index: int) -> str:
    return f"{parent}.{index}" if parent else str(index)


def _multipart(body: Sequence[object], part_id: str, depth: int) -> Part:
    if isinstance(body[0], list):  # IMAPClient's BodyData: the parts as one list
        children, rest = list(body[0]), list(body[1:])
    else:
        count = next((i for i, x in enumerate(body) if not isinstance(x, tuple | list)), len(body))
        children, rest = list(body[:count]), list(body[count:])
    if not children or not rest:
        raise ImapSyntaxError("a multipart without parts or subtype")
    parts = tuple(
        _part(child, _child_id(part_id, i), depth + 1) for i, child in enumerate(children, 1)
    )
    disposition, disp_params = _disposition(_at(rest, 2))
    return Part(
        part_id=part_id,
        content_type="multipart/" + text_of(rest[0]).lower(),
        params=decode_params(_at(rest, 1)),
        encoding="7bit",
        disposition=disposition,
        filename=disp_params.get("filename"),
        children=parts,
    )


def _message_body(body: object, part_id: str, depth: int) -> Part:
    """The body of a message/rfc822 part part_id (2.1 if single, else its parts are 2.n)."""
    if not isinstance(body, tuple | list) or not body:
        raise ImapSyntaxError("a message/rfc822 part without a body structure")
    if isinstance(body[0], tuple | list):
        inner = _multipart(body, part_id, depth + 1)
        return dataclasses.replace(inner, part_id=f"{part_id}.TEXT")
    return _part(body, f"{part_id}.1", depth + 1)


def _part(body: object, part_id: str, depth: int) -> Part:
    if depth > MAX_DEPTH:
        raise ImapSyntaxError(f"a MIME structure nested deeper than {MAX_DEPTH}")
    if not isinstance(body, tuple | list) or not body:
        raise ImapSyntaxError("a body structure is not a list")
    if isinstance(body[0], tuple | list):
        return _multipart(body, part_id, depth)
    if len(body) < 7:
        raise ImapSyntaxError("a body structure with fewer than seven fields")
    maintype, subtype = text_of(body[0]).lower(), text_of(body[1]).lower()
    content_type = f"{maintype}/{subtype}"
    size = body[6]
    children: tuple[Part, ...] = ()
    if content_type in ("message/rfc822", "message/global") and len(body) >= 10:
        children = (_message_body(body[8], part_id, depth),)
        extension = 10
    elif maintype == "text":
        extension = 8
    else:
        extension = 7
    params = decode_params(body[2])
    disposition, disp_params = _disposition(_at(body, extension + 1))
    description = body[4]
    return Part(
        part_id=part_id,
        content_type=content_type,
        params=params,
        encoding=text_of(body[5]).lower() or "7bit",
        size=size if isinstance(size, int) and size >= 0 else 0,
        filename=disp_params.get("filename") or params.get("name"),
        disposition=disposition,
        description=decoded(description) if description is not None else None,
        children=children,
    )


def part_tree(body: object) -> Part:
    """The Part tree of a message from its BODYSTRUCTURE."""
    if isinstance(body, tuple | list) and body and not isinstance(body[0], tuple | list):
        return _part(body, "1", 0)
    return _part(body, "", 0)


def find_part(root: Part, part_id: str) -> Part | None:
    """The part numbered part_id in the tree, if any."""
    for part in root.walk():
        if part.part_id == part_id:
            return part
    return None
