"""What a reply, a forward or a resumed draft takes from a message: its headers, its
plain text and its attachments, decoded.

The message is hostile input: its parts are read with the stdlib ``email`` package, a
part that breaks is left out, and only a PineshError (headers that cannot be read at all)
ever comes out. The text is not yet made inert: whoever shows or quotes it does that.
"""

from __future__ import annotations

import base64
import email
import quopri
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage

from pinesh.errors import PineshError
from pinesh.senders.compose import OutgoingAttachment
from pinesh.services.reading import MAX_TEXT, decode_text, html_to_text
from pinesh.stores import charsets
from pinesh.stores.base import Address, Envelope
from pinesh.stores.headers import (
    decode_words,
    envelope_from_headers,
    header_addresses,
    header_end,
    parse_header_block,
)
from pinesh.stores.mime_structure import mime_structure, part_bytes
from pinesh.textsafe import safe_line

MAX_ATTACHED_MESSAGES = 32  # attached messages cut from the bytes; others as parsed
UNSAFE_NAME = re.compile(r"[^\w.+-]+")  # what a file name made from a message may not hold


@dataclass(frozen=True)
class OriginalMessage:
    """What a reply or forward takes from the original: decoded, not yet made inert."""

    envelope: Envelope
    reply_to: tuple[Address, ...]
    followup_to: str
    text: str
    attachments: tuple[OutgoingAttachment, ...]

    @classmethod
    def read(cls, raw: bytes) -> OriginalMessage:
        """raw's parts; a PineshError when its headers cannot be read at all."""
        try:
            head = raw[: header_end(raw)]
            envelope = envelope_from_headers(0, head, len(raw), frozenset())
            block = parse_header_block(head)
            reply_to = usable_addresses(header_addresses(block, "Reply-To"))
            followup_to = decode_words(block.get("Followup-To"))
        except Exception as exc:  # the stdlib raises many kinds on hostile headers
            raise PineshError(f"cannot read the message's headers: {exc}") from None
        try:
            # email decodes encoded words and RFC 2231 values with any codec they name
            message = email.message_from_bytes(
                charsets.with_accepted_charsets(raw), policy=policy.default
            )
        except Exception:
            return cls(envelope, reply_to, followup_to, "", ())
        assert isinstance(message, EmailMessage)
        text, attachments = message_text(message), message_attachments(message, raw)
        return cls(envelope, reply_to, followup_to, text, attachments)


def message_text(message: EmailMessage) -> str:
    """The message's plain text (or its HTML made text); "" when it has none or it breaks."""
    try:
        part = message.get_body(preferencelist=("plain", "html"))
        if part is None:
            return ""
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            return ""
        text = decode_text(data[:MAX_TEXT], part.get_content_charset())
        if part.get_content_type() == "text/html":
            text = html_to_text(text)
    except Exception:  # a broken part must not stop the reply: quote nothing
        return ""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def message_attachments(
    message: EmailMessage, raw: bytes | None = None
) -> tuple[OutgoingAttachment, ...]:
    """A message's attachments (for an inline forward, or a resumed draft); parts that
    break are left out. raw, the message's bytes, gives an attached message as it is."""
    found: list[OutgoingAttachment] = []
    try:
        parts = list(message.iter_attachments())
    except Exception:
        return ()
    originals = _attached_originals(message, parts, raw) if raw is not None else {}
    for number, part in enumerate(parts, start=1):
        attachment = _attachment(part, number, originals.get(id(part)))
        if attachment is not None:
            found.append(attachment)
    return tuple(found)


def _attached_originals(
    message: EmailMessage, parts: list[EmailMessage], raw: bytes
) -> dict[int, bytes]:
    """The bytes of the attached messages among the top-level parts, cut from raw (by
    id() of the part): parsing one and writing it back would change a broken one, or
    fail on it."""
    try:
        top = message.get_payload() if message.is_multipart() else []
        listed = {id(part) for part in parts}
        wanted = [
            (id(part), str(number))  # a top-level part's number is its IMAP part id
            for number, part in enumerate(top, start=1)
            if id(part) in listed and part.get_content_type() == "message/rfc822"
        ][:MAX_ATTACHED_MESSAGES]
        if not wanted:
            return {}
        structure = {p.part_id: p for p in mime_structure(raw).children}
        out: dict[int, bytes] = {}
        for key, part_id in wanted:
            found = structure.get(part_id)
            if found is not None and found.content_type == "message/rfc822":
                data = part_bytes(raw, part_id)
                if data is not None:
                    out[key] = data
        return out
    except Exception:  # the parsed parts are used instead
        return {}


def _attachment(
    part: EmailMessage, number: int, original: bytes | None = None
) -> OutgoingAttachment | None:
    try:
        content_type = part.get_content_type()
        if part.get_content_maintype() == "multipart":
            return None
        if original is not None:
            data: bytes | None = original
        elif content_type == "message/rfc822":
            data = _attached_message(part)
        else:
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else None
        filename = part.get_filename()
    except Exception:  # a broken part is left out of the forward
        return None
    if data is None:
        return None
    name = UNSAFE_NAME.sub("_", safe_line(filename or "")).strip("._")[:120]
    return OutgoingAttachment(name or f"attachment-{number}", data, content_type)


def _attached_message(part: EmailMessage) -> bytes | None:
    """The bytes of a message/rfc822 part. The parser reads its content as a message even
    when (against RFC 2046 5.2.1) it is base64 or quoted-printable: then undo that."""
    inner = part.get_payload(0)
    if not isinstance(inner, email.message.Message):
        return None
    data = inner.as_bytes()
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if encoding == "base64":
        return base64.b64decode(data.strip())
    if encoding == "quoted-printable":
        return quopri.decodestring(data.lstrip(b"\r\n"))
    return data


def usable_addresses(addresses: tuple[Address, ...]) -> tuple[Address, ...]:
    """Addresses one can write to: an @, no spaces or controls; names made inert."""
    out = []
    for address in addresses:
        email_text = address.email.strip()
        local, at, domain = email_text.rpartition("@")
        if not at or not local or not domain or safe_line(email_text) != email_text:
            continue
        if any(ch.isspace() for ch in email_text):
            continue
        out.append(Address(safe_line(address.name).strip(), email_text))
    return tuple(out)
