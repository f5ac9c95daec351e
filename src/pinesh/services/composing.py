"""The composer's end: what was typed becomes a request, and a request is delivered.

Typed addresses go through the address book first (nicknames expanded). For sending,
every address must be valid and every nickname known; for postponing, whatever was
typed is kept, valid or not, so that nothing typed is lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from pinesh.errors import PineshError
from pinesh.senders.compose import Attachment, ComposeError, parse_addresses
from pinesh.services.addressbook import AddressBook, split_addresses
from pinesh.services.mail import MailSession
from pinesh.services.news import post_article
from pinesh.services.postponed import remove_postponed
from pinesh.services.replying import ComposeRequest
from pinesh.services.sending import SendOutcome, send_draft
from pinesh.stores.base import Address
from pinesh.stores.nntp_protocol import valid_group_name
from pinesh.textsafe import safe_line

OUTBOX_HINT = "pinesh outbox flush"


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
    attachments: tuple[Attachment, ...] = ()


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
        return parse_addresses(expanded, field) if expanded else ()
    found: list[Address] = []
    for item in split_addresses(expanded):
        try:
            found += parse_addresses(item, field)
        except ComposeError:
            found.append(Address("", item))  # kept as typed, to be fixed later
    return tuple(found)


@dataclass(frozen=True)
class Delivery:
    """What became of a message: mailed, kept in the outbox, posted."""

    mail: SendOutcome | None = None
    mail_error: str | None = None  # mail failed outright after the article was posted
    posted: tuple[str, ...] = ()
    note: str | None = None  # e.g. the postponed copy could not be removed

    @property
    def sent(self) -> bool:
        """Something went out now (mailed or posted), not just kept for later."""
        return bool(self.posted) or (self.mail is not None and self.mail.attempt.ok)

    def summary(self) -> str:
        parts: list[str] = []
        if self.mail is not None:
            parts.append(_mail_summary(self.mail))
        if self.mail_error:
            parts.append(f"Not sent: {self.mail_error}")
        if self.posted:
            parts.append("Posted to " + ", ".join(self.posted))
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


def deliver(session: MailSession, request: ComposeRequest) -> Delivery:
    """Post (when Newsgroups), then mail (when recipients); a failed post raises and
    nothing is mailed. A resumed message leaves the postponed folder once it is out
    or safe in the outbox."""
    draft = request.draft
    posted: tuple[str, ...] = ()
    if request.newsgroups:
        references = " ".join(draft.references) or None
        post_article(session, list(request.newsgroups), draft.subject, draft.body, references)
        posted = request.newsgroups
    mail: SendOutcome | None = None
    mail_error: str | None = None
    if draft.to or draft.cc or draft.bcc:
        try:
            mail = send_draft(session, draft, fcc=request.fcc)
        except PineshError as exc:
            if not posted:
                raise
            mail_error = exc.message
    note = None
    if request.postponed_key and mail_error is None:
        try:
            remove_postponed(session, request.postponed_key)
        except (PineshError, OSError) as exc:
            note = f"the postponed copy stays: {exc}"
    return Delivery(mail, mail_error, posted, note)
