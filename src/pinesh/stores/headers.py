"""Pure functions from raw header bytes to decoded values (envelopes for local drivers).

Built on the stdlib ``email`` package, and forgiving: a broken header decodes as far as it
can (a charset not accepted reads as UTF-8, bad bytes become U+FFFD), never raises.
"""

from __future__ import annotations

import email.header
import email.parser
import email.utils
import re
from collections.abc import Iterable
from datetime import datetime
from email._policybase import compat32  # email.policy would load the modern policy's modules
from email.message import Message

from pinesh.stores import charsets
from pinesh.stores.base import Address, Envelope, Flag

_HEADER_PARSER = email.parser.BytesHeaderParser(policy=compat32)
_MSGID = re.compile(r"<[^<>\s]+>")
_ESCAPED = re.compile(r"\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})")


def parse_header_block(data: bytes) -> Message:
    """The headers of a message (bytes up to the blank line, or the whole message)."""
    return _HEADER_PARSER.parsebytes(data)


def _unencoded(data: bytes) -> str:
    """Text decode_header gave back between encoded words, as it was.

    decode_header returns it as ``str.encode("raw-unicode-escape")``: a character above
    U+00FF became the six ASCII characters ``\\uXXXX``, one below is its Latin-1 byte.
    Decoding with raw-unicode-escape would also turn a ``\\u001b`` written in the header
    into an ESC; only escapes of characters above U+00FF are undone here (those are never
    controls), the rest stays as written.
    """
    return _ESCAPED.sub(_unescaped, data.decode("latin-1"))


def _unescaped(match: re.Match[str]) -> str:
    code = int(match[1] or match[2], 16)
    return chr(code) if 0xFF < code <= 0x10FFFF else match[0]


def decode_words(value: object) -> str:
    """An RFC 2047 header value to text; never raises (bad parts become U+FFFD)."""
    if value is None:
        return ""
    raw = str(value)
    try:
        chunks = email.header.decode_header(
            value if isinstance(value, email.header.Header) else raw
        )
    except Exception:  # a hostile header must not stop the index: show it raw
        return raw
    out = []
    for data, charset in chunks:
        if not isinstance(data, bytes):
            out.append(data)
        elif charset is None:
            out.append(_unencoded(data))
        else:
            out.append(charsets.decode(data, charset))
    text = "".join(out)
    return " ".join(text.split()) if "\n" in text or "\r" in text else text


def _raw(message: Message, name: str) -> str | None:
    """A header's value as written, 8-bit bytes read as UTF-8 (RFC 6532) or else Latin-1.

    Not message.get(): compat32 turns a header with 8-bit bytes into a Header object
    whose text has lost them (U+FFFD).
    """
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            return header_text(value)
    return None


def header_text(value: object) -> str:
    """A value compat32 parsed: 8-bit bytes (kept as surrogates) read as UTF-8 (RFC 6532),
    else as Latin-1."""
    text = str(value)
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def chosen_headers(data: bytes, names: Iterable[str]) -> list[tuple[str, str]]:
    """The headers named (Pine's viewer-hdrs), in the order named, every occurrence of
    each, decoded (RFC 2047, 8-bit as UTF-8 else Latin-1) and unfolded, not sanitized."""
    message = parse_header_block(data)
    found = []
    for name in names:
        wanted = name.strip().lower()
        for key, value in message.raw_items():
            if key.lower() == wanted:
                found.append((key, decode_words(header_text(value))))
    return found


def header_addresses(message: Message, name: str) -> tuple[Address, ...]:
    """The mailboxes of an address header, names decoded."""
    raw = _raw(message, name)
    return address_list(raw) if raw else ()


def address_list(raw: str) -> tuple[Address, ...]:
    """The mailboxes of an address header's value, names decoded; never raises.

    Each mailbox written `name <address>` keeps its address whatever the name holds: the
    stdlib's parsers lose the address of `Evil ESC[31m <evil@example.org>` or of
    `Jane [ACME] <jane@acme.org>` (an unquoted "[" reads as a domain literal), giving
    `Evil` or a name for an address. So the header is cut at its top-level commas
    (split_addresses), a piece ending in <...> is read here, and only the others go to
    email.utils.getaddresses.
    """
    found: list[Address] = []
    for piece in split_addresses(raw):
        angle = _ANGLE_ADDRESS.fullmatch(piece)
        if angle is not None:
            phrase = angle["name"].strip()
            if ":" in phrase and not phrase.startswith('"'):
                phrase = phrase.split(":", 1)[1].strip()  # a group's label: "Team: Jane <j@x>"
            if len(phrase) > 1 and phrase[0] == phrase[-1] == '"':
                phrase = re.sub(r"\\(.)", r"\1", phrase[1:-1])
            found.append(Address(decode_words(phrase), angle["email"].strip()))
            continue
        try:
            pairs = email.utils.getaddresses([piece])
        except Exception:  # as above: keep the raw text
            pairs = [(piece, "")]
        found += [Address(decode_words(n), e) for n, e in pairs if n or e]
    return tuple(found) or (Address(decode_words(raw), ""),)


_ANGLE_ADDRESS = re.compile(
    r"(?P<name>[^<]*)<(?P<email>[^<>]*)>\s*;?\s*(?:\([^()]*\)\s*)?", re.DOTALL
)


def split_addresses(text: str) -> list[str]:
    """The items of an address field, split at commas outside quotes, <> and ()."""
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    angle = paren = 0
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\" and (quoted or paren):
            escaped = True
        elif ch == '"' and not paren:
            quoted = not quoted
        elif not quoted:
            if ch == "(":
                paren += 1
            elif ch == ")" and paren:
                paren -= 1
            elif ch == "<" and not paren:
                angle += 1
            elif ch == ">" and angle and not paren:
                angle -= 1
            elif ch == "," and not angle and not paren:
                items.append("".join(current).strip())
                current = []
                continue
        current.append(ch)
    items.append("".join(current).strip())
    return [item for item in items if item]


def parse_date(value: str | None) -> datetime | None:
    """An RFC 5322 date as an aware datetime; None when missing or unreadable."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.now().astimezone().tzinfo)
    return parsed


def message_ids(value: str | None) -> tuple[str, ...]:
    """The <message-id>s in a header value, in order."""
    return tuple(_MSGID.findall(value or ""))


def envelope_from_headers(
    uid: int, data: bytes, size: int, flags: frozenset[Flag], internal_date: datetime | None = None
) -> Envelope:
    """An Envelope from a message's header bytes."""
    message = parse_header_block(data)
    ids = message_ids(_raw(message, "Message-ID"))
    reply = message_ids(_raw(message, "In-Reply-To"))
    groups = tuple(g.strip() for g in (_raw(message, "Newsgroups") or "").split(",") if g.strip())
    return Envelope(
        uid=uid,
        date=parse_date(_raw(message, "Date")),
        sender=header_addresses(message, "From"),
        to=header_addresses(message, "To"),
        cc=header_addresses(message, "Cc"),
        subject=decode_words(_raw(message, "Subject")),
        message_id=ids[0] if ids else None,
        in_reply_to=reply[0] if reply else None,
        references=message_ids(_raw(message, "References")),
        size=size,
        flags=flags,
        internal_date=internal_date,
        newsgroups=groups,
    )


_FIELD_START = re.compile(rb"\r?\n(?![ \t])")  # a line end not followed by a fold


def with_content_of(message: bytes, entity: bytes) -> bytes:
    """message's header lines, but its Content-* and MIME-Version, over entity (a MIME
    entity: its Content-* lines, a blank line, its body): a decrypted message read with
    the envelope it came in."""
    head = message[: header_end(message)].rstrip(b"\r\n")
    kept = [f for f in _fields(head) if not f.lower().startswith((b"content-", b"mime-version:"))]
    # The entity's own lines other than Content-* (a protected From or Subject) are left
    # out: what the reader was shown and what a reply takes are the envelope's.
    end = header_end(entity)
    content = [
        f for f in _fields(entity[:end].rstrip(b"\r\n")) if f.lower().startswith(b"content-")
    ]
    lines = [*kept, b"MIME-Version: 1.0", *content]
    return b"".join(f + b"\n" for f in lines) + b"\n" + entity[end:]


def _fields(head: bytes) -> list[bytes]:
    """The header fields of a header block, each with its folded lines."""
    return _FIELD_START.split(head) if head else []


def header_end(data: bytes) -> int:
    """Offset just past the blank line that ends the headers (len(data) if none)."""
    # The first blank line, whichever line ending it has: an LF message may hold a CRLF
    # blank line further down, in its body.
    if data[:1] == b"\n" or data[:2] == b"\r\n":
        return 1 if data[:1] == b"\n" else 2
    found = len(data)
    for sep in (b"\n\n", b"\n\r\n"):
        at = data.find(sep, 0, found)
        if at >= 0:
            found = at + len(sep)
    return found
