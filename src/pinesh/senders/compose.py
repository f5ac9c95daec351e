"""Build RFC 5322 messages from a draft with the stdlib ``email`` package; pure functions.

The transmitted bytes never hold Bcc; the envelope's recipients do. The Fcc copy keeps
Bcc, as Pine's does, so the sender can see later who was sent a blind copy.
"""

from __future__ import annotations

import io
import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import errors as email_errors
from email import headerregistry, message_from_bytes, policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from pinesh import __version__
from pinesh.senders.addresses import CONTROLS, ascii_domain, header_address
from pinesh.senders.base import ComposeError, Outgoing, SmtpEnvelope
from pinesh.stores import charsets
from pinesh.stores.base import Address
from pinesh.textsafe import safe_line

MAX_LINE = 998  # octets of a line without CRLF (RFC 5322 2.1.1)
MAX_REFERENCES = 20  # ids kept in References: the first and the latest ones

# Set by compose itself from the draft; customized headers may not override them.
RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        "From", "To", "Cc", "Bcc", "Reply-To", "Subject", "Date", "Message-ID",
        "In-Reply-To", "References", "MIME-Version", "Content-Type",
        "Content-Transfer-Encoding", "Content-Disposition", "Content-ID",
    )
)  # fmt: skip
_FIELD_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII without ':' (RFC 5322 2.2)
_MSG_ID = re.compile(r"<[!-;=?-~]+@[!-;=?-~]+>")  # no spaces, controls, '<' or '>' inside
_LINE_END = re.compile(rb"\r\n|\r|\n")
_FROM_LINE = re.compile(r"^From ", re.MULTILINE)


@dataclass(frozen=True)
class OutgoingAttachment:
    """A file to attach: the name the recipient sees, its bytes, its MIME type (or None)."""

    filename: str
    data: bytes
    content_type: str | None = None  # "type/subtype"; None: guessed from the name


@dataclass(frozen=True)
class Draft:
    """What the composer collected. Addresses are decoded text; compose encodes them."""

    sender: Address
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    subject: str = ""
    body: str = ""
    attachments: tuple[OutgoingAttachment, ...] = ()
    in_reply_to: str | None = None  # the parent's Message-ID, "<...>"
    references: tuple[str, ...] = ()
    extra_headers: tuple[tuple[str, str], ...] = ()  # Pine's customized-hdrs, in order

    def recipient_emails(self) -> list[str]:
        """The address of every recipient: To, Cc and Bcc."""
        return [address.email for address in (*self.to, *self.cc, *self.bcc)]


@dataclass(frozen=True)
class Composed:
    """A built message: what goes on the wire, what is kept (Fcc), and its envelope."""

    message_id: str
    envelope: SmtpEnvelope
    wire: bytes  # CRLF line ends; no Bcc
    fcc: bytes  # the same message with Bcc, for the Fcc folder

    @property
    def outgoing(self) -> Outgoing:
        return Outgoing(self.envelope, self.wire)


def compose(
    draft: Draft,
    *,
    domain: str,
    now: datetime | None = None,
    message_id: str | None = None,
    eight_bit: bool = True,
    signed: bool = False,
) -> Composed:
    """Build draft into a message; domain (Pine's user-domain) names the Message-ID.

    eight_bit: whether a non-ASCII body may go as 8bit (else quoted-printable).
    signed: the text is to be signed, and must reach the reader byte for byte: 7-bit,
    and quoted-printable wherever a relay might change a line.
    """
    domain = ascii_domain(domain, "user-domain")
    header_addresses = {
        "From": (header_address(draft.sender, "From"),),
        "To": tuple(header_address(a, "To") for a in draft.to),
        "Cc": tuple(header_address(a, "Cc") for a in draft.cc),
        "Reply-To": tuple(header_address(a, "Reply-To") for a in draft.reply_to),
    }
    bcc = tuple(header_address(a, "Bcc") for a in draft.bcc)
    everyone = [a for group in header_addresses.values() for a in group] + list(bcc)
    # A non-ASCII local part cannot be encoded in headers: such a message needs SMTPUTF8.
    chosen = policy.SMTPUTF8 if any(not a.username.isascii() for a in everyone) else policy.SMTP
    # An attached message's header lines are written back as they came (not refolded).
    chosen = chosen.clone(refold_source="none")
    msg = EmailMessage(policy=chosen)
    for name, group in header_addresses.items():
        if group:
            msg[name] = group
    subject = _header_text(" ".join(draft.subject.splitlines()), "Subject")
    if subject:
        msg["Subject"] = subject
    msg["Date"] = format_datetime(now or datetime.now().astimezone())
    msg_id = message_id or make_msgid(domain=domain)
    _check_msg_id(msg_id, "Message-ID")
    msg["Message-ID"] = msg_id
    if draft.in_reply_to:
        msg["In-Reply-To"] = _check_msg_id(draft.in_reply_to, "In-Reply-To")
    if draft.references:
        msg["References"] = " ".join(_check_msg_id(r, "References") for r in draft.references)
    for name, value in draft.extra_headers:
        _add_extra(msg, name, value)
    msg["User-Agent"] = f"pinesh {__version__}"
    _set_body(msg, draft, eight_bit=eight_bit and not signed, signed=signed)
    wire = _as_bytes(msg)
    if bcc:
        msg["Bcc"] = bcc
    rcpt = _unique([*header_addresses["To"], *header_addresses["Cc"], *bcc])
    envelope = SmtpEnvelope(header_addresses["From"][0].addr_spec, rcpt)
    return Composed(msg_id, envelope, wire, _as_bytes(msg))


class _Generator(BytesGenerator):
    """BytesGenerator that writes a message/rfc822 part's str payload (see
    _attach_message) back to the bytes it came from, 8-bit ones included."""

    def _encode(self, s: str) -> bytes:
        return s.encode("ascii", "surrogateescape")


def _as_bytes(msg: EmailMessage) -> bytes:
    out = io.BytesIO()
    _Generator(out, mangle_from_=False, policy=msg.policy).flatten(msg)
    return out.getvalue()


def _unique(addresses: Sequence[headerregistry.Address]) -> tuple[str, ...]:
    """Addresses in order, each once (the domain compared without case, as DNS does)."""
    seen: set[str] = set()
    out: list[str] = []
    for address in addresses:
        key = f"{address.username}@{address.domain.lower()}"
        if key not in seen:
            seen.add(key)
            out.append(address.addr_spec)
    return tuple(out)


# --- headers --------------------------------------------------------------------------


def _header_text(value: str, field: str) -> str:
    if CONTROLS.search(value):
        raise ComposeError(f"{field}: the text holds control characters")
    return value


def _check_msg_id(value: str, field: str) -> str:
    if not _MSG_ID.fullmatch(value):
        raise ComposeError(f"{field}: {safe_line(value)!r} is not a message id like <x@y>")
    return value


def _add_extra(msg: EmailMessage, name: str, value: str) -> None:
    if not _FIELD_NAME.fullmatch(name):
        raise ComposeError(f"customized header {safe_line(name)!r}: not a header name")
    if name.lower() in RESERVED_HEADERS or name.lower().startswith("x-pinesh-"):
        raise ComposeError(
            f"customized header {name}: set by the composer itself",
            hint="remove it from customized-hdrs (From, To, Subject... have their own fields)",
        )
    if not value.strip():
        # Nothing to send (as parse_custom_header); and the email package's folding
        # raises IndexError for an empty value after a name longer than a line.
        return
    try:
        msg[name] = _header_text(value, name)
    except (ValueError, IndexError, email_errors.HeaderParseError):
        raise ComposeError(f"customized header {name}: cannot use {safe_line(value)!r}") from None


def parse_custom_header(item: str) -> tuple[str, str] | None:
    """One entry of Pine's customized-hdrs, "Name: value"; None when the value is empty."""
    name, colon, value = item.partition(":")
    name, value = name.strip(), value.strip()
    if not colon or not _FIELD_NAME.fullmatch(name):
        raise ComposeError(
            f"customized-hdrs: {safe_line(item)!r} is not 'Name: value'",
            hint="write each customized header as Name: value, e.g. X-Face: ...",
        )
    return (name, value) if value else None


def reply_threading(
    parent_id: str | None, parent_references: Sequence[str] = ()
) -> tuple[str | None, tuple[str, ...]]:
    """In-Reply-To and References for a reply (RFC 5322 3.6.4).

    The parent's ids came from a server: malformed ones are dropped rather than copied
    into our headers. References keeps the first id and the latest ones.
    """
    good = [r for r in parent_references if _MSG_ID.fullmatch(r)]
    parent = parent_id if parent_id and _MSG_ID.fullmatch(parent_id) else None
    if parent:
        good.append(parent)
    refs = list(dict.fromkeys(good))  # each once, in order
    if len(refs) > MAX_REFERENCES:
        refs = refs[:1] + refs[-(MAX_REFERENCES - 1) :]
    return parent, tuple(refs)


# --- body and attachments -------------------------------------------------------------


def body_encoding(text: str, *, eight_bit: bool = True, signed: bool = False) -> str:
    """The Content-Transfer-Encoding for a text body: 7bit, 8bit or quoted-printable.

    Plain when every line fits (998 octets) and holds no NUL or bare CR; 8bit only for
    non-ASCII text when allowed; quoted-printable otherwise. signed: also
    quoted-printable when a relay or an mbox would change a line (trailing white
    space, a line starting "From "), which would break the signature (RFC 3156 3).
    """
    raw = text.encode("utf-8")
    plain = "\0" not in text and "\r" not in text.replace("\r\n", "\n")
    fits = all(len(line) <= MAX_LINE for line in raw.split(b"\n"))
    if signed and any(
        line != line.rstrip(" \t") or line.startswith("From ") for line in text.split("\n")
    ):
        return "quoted-printable"
    if plain and fits:
        if raw.isascii():
            return "7bit"
        if eight_bit:
            return "8bit"
    return "quoted-printable"


def _set_body(msg: EmailMessage, draft: Draft, *, eight_bit: bool, signed: bool) -> None:
    body = draft.body.replace("\r\n", "\n")
    charset = "us-ascii" if body.isascii() else "utf-8"
    cte = body_encoding(body, eight_bit=eight_bit, signed=signed)
    msg.set_content(body, subtype="plain", charset=charset, cte=cte)
    if signed and cte == "quoted-printable":
        # The stdlib's encoder leaves "From " at a line's start, which an mbox escapes.
        encoded = msg.get_payload()
        if isinstance(encoded, str):
            msg.set_payload(_FROM_LINE.sub("=46rom ", encoded))
    for attachment in draft.attachments:
        maintype, subtype = _content_type(attachment)
        name = _header_text(attachment.filename, "attachment name")
        if not name or "/" in name:
            raise ComposeError(f"attachment name {safe_line(name)!r}: give a file name only")
        if (maintype, subtype) == ("message", "rfc822") and _fits(attachment.data):
            _attach_message(msg, attachment.data, name)
            continue
        msg.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=name)
    for part in msg.iter_parts():
        # add_attachment makes each part a whole EmailMessage, which adds MIME-Version to
        # it; that header belongs to the top level only (RFC 2045 4).
        del part["MIME-Version"]


def _fits(data: bytes) -> bool:
    """Whether a message can go as it is: no NUL, no line over 998 octets."""
    return b"\0" not in data and all(len(line) <= MAX_LINE for line in data.splitlines())


def _attach_message(msg: EmailMessage, data: bytes, name: str) -> None:
    """Attach a whole message as it is. RFC 2046 5.2.1 allows no base64 or
    quoted-printable for message/rfc822 (add_attachment would use base64), so it goes as
    7bit, or 8bit when it has 8-bit bytes. Its bytes are the part's payload, only the line
    ends made CRLF: parsing and writing it back would alter a broken message (a form feed
    in a header becomes a line break) or fail on it (UnicodeEncodeError)."""
    text = _LINE_END.sub(b"\r\n", data).decode("ascii", "surrogateescape")
    part = EmailMessage(policy=msg.policy)
    part["Content-Type"] = "message/rfc822"
    part["Content-Disposition"] = "attachment"
    part.set_param("filename", name, header="Content-Disposition")
    part["Content-Transfer-Encoding"] = "7bit" if data.isascii() else "8bit"
    part.set_payload(text)  # a str payload of message/rfc822 is written out as it is
    if msg.get_content_type() != "multipart/mixed":  # make_mixed refuses a mixed message
        msg.make_mixed()
    msg.attach(part)


def _content_type(attachment: OutgoingAttachment) -> tuple[str, str]:
    guessed = mimetypes.guess_type(attachment.filename, strict=False)[0]
    content_type = (attachment.content_type or guessed or "application/octet-stream").lower()
    maintype, slash, subtype = content_type.partition("/")
    if not slash or not _FIELD_NAME.fullmatch(maintype) or not _FIELD_NAME.fullmatch(subtype):
        raise ComposeError(
            f"attachment {safe_line(attachment.filename)!r}: {content_type!r} is not a MIME "
            "type like text/plain"
        )
    if maintype == "multipart":
        raise ComposeError(f"attachment {safe_line(attachment.filename)!r}: cannot be multipart")
    return maintype, subtype


def to_seven_bit(data: bytes) -> bytes:
    """The message re-encoded for a server without 8BITMIME: 8bit text parts become
    base64 or quoted-printable (RFC 6152 forbids sending them as they are).

    A message that cannot be re-encoded (8-bit text with no charset, which compose never
    makes) comes back unchanged: most servers take it, and refusing would leave it in the
    outbox for good. So does one that names a charset the policy refuses (a forwarded
    message's headers, say): email would run that codec (punycode is quadratic), and
    rewriting the name would change the message.
    """
    if charsets.names_refused_codec(data):
        return data
    msg = message_from_bytes(data, policy=policy.SMTP)
    out = io.BytesIO()
    try:
        BytesGenerator(out, policy=policy.SMTP.clone(cte_type="7bit")).flatten(msg)
    except (UnicodeError, LookupError, ValueError):
        return data
    return out.getvalue()
