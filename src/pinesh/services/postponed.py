"""Postponed messages, Pine's way: whole messages in the postponed-folder.

The folder is the pinerc's postponed-folder (Pine's default ``postponed-msgs``, an mbox
in ~/mail; an IMAP name puts it on the server). A postponed message is the composed
message, and, as Pine writes it, with:

- ``To``, ``Cc`` and ``Bcc`` as typed (an address that is not valid yet is kept as text);
- ``Fcc: folder`` (empty: no copy; absent: the default-fcc);
- ``Newsgroups`` when it is to be posted;
- ``X-Our-Headers``: the names of the customized headers, so resuming gives them back.

Resuming reads it back into a ComposeRequest whose postponed_key names it; it is
removed from the folder only after it was sent or postponed again.
"""

from __future__ import annotations

import email
import email.utils
import re
from dataclasses import dataclass, replace
from datetime import datetime
from email import policy
from email.header import Header
from email.message import EmailMessage
from pathlib import Path

from pinesh.errors import PineshError
from pinesh.senders.addresses import parse_typed_addresses
from pinesh.senders.base import ComposeError
from pinesh.senders.compose import RESERVED_HEADERS, Draft, compose
from pinesh.services.decryption import decrypt
from pinesh.services.mail import MailSession
from pinesh.services.original_message import message_attachments, message_text
from pinesh.services.replying import ComposeRequest
from pinesh.services.sealing import SEAL_HEADER, Seal, seal_from_words, seal_message, seal_words
from pinesh.services.sending import user_address
from pinesh.stores.base import Address, Flag
from pinesh.stores.headers import (
    decode_words,
    header_addresses,
    header_end,
    header_text,
    message_ids,
    parse_header_block,
    split_addresses,
    with_content_of,
)
from pinesh.stores.mime_structure import part_content
from pinesh.stores.names import Driver
from pinesh.stores.signed_parts import PKCS7_MIME
from pinesh.textsafe import safe_line

DEFAULT_POSTPONED = "postponed-msgs"
OUR_HEADERS = "X-Our-Headers"
# C0, DEL and C1 (as textsafe escapes them): a C1 CSI is an escape sequence too.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_SPECIALS = set('()<>@,;:\\".[]')
_FOLD = re.compile(r"\r?\n(?=[ \t])")
# Header names a postponed message's X-Our-Headers may not bring back as customized ones.
_NOT_OURS = RESERVED_HEADERS | {"fcc", "newsgroups", "user-agent", OUR_HEADERS.lower()}


@dataclass(frozen=True)
class PostponedMessage:
    """One line of the list of postponed messages (decoded, not yet made safe to draw)."""

    uid: int
    subject: str
    to: str
    date: datetime | None


def postponed_folder(session: MailSession) -> str:
    return session.pine.postponed_folder or DEFAULT_POSTPONED


def _exists(session: MailSession, name: str) -> bool:
    """Whether the postponed folder is there to read: a local mbox file, or a folder on
    the server (one LIST; the default collection may be remote, and a folder not made
    yet means no postponed message, not an error). A Maildir is made when opened."""
    mailbox = session.parse(name)
    if mailbox.driver is Driver.IMAP:
        return session.on_server(mailbox)
    return mailbox.driver is not Driver.MBOX or Path(mailbox.mailbox).exists()


def list_postponed(session: MailSession) -> list[PostponedMessage]:
    """The postponed messages, oldest first; none when the folder does not exist yet."""
    name = postponed_folder(session)
    if not _exists(session, name):
        return []
    with session.open_folder(name, read_only=True) as folder:
        envelopes = folder.envelopes(folder.uids())
    return [
        PostponedMessage(
            env.uid,
            env.subject,
            ", ".join(a.display() for a in env.to),
            env.date or env.internal_date,
        )
        for env in envelopes
        if Flag.DELETED not in env.flags
    ]


def postpone(session: MailSession, request: ComposeRequest) -> None:
    """Keep request in the postponed folder; a resumed one replaces its old copy."""
    keep_postponed(session, request)
    if request.postponed_key:
        remove_postponed(session, request.postponed_key)


def keep_postponed(session: MailSession, request: ComposeRequest) -> None:
    """Append request to the postponed folder (a resumed one's old copy is left alone).
    A message that is to go encrypted is kept encrypted, to its writer alone: its text
    (a decrypted message quoted, say) is never kept in clear, on disk or on a server.
    SealError when it cannot be."""
    data = postponed_bytes(request, domain=_domain(session))
    if request.seal.encrypt:
        only_to_self = Seal(encrypt=True, smime=request.seal.smime)
        data = seal_message(data, only_to_self, signer=request.draft.sender.email, recipients=())
    with session.open_folder(postponed_folder(session), create=True) as folder:
        folder.append(data, frozenset({Flag.SEEN, Flag.DRAFT}))


def resume(session: MailSession, uid: int) -> ComposeRequest:
    """The postponed message uid as a request to compose (it stays in the folder)."""
    with session.open_folder(postponed_folder(session), read_only=True) as folder:
        raw = folder.fetch_message(uid)
    request = request_from_postponed(opened(raw), fallback_sender=user_address(session))
    return replace(request, postponed_key=f"{uid} {request.postponed_key or ''}".strip())


def opened(raw: bytes) -> bytes:
    """A postponed message kept encrypted, decrypted under its own header lines; any
    other as it is. PineshError when it cannot be decrypted (a locked key: gpg's agent
    must have its passphrase, as after reading an encrypted message)."""
    kind = parse_header_block(raw[: header_end(raw)]).get_content_type()
    if kind not in ("multipart/encrypted", *PKCS7_MIME):
        return raw
    payload = b"".join(part_content(raw, "2" if kind == "multipart/encrypted" else "1") or ())
    done = decrypt(payload, cms=kind != "multipart/encrypted")
    if done.plaintext is None:
        raise PineshError(
            f"the postponed message is kept encrypted, and was not decrypted: "
            f"{done.status.explain()}",
            hint="unlock your key (read an encrypted message in pinesh, or gpg --decrypt "
            "once), then continue it again",
        )
    return with_content_of(raw, done.plaintext)


def remove_postponed(session: MailSession, key: str) -> bool:
    """Delete and expunge the postponed message key names; False when it is gone already.

    key is "UID <message-id>": local UIDs change when the folder is rewritten, so the
    Message-ID decides, and the UID is only where to look first.
    """
    first, _, message_id = key.partition(" ")
    name = postponed_folder(session)
    if not _exists(session, name):
        return False
    with session.open_folder(name) as folder:
        uids = folder.uids()
        hint = int(first) if first.isdecimal() and int(first) in uids else None
        order = ([hint] if hint is not None else []) + [u for u in uids if u != hint]
        if not message_id:
            found = hint
        else:
            found = next(
                (env.uid for env in folder.envelopes(order) if env.message_id == message_id),
                None,
            )
        if found is None:
            return False
        folder.set_flags([found], frozenset({Flag.DELETED}), True)
        folder.expunge()
    return True


def _domain(session: MailSession) -> str:
    return session.pine.user_domain or user_address(session).email.rpartition("@")[2]


# --- the message (pure) ---------------------------------------------------------------


def postponed_bytes(request: ComposeRequest, *, domain: str) -> bytes:
    """The message to keep for request (CRLF line ends)."""
    draft = request.draft
    names = tuple(dict.fromkeys(name for name, _ in draft.extra_headers))
    extra = (*draft.extra_headers, (OUR_HEADERS, ",".join(names))) if names else ()
    composed = compose(replace(draft, to=(), cc=(), bcc=(), extra_headers=extra), domain=domain)
    lines = [
        _address_header(field, addresses)
        for field, addresses in (("To", draft.to), ("Cc", draft.cc), ("Bcc", draft.bcc))
        if addresses
    ]
    if request.fcc is not None:
        lines.append(_text_header("Fcc", request.fcc))
    if request.newsgroups:
        lines.append(_text_header("Newsgroups", ",".join(request.newsgroups)))
    if request.seal.wanted:
        lines.append(_text_header(SEAL_HEADER, seal_words(request.seal)))
    return "".join(line + "\r\n" for line in lines).encode("utf-8") + composed.wire


def request_from_postponed(raw: bytes, *, fallback_sender: Address) -> ComposeRequest:
    """A request from a postponed message; postponed_key is its Message-ID (or None)."""
    try:
        return _request_from_postponed(raw, fallback_sender)
    except PineshError:
        raise
    except Exception as exc:  # the stdlib raises many kinds on broken input
        raise PineshError(f"cannot read the postponed message: {safe_line(str(exc))}") from None


def _request_from_postponed(raw: bytes, fallback_sender: Address) -> ComposeRequest:
    head = parse_header_block(raw[: header_end(raw)])
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    senders = [a for a in header_addresses(head, "From") if "@" in a.email]
    ours = {n.strip().lower() for n in decode_words(head.get(OUR_HEADERS)).split(",")}
    # Only names a customized header may have: one that compose sets itself (To, From...)
    # would make the message impossible to send or postpone again.
    ours = {n for n in ours if n and n not in _NOT_OURS and not n.startswith("x-pinesh-")}
    extra = tuple(
        (str(name), _clean(decode_words(value)))
        for name, value in head.items()
        if str(name).lower() in ours
    )
    fcc = head.get("Fcc")
    groups = decode_words(head.get("Newsgroups")).split(",")
    in_reply_to = message_ids(decode_words(head.get("In-Reply-To")))
    ids = message_ids(decode_words(head.get("Message-ID")))
    draft = Draft(
        sender=senders[0] if senders else fallback_sender,
        to=_addresses(head, "To"),
        cc=_addresses(head, "Cc"),
        bcc=_addresses(head, "Bcc"),
        reply_to=_addresses(head, "Reply-To", keep_text=False),
        subject=_clean(decode_words(head.get("Subject"))),
        body=message_text(message),
        attachments=message_attachments(message, raw),
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=message_ids(decode_words(head.get("References"))),
        extra_headers=extra,
    )
    return ComposeRequest(
        draft,
        newsgroups=tuple(g.strip() for g in groups if g.strip()),
        fcc=None if fcc is None else _clean(decode_words(fcc)).strip(),
        postponed_key=ids[0] if ids else None,
        seal=seal_from_words(decode_words(head.get(SEAL_HEADER))),
    )


def _addresses(
    head: email.message.Message, field: str, *, keep_text: bool = True
) -> tuple[Address, ...]:
    """The addresses of field; keep_text: an item that is no address yet comes back as
    it was typed (postponing keeps it so), as Address("", text)."""
    raw = next((header_text(v) for k, v in head.raw_items() if k.lower() == field.lower()), "")
    found: list[Address] = []
    for item in split_addresses(_FOLD.sub("", raw)):
        try:
            parse_typed_addresses(item, field)  # only to tell an address from other text
            pairs = email.utils.getaddresses([item])  # names decoded as the index does
        except ComposeError:
            text = _clean(decode_words(item))
            if keep_text and text:
                found.append(Address("", text))
            continue
        found += [Address(_clean(decode_words(n)), _clean(e)) for n, e in pairs if e]
    return tuple(found)


def _clean(text: str) -> str:
    """Header text without control characters (our own file, but it is read back)."""
    return _CONTROLS.sub(" ", text).strip()


def _address_text(address: Address) -> str:
    name, mail = _clean(address.name), _clean(address.email)
    if not name:
        return mail  # an address, or what was typed when it is none yet: kept as it is
    mail = mail.replace(" ", "")
    if not name.isascii():
        name = Header(name, "utf-8").encode(linesep="\r\n")  # folded with CRLF, not LF
    elif any(ch in _SPECIALS for ch in name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{mail}>" if mail else name


def _address_header(field: str, addresses: tuple[Address, ...]) -> str:
    """``To: a, b`` folded before a line grows past 76 characters."""
    line, lines = f"{field}: ", []
    for number, address in enumerate(addresses):
        text = _address_text(address) + ("," if number < len(addresses) - 1 else "")
        if len(line) + len(text) > 76 and line.strip() not in (f"{field}:", ""):
            lines.append(line.rstrip())
            line = " "
        line += text + " "
    lines.append(line.rstrip())
    return "\r\n".join(lines)


def _text_header(field: str, value: str) -> str:
    text = _clean(value)
    if not text.isascii():
        return f"{field}: " + Header(text, "utf-8", header_name=field).encode(linesep="\r\n")
    return f"{field}: {text}".rstrip() if text else f"{field}:"


def describe(message: PostponedMessage) -> str:
    """One line for the list of postponed messages, safe to draw."""
    when = message.date.strftime("%b %d") if message.date else "      "
    to = safe_line(message.to)[:28] or "(no recipient)"
    subject = safe_line(message.subject) or "(no subject)"
    return f"{when}  {to:<28}  {subject}"
