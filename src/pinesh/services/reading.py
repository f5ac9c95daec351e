"""Reading a message: its text for people (charsets, HTML to text) and its attachments."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from pinesh.stores import charsets
from pinesh.stores.base import Address, Envelope, Flag, Folder, Part
from pinesh.stores.headers import envelope_from_headers, header_end
from pinesh.stores.mime_structure import mime_structure, part_content

MAX_TEXT = 4 * 1024 * 1024  # bytes of one text part shown; the rest is cut with a note


@dataclass(frozen=True)
class ReceivedAttachment:
    """An attachment of a message being read: its part, MIME type, file name and size."""

    part_id: str
    content_type: str
    filename: str | None
    size: int


@dataclass(frozen=True)
class Readable:
    """A message made readable: its body text (not yet sanitized) and its attachments."""

    text: str
    text_part: str | None  # which part the text came from
    attachments: tuple[ReceivedAttachment, ...]
    note: str | None = None  # e.g. "HTML shown as text", "cut at 4 MB"


def html_to_text(markup: str) -> str:
    """Readable text from HTML (never raises on broken markup), in time linear in its
    size (services/html_text.py, imported here when a message has HTML: the client's
    start, which reads no message, does not load the HTML parser)."""
    from pinesh.services.html_text import html_to_text as convert

    return convert(markup)


def decode_text(data: bytes, charset: str | None) -> str:
    """Bytes of a text part as text, by the charset policy (stores/charsets.py): bad bytes
    become U+FFFD, a charset not accepted reads as UTF-8."""
    return charsets.decode(data, charset)


def _is_attachment(part: Part) -> bool:
    if part.content_type == "message/rfc822":
        return True  # a forwarded message: listed to view or save, though it has parts
    if part.children:
        return False
    if part.disposition == "attachment" or part.filename:
        return True
    return not part.content_type.startswith(("text/", "multipart/", "message/"))


def _outside_attached_messages(part: Part) -> Iterator[Part]:
    """The parts of a message in walk order, not entering an attached message/rfc822."""
    yield part
    if part.content_type == "message/rfc822":
        return
    for child in part.children:
        yield from _outside_attached_messages(child)


def _pick_text(structure: Part) -> Part | None:
    plain = html_part = None
    for part in _outside_attached_messages(structure):
        if part.children or _is_attachment(part):
            continue
        if part.content_type == "text/plain" and plain is None:
            plain = part
        elif part.content_type == "text/html" and html_part is None:
            html_part = part
    return plain or html_part


def read_message(folder: Folder, uid: int) -> Readable:
    """The text to show for a message and the list of its attachments."""
    return _readable(folder.structure(uid), lambda part_id: folder.fetch_part(uid, part_id))


def _readable(structure: Part, fetch: Callable[[str], Iterable[bytes]]) -> Readable:
    """The text part of structure (read through fetch, up to MAX_TEXT) and its attachments."""
    attachments = tuple(
        ReceivedAttachment(p.part_id, p.content_type, p.filename, p.size)
        for p in structure.walk()
        if _is_attachment(p)
    )
    part = _pick_text(structure)
    if part is None:
        return Readable("", None, attachments, "no text part")
    data = bytearray()
    note = None
    for chunk in fetch(part.part_id):
        data += chunk
        if len(data) > MAX_TEXT:
            note = f"cut at {MAX_TEXT // (1024 * 1024)} MB; save the part to see it all"
            break
    text = decode_text(bytes(data[:MAX_TEXT]), part.charset)
    notes = [note, charsets.charset_note(part.charset)]
    if part.content_type == "text/html":
        text = html_to_text(text)
        notes.append("HTML shown as text")
    note = "; ".join(n for n in notes if n) or None
    return Readable(text, part.part_id, attachments, note)


@dataclass(frozen=True)
class AttachedMessage:
    """An attached message (message/rfc822) made readable: its main headers, its text."""

    headers: tuple[tuple[str, str], ...]  # (name, value), decoded, not yet sanitized
    readable: Readable

    @property
    def subject(self) -> str:
        return next((value for name, value in self.headers if name == "Subject"), "")


def read_attached_message(data: bytes) -> AttachedMessage:
    """The message in data (an attached message's bytes) as the message view shows one:
    Date, From, To, Cc, Newsgroups and Subject, then its text part. Never raises on
    broken input (the MIME parser does not)."""
    envelope = envelope_from_headers(0, data[: header_end(data)], len(data), frozenset())
    date = envelope.date.strftime("%a, %d %b %Y %H:%M:%S %z") if envelope.date else ""
    pairs = (
        ("Date", date),
        ("From", _address_list(envelope.sender)),
        ("To", _address_list(envelope.to)),
        ("Cc", _address_list(envelope.cc)),
        ("Newsgroups", ", ".join(envelope.newsgroups)),
        ("Subject", envelope.subject),
    )
    readable = _readable(mime_structure(data), lambda part_id: part_content(data, part_id) or ())
    return AttachedMessage(tuple((n, v) for n, v in pairs if v), readable)


def _address_list(addresses: tuple[Address, ...]) -> str:
    return ", ".join(f"{a.name} <{a.email}>" if a.name else a.email for a in addresses)


def status_column(envelope: Envelope) -> str:
    """Pine's index status: D deleted, A answered, N new (unseen), then * when flagged."""
    flags = envelope.flags
    if Flag.DELETED in flags:
        letter = "D"
    elif Flag.ANSWERED in flags:
        letter = "A"
    else:
        letter = " " if Flag.SEEN in flags else "N"
    return letter + ("*" if Flag.FLAGGED in flags else " ")
