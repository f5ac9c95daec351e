"""Reading a message: its text for people (charsets, HTML to text) and its attachments."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pinesh.stores import charsets
from pinesh.stores.base import Address, Envelope, Flag, Folder, Part
from pinesh.stores.headers import envelope_from_headers, header_end
from pinesh.stores.mime_structure import mime_structure, part_content

MAX_TEXT = 4 * 1024 * 1024  # bytes of text shown, all parts together; the rest is cut
INLINE_TYPES = ("text/plain", "text/html")  # other text/* parts are listed, to view or save


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
    text_part: str | None  # the first part the text came from (others follow, with banners)
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


def _inline_text(part: Part) -> bool:
    """Whether a leaf part is text shown in the message view (plain or HTML, not an
    attachment)."""
    return part.content_type in INLINE_TYPES and not part.children and not _is_attachment(part)


def _alternative_shown(part: Part, prefer_plain: bool) -> list[Part]:
    """What a multipart/alternative shows, as Alpine chooses: its HTML, else its plain
    text (prefer_plain, the feature prefer-plain-text: the other way round), else what
    the first nested multipart with text to show shows (multipart/related around HTML,
    which counts as HTML)."""
    children = part.children
    order = ("text/plain", "text/html") if prefer_plain else ("text/html", "text/plain")
    # The first nested multipart with text to show, and what it shows (found once).
    nested = next(
        (
            found
            for c in children
            if c.children and (found := shown_parts(c, prefer_plain=prefer_plain))
        ),
        [],
    )
    for wanted in order:
        for child in children:
            if child.content_type == wanted and _inline_text(child):
                return [child]
        if wanted == "text/html" and nested:
            return nested
    return nested


def shown_parts(structure: Part, *, prefer_plain: bool = True) -> list[Part]:
    """The leaf text parts the message view shows, in order: every inline text part of a
    multipart (mixed, digest, related, signed, ...), one of each multipart/alternative,
    nothing inside an attached message (message/rfc822 is listed, and opened by itself)."""
    if structure.content_type == "message/rfc822" and structure.part_id:
        return []
    if not structure.children:
        return [structure] if _inline_text(structure) else []
    if structure.content_type == "multipart/alternative":
        return _alternative_shown(structure, prefer_plain)
    found: list[Part] = []
    for child in structure.children:
        found += shown_parts(child, prefer_plain=prefer_plain)
    return found


def listed_parts(structure: Part, shown: list[Part]) -> list[Part]:
    """The parts the attachment index lists: every leaf not shown, and every attached
    message (as one entry: its own parts are read when it is opened), in order."""
    shown_ids = {p.part_id for p in shown}
    found: list[Part] = []

    def visit(part: Part) -> None:
        if part.content_type == "message/rfc822" and part.part_id:
            found.append(part)
            return
        if part.children:
            for child in part.children:
                visit(child)
        elif part.part_id not in shown_ids:
            found.append(part)

    visit(structure)
    return found


def part_banner(part: Part) -> str:
    """The line that opens a text part after the first, as Pine separates them:
    `[ Part 2: "description" ]`, or `[ Part 2, Text/PLAIN ]`."""
    label = part.description or part.filename
    if label:
        return f'[ Part {part.part_id}: "{label}" ]'
    major, _, minor = part.content_type.partition("/")
    return f"[ Part {part.part_id}, {major.capitalize()}/{minor.upper()} ]"


def read_message(folder: Folder, uid: int, *, prefer_plain: bool = True) -> Readable:
    """The text to show for a message and the list of its attachments (prefer_plain: of
    an alternative, the plain text rather than the HTML)."""
    return _readable(
        folder.structure(uid),
        lambda part_id: folder.fetch_part(uid, part_id),
        prefer_plain=prefer_plain,
    )


def _readable(
    structure: Part,
    fetch: Callable[[str], Iterable[bytes]],
    *,
    from_source: bool = True,
    prefer_plain: bool = True,
) -> Readable:
    """The shown text parts of structure (read through fetch, up to MAX_TEXT in all),
    joined as Pine joins them, and the parts listed as attachments: no part is left out.

    A multipart whose structure yields no text and nothing to list (a boundary missing or
    never used: the server's BODYSTRUCTURE then has an empty part, and the words are in
    what it calls the preamble) is read again from its source by pinesh's own parser,
    which reads such a body as text; with from_source False, not (that is the re-read).
    """
    shown = shown_parts(structure, prefer_plain=prefer_plain)
    attachments = tuple(
        ReceivedAttachment(p.part_id, p.content_type, p.filename, p.size)
        for p in listed_parts(structure, shown)
    )
    readable = _shown_text(shown, attachments, fetch)
    if from_source and structure.children and not attachments and not readable.text.strip():
        source, _ = read_up_to(fetch(""), MAX_TEXT)
        again = _readable(
            mime_structure(source),
            lambda part_id: part_content(source, part_id) or (),
            from_source=False,
            prefer_plain=prefer_plain,
        )
        if again.text.strip():
            note = "the message's MIME structure is broken: read from its source"
            return Readable(again.text, again.text_part, again.attachments, note)
    return readable


def read_up_to(chunks: Iterable[bytes], limit: int) -> tuple[bytes, bool]:
    """The first limit bytes of chunks (read no further than needed), and whether there
    was more."""
    data = bytearray()
    for chunk in chunks:
        data += chunk
        if len(data) > limit:
            return bytes(data[:limit]), True
    return bytes(data), False


def _shown_text(
    shown: list[Part],
    attachments: tuple[ReceivedAttachment, ...],
    fetch: Callable[[str], Iterable[bytes]],
) -> Readable:
    """The text of the shown parts, each after the first under its banner."""
    if not shown:
        return Readable("", None, attachments, "no text part")
    texts: list[str] = []
    notes: list[str | None] = []
    budget = MAX_TEXT
    for number, part in enumerate(shown):
        if budget <= 0:
            notes.append(f"parts after part {shown[number - 1].part_id} not shown: cut at "
                         f"{MAX_TEXT // (1024 * 1024)} MB; save them to see them")  # fmt: skip
            break
        body, cut = read_up_to(fetch(part.part_id), budget)
        if cut:
            notes.append(f"cut at {MAX_TEXT // (1024 * 1024)} MB; save the part to see it all")
        budget -= len(body)
        text = decode_text(body, part.charset)
        notes.append(charsets.charset_note(part.charset))
        if part.content_type == "text/html":
            text = html_to_text(text)
            notes.append("HTML shown as text")
        if number:
            text = f"\n{part_banner(part)}\n\n{text}"
        texts.append(text if text.endswith("\n") or number == len(shown) - 1 else text + "\n")
    note = "; ".join(dict.fromkeys(n for n in notes if n)) or None
    return Readable("".join(texts), shown[0].part_id, attachments, note)


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
    return AttachedMessage(tuple((n, v) for n, v in pairs if v), read_source(data))


def read_source(data: bytes, *, prefer_plain: bool = True) -> Readable:
    """A whole message's bytes made readable, its parts named as in its own structure
    (an attached message; a decrypted one)."""
    return _readable(
        mime_structure(data),
        lambda part_id: part_content(data, part_id) or (),
        prefer_plain=prefer_plain,
    )


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
