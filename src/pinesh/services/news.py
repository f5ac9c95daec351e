"""Posting news: build an article and POST it to the nntp-server (through its route)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from pinesh.errors import PineshError
from pinesh.services.mail import MailSession
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
