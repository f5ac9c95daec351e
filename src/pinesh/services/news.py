"""Posting news: build an article and POST it to the nntp-server (through its route)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from pinesh.errors import PineshError
from pinesh.services.mail import MailSession
from pinesh.services.sending import user_address


def post_article(
    session: MailSession, groups: list[str], subject: str, body: str, references: str | None = None
) -> str | None:
    """Post to groups on the pinerc's nntp-server; the article's Message-ID."""
    from pinesh.stores.nntp import NntpStore

    if not session.pine.nntp_servers:
        raise PineshError("no nntp-server is set", hint="set nntp-server in your pinerc")
    store = session.store_for(session.parse(f"#news.{groups[0]}"))
    if not isinstance(store, NntpStore):
        raise PineshError(f"#news.{groups[0]} is not a news group")
    sender = user_address(session)
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
    return store.post(article.as_bytes())
