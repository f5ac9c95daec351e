"""Posting news: build an article and POST it to the nntp-server (through its route)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from pinesh.errors import PineshError
from pinesh.senders.compose import Draft
from pinesh.services.mail import MailSession
from pinesh.services.postponed import keep_postponed, postponed_folder
from pinesh.services.replying import ComposeRequest
from pinesh.services.sending import user_address
from pinesh.stores.base import Address
from pinesh.stores.nntp.protocol import valid_group_name


def post_article(
    session: MailSession, groups: list[str], subject: str, body: str, references: str | None = None
) -> str | None:
    """Post to groups on the pinerc's nntp-server; the article's Message-ID."""
    from pinesh.stores.nntp.store import NntpStore

    if not session.pine.nntp_servers:
        raise PineshError("no nntp-server is set", hint="set nntp-server in your pinerc")
    store = session.store_for(session.parse(f"#news.{groups[0]}"))
    if not isinstance(store, NntpStore):
        raise PineshError(f"#news.{groups[0]} is not a news group")
    bad = [g for g in groups if not valid_group_name(g)]
    if bad:
        raise PineshError(f"{bad[0]!r} is not a newsgroup name")
    sender = user_address(session)
    try:
        article = _article(sender, groups, subject, body, references)
    except ValueError as exc:  # e.g. a line break in the subject: the email package refuses
        raise PineshError(f"cannot build the article: {exc}") from None
    return store.post(article)


def _article(
    sender: Address, groups: list[str], subject: str, body: str, references: str | None
) -> bytes:
    article = EmailMessage()
    article["From"] = f"{sender.name} <{sender.email}>" if sender.name else sender.email
    article["Newsgroups"] = ",".join(groups)
    article["Subject"] = subject
    article["Date"] = formatdate(localtime=True)
    domain = sender.email.rpartition("@")[2] or None
    article["Message-ID"] = make_msgid(domain=domain)
    if references:
        article["References"] = references
    article["User-Agent"] = "pinesh"
    article.set_content(body)
    return article.as_bytes()


def post_or_keep(
    session: MailSession, groups: list[str], subject: str, body: str, references: str | None
) -> str | None:
    """post_article; when the article cannot be posted, it is kept in the postponed folder
    (no article is lost) and the PineshError raised says so and how to send it again."""
    try:
        return post_article(session, groups, subject, body, references)
    except (PineshError, OSError) as exc:
        reason = exc.message if isinstance(exc, PineshError) else exc.strerror or str(exc)
        folder = postponed_folder(session)
        draft = Draft(
            user_address(session),
            subject=subject,
            body=body,
            references=tuple((references or "").split()),
        )
        try:
            keep_postponed(session, ComposeRequest(draft, newsgroups=tuple(groups)))
        except (PineshError, OSError) as kept:
            raise PineshError(
                f"not posted: {reason}; and it could not be kept in {folder}: {kept}",
                hint="the article was read from stdin: post it again from where it came",
            ) from None
        raise PineshError(
            f"not posted: {reason}; the article is kept in {folder}",
            hint="to post it later, start pinesh, press C and continue the postponed message",
        ) from None
