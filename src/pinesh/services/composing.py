"""The composer's end: what was typed becomes a request, and a request is delivered.

Typed addresses go through the address book first (nicknames expanded). For sending,
every address must be valid and every nickname known; for postponing, whatever was
typed is kept, valid or not, so that nothing typed is lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from pinesh.errors import PineshError
from pinesh.senders.addresses import parse_typed_addresses
from pinesh.senders.base import ComposeError
from pinesh.senders.compose import OutgoingAttachment
from pinesh.services.addressbook import AddressBook
from pinesh.services.mail import MailSession
from pinesh.services.news import post_article
from pinesh.services.postponed import keep_postponed, postponed_folder, remove_postponed
from pinesh.services.replying import ComposeRequest
from pinesh.services.sealing import SealError, clearsigned
from pinesh.services.sending import SendOutcome, send_draft
from pinesh.stores.base import Address
from pinesh.stores.headers import split_addresses
from pinesh.stores.nntp.protocol import valid_group_name
from pinesh.textsafe import safe_line

OUTBOX_HINT = "pinesh outbox flush"
FAILURES = (PineshError, OSError, ValueError)  # what a send may raise besides a bug


@dataclass(frozen=True)
class TypedFields:
    """The composer's fields as text, read on the UI thread."""

    to: str = ""
    cc: str = ""
    bcc: str = ""
    fcc: str = ""
    subject: str = ""
    newsgroups: str = ""
    body: str = ""
    attachments: tuple[OutgoingAttachment, ...] = ()


def request_from_fields(
    base: ComposeRequest, typed: TypedFields, book: AddressBook, *, strict: bool
) -> ComposeRequest:
    """base with the typed fields; strict (to send) raises ComposeError on any problem."""
    fields = {"To": typed.to, "Cc": typed.cc, "Bcc": typed.bcc}
    parsed: dict[str, tuple[Address, ...]] = {}
    for field, text in fields.items():
        parsed[field] = _addresses(book, field, text, strict=strict)
    groups = tuple(dict.fromkeys(g for g in re.split(r"[\s,]+", typed.newsgroups) if g))
    if strict:
        bad = [g for g in groups if not valid_group_name(g)]
        if bad:
            raise ComposeError(f"Newsgroups: {safe_line(bad[0])!r} is not a newsgroup name")
        if not any(parsed.values()) and not groups:
            raise ComposeError("no recipients", hint="fill in To (or Newsgroups to post)")
        if groups and typed.attachments:
            raise ComposeError(
                "pinesh posts text articles only: remove the attachments to post",
                hint="or send them by mail (To) without Newsgroups",
            )
    draft = replace(
        base.draft,
        to=parsed["To"],
        cc=parsed["Cc"],
        bcc=parsed["Bcc"],
        subject=" ".join(typed.subject.splitlines()),
        body=typed.body,
        attachments=typed.attachments,
    )
    return replace(base, draft=draft, newsgroups=groups, fcc=typed.fcc.strip())


def _addresses(book: AddressBook, field: str, text: str, *, strict: bool) -> tuple[Address, ...]:
    expanded = book.expand(text)
    if strict:
        unknown = book.unknown_nicknames(text)
        if unknown:
            names = ", ".join(repr(safe_line(n)) for n in unknown)
            raise ComposeError(
                f"{field}: {names} is not a nickname in {book.path} nor an address",
                hint="write name@domain, or add the nickname to the address book (A)",
            )
        return parse_typed_addresses(expanded, field) if expanded else ()
    found: list[Address] = []
    for item in split_addresses(expanded):
        try:
            found += parse_typed_addresses(item, field)
        except ComposeError:
            found.append(Address("", item))  # kept as typed, to be fixed later
    return tuple(found)


@dataclass(frozen=True)
class Delivery:
    """What became of a message: mailed, kept in the outbox, posted."""

    mail: SendOutcome | None = None
    mail_error: str | None = None  # mail failed outright after the article was posted
    posted: tuple[str, ...] = ()
    note: str | None = None  # e.g. where the mail was kept, or the postponed copy stays

    @property
    def sent(self) -> bool:
        """Something went out now (mailed or posted), not just kept for later."""
        return bool(self.posted) or (self.mail is not None and self.mail.attempt.ok)

    def summary(self) -> str:
        """One status line: what went out, and what was kept where."""
        parts: list[str] = []
        if self.mail is not None:
            parts.append(_mail_summary(self.mail))
        if self.posted:
            parts.append("Posted to " + ", ".join(self.posted))
        if self.mail_error:
            parts.append(f"the mail was not sent: {self.mail_error}")
        if self.note:
            parts.append(self.note)
        return safe_line("; ".join(parts))


def _mail_summary(outcome: SendOutcome) -> str:
    attempt = outcome.attempt
    if not attempt.ok:
        reason = attempt.error.message if attempt.error is not None else attempt.note
        return f"Not sent: {reason}; kept in the outbox ({OUTBOX_HINT})"
    if outcome.fcc_error:
        return f"Message sent, but not copied to {outcome.fcc}: {outcome.fcc_error}"
    if outcome.fcc:
        return f"Message sent and copied to {outcome.fcc}"
    return "Message sent"


def post_and_mail(
    session: MailSession, request: ComposeRequest, passphrase: str | None = None
) -> Delivery:
    """Post (when Newsgroups), then mail (when recipients); a failed post raises and
    nothing is mailed. request.seal signs the article (inline, clear-signed) and signs or
    encrypts the mail; a seal that cannot be made raises SealError before anything goes
    out (passphrase: for a locked key, once asked for). A resumed message leaves the
    postponed folder once it is out or safe in the outbox. Mail that fails outright after
    the post is postponed without the Newsgroups, so that sending it again does not post
    the article twice."""
    draft = request.draft
    if request.newsgroups and (request.seal.encrypt or request.seal.smime):
        raise SealError(
            "a news article can be signed (inline PGP), not encrypted or sent as S/MIME",
            hint="take off encryption and S/MIME, or send the mail without the newsgroups",
        )
    posted = _post(session, request, passphrase)
    if not (draft.to or draft.cc or draft.bcc):
        return Delivery(posted=posted, note=_done_with_postponed(session, request))
    try:
        mail = send_draft(session, draft, fcc=request.fcc, seal=request.seal, passphrase=passphrase)
    except FAILURES as exc:
        if not posted:
            raise
        # The article is out: raising now would leave the composer open, and ^X again
        # would post it a second time.
        return Delivery(None, _error_text(exc), posted, _keep_mail_only(session, request))
    return Delivery(mail, None, posted, _done_with_postponed(session, request))


def _post(session: MailSession, request: ComposeRequest, passphrase: str | None) -> tuple[str, ...]:
    """Post the article when the request names newsgroups (clear-signed when the seal
    says sign); the groups posted to."""
    if not request.newsgroups:
        return ()
    draft = request.draft
    references = " ".join(draft.references) or None
    body = draft.body
    if request.seal.sign:
        body = clearsigned(body, draft.sender.email, passphrase=passphrase)
    post_article(session, list(request.newsgroups), draft.subject, body, references)
    return request.newsgroups


def _error_text(exc: BaseException) -> str:
    """What failed, in a few words (a PineshError's hint left for the status line to omit)."""
    if isinstance(exc, PineshError):
        return exc.message
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror + (f": {exc.filename}" if exc.filename else "")
    return str(exc) or type(exc).__name__


def _done_with_postponed(session: MailSession, request: ComposeRequest) -> str | None:
    """Remove a resumed message's postponed copy; a note when it stays."""
    if not request.postponed_key:
        return None
    try:
        remove_postponed(session, request.postponed_key)
    except (PineshError, OSError) as exc:
        return f"the postponed copy stays: {exc}"
    return None


def _keep_mail_only(session: MailSession, request: ComposeRequest) -> str:
    """Postpone the mail part alone (the article is out), in place of a resumed
    message's old copy; what became of it, for the status line."""
    folder = postponed_folder(session)
    try:
        keep_postponed(session, replace(request, newsgroups=()))
    except FAILURES as exc:
        note = f"the mail could not be kept in {folder} either: {_error_text(exc)}"
        if request.postponed_key:
            note += "; its postponed copy still names the newsgroups: take them out to resend"
        return note
    if request.postponed_key:
        try:
            remove_postponed(session, request.postponed_key)
        except (PineshError, OSError) as exc:
            return (
                f"the mail alone is kept in {folder}, but the copy with the newsgroups "
                f"stays ({_error_text(exc)}): delete it, or it posts the article again"
            )
    return (
        f"the mail alone is kept in {folder}, without the Newsgroups: resume it "
        "(Compose) to send it; the article is not posted again"
    )
