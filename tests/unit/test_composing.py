"""Delivering a composed message: mailed, posted, or both at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.errors import PineshError
from pinesh.senders.compose import Draft
from pinesh.senders.outbox import Outbox
from pinesh.services import composing, sending
from pinesh.services.composing import post_and_mail
from pinesh.services.connections import Connections
from pinesh.services.mail import MailSession
from pinesh.services.postponed import list_postponed, postpone, resume
from pinesh.services.replying import ComposeRequest
from pinesh.stores.base import Address
from tests.unit.test_outbox import FakeSender

ME = Address("Me Myself", "me@pinesh.test")


def session(tmp: Path, extra: str = "", data_dir: Path | None = None) -> MailSession:
    rc = parse_pinerc(f"user-domain=pinesh.test\n{extra}", str(tmp / "pinerc"))
    return MailSession(
        Connections(Settings(), rc), pine_settings(rc), data_dir=data_dir or tmp / "data"
    )


class Poster:
    """post_article's stand-in at the service boundary: keeps what it was asked to post."""

    def __init__(self) -> None:
        self.posted: list[tuple[list[str], str]] = []

    def __call__(
        self,
        session: MailSession,
        groups: list[str],
        subject: str,
        body: str,
        references: str | None = None,
    ) -> str:
        self.posted.append((groups, subject))
        return "<posted@pinesh.test>"


def both() -> ComposeRequest:
    """To Bob, and to local.test: a message that is mailed and posted."""
    draft = Draft(
        sender=ME, to=(Address("Bob", "bob@example.org"),), subject="Plans", body="hello\n"
    )
    return ComposeRequest(draft, newsgroups=("local.test",), fcc="")


def test_mail_failing_after_the_post_keeps_the_mail_alone(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Was: "Not sent: ...; Posted to local.test", and the mail was lost (nothing kept).
    poster = Poster()
    monkeypatch.setattr(composing, "post_article", poster)
    (home / "data").write_bytes(b"")  # the outbox cannot be made: send_draft raises
    me = session(home)
    delivery = post_and_mail(me, both())
    assert poster.posted == [(["local.test"], "Plans")]
    assert delivery.sent and delivery.posted == ("local.test",)
    summary = delivery.summary()
    assert summary.startswith("Posted to local.test; the mail was not sent: cannot create")
    assert summary.endswith(
        "; the mail alone is kept in postponed-msgs, without the Newsgroups: resume it "
        "(Compose) to send it; the article is not posted again"
    )
    [kept] = list_postponed(me)
    resumed = resume(me, kept.uid)
    assert resumed.newsgroups == ()
    assert resumed.draft.to == (Address("Bob", "bob@example.org"),)


def test_resending_a_resumed_message_does_not_post_it_twice(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Was: the postponed copy (with its Newsgroups) stayed; resuming and sending it
    # posted the article a second time.
    poster = Poster()
    monkeypatch.setattr(composing, "post_article", poster)
    ok = session(home)
    postpone(ok, both())
    [waiting] = list_postponed(ok)
    first = resume(ok, waiting.uid)
    assert first.newsgroups == ("local.test",)

    (home / "broken").write_bytes(b"")  # no outbox: the mail fails outright
    failed = post_and_mail(session(home, data_dir=home / "broken"), first)
    assert failed.posted == ("local.test",) and failed.mail is None
    [again] = list_postponed(ok)  # one copy: the old one, with the Newsgroups, is gone
    second = resume(ok, again.uid)
    assert second.newsgroups == ()

    sender = FakeSender(Outbox(home / "data" / "outbox"), [None])
    monkeypatch.setattr(sending, "choose_sender", lambda session: sender)
    delivery = post_and_mail(ok, second)
    assert delivery.summary() == "Message sent"
    assert [o.envelope.recipients for o in sender.sent] == [("bob@example.org",)]
    assert poster.posted == [(["local.test"], "Plans")]  # once, not twice
    assert list_postponed(ok) == []


def test_mail_kept_in_the_outbox_after_the_post_is_not_postponed(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The outbox holds the mail only (no Newsgroups): a flush cannot post again, and
    # the resumed copy goes, as before.
    poster = Poster()
    monkeypatch.setattr(composing, "post_article", poster)
    me = session(home)
    postpone(me, both())
    [waiting] = list_postponed(me)
    request = resume(me, waiting.uid)
    sender = FakeSender(Outbox(home / "data" / "outbox"), [PineshError("connection refused")])
    monkeypatch.setattr(sending, "choose_sender", lambda session: sender)
    delivery = post_and_mail(me, request)
    assert delivery.summary() == (
        "Not sent: connection refused; kept in the outbox (pinesh outbox flush); "
        "Posted to local.test"
    )
    assert list_postponed(me) == []
    [kept] = Outbox(home / "data" / "outbox").list()
    assert b"Newsgroups" not in Outbox(home / "data" / "outbox").load(kept.key)[1]


def test_a_failed_post_still_raises_and_mails_nothing(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> str:
        raise PineshError("441 posting failed")

    monkeypatch.setattr(composing, "post_article", refuse)
    sender = FakeSender(Outbox(home / "data" / "outbox"), [None])
    monkeypatch.setattr(sending, "choose_sender", lambda session: sender)
    with pytest.raises(PineshError, match="441 posting failed"):
        post_and_mail(session(home), both())
    assert sender.sent == []
