"""Postponed messages: a round trip through an mbox postponed-msgs folder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.errors import PineshError
from pinesh.senders.compose import Attachment, Draft
from pinesh.services.connections import Connections
from pinesh.services.mail import MailSession
from pinesh.services.postponed import (
    list_postponed,
    postpone,
    postponed_bytes,
    remove_postponed,
    request_from_postponed,
    resume,
)
from pinesh.services.replying import ComposeRequest
from pinesh.stores.base import Address

ME = Address("Me Myself", "me@pinesh.test")
FORWARDED = b"From: a@example.org\r\nSubject: inner\r\nMessage-ID: <in@x.org>\r\n\r\ninner body\r\n"


def session(tmp: Path, extra: str = "") -> MailSession:
    rc = parse_pinerc(f"user-domain=pinesh.test\n{extra}", str(tmp / "pinerc"))
    return MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp / "data")


def a_request() -> ComposeRequest:
    draft = Draft(
        sender=ME,
        to=(Address("Jürgen Müller", "jm@example.org"), Address("", "bob")),
        cc=(Address("Doe, Jane", "jane@example.org"),),
        bcc=(Address("", "secret@example.net"),),
        subject="Plans für Freitag",
        body="First line\nZweite Zeile äöü\n\n-- \nMe\n",
        attachments=(
            Attachment("data.bin", bytes(range(256)), "application/octet-stream"),
            Attachment("inner.eml", FORWARDED, "message/rfc822"),
        ),
        in_reply_to="<parent@example.org>",
        references=("<root@example.org>", "<parent@example.org>"),
        extra_headers=(("X-Face", "abc"), ("Organization", "Pinesh Lab")),
    )
    return ComposeRequest(draft, newsgroups=("local.test",), fcc="")


def test_round_trip_through_the_postponed_folder(home: Path) -> None:
    me = session(home)
    assert list_postponed(me) == []
    assert not (home / "mail" / "postponed-msgs").exists()  # listing creates nothing
    postpone(me, a_request())
    assert (home / "mail" / "postponed-msgs").is_file()
    (waiting,) = list_postponed(me)
    assert waiting.subject == "Plans für Freitag"
    assert waiting.to.startswith("Jürgen Müller, bob")
    assert waiting.date is not None

    resumed = resume(me, waiting.uid)
    original = a_request()
    draft = resumed.draft
    assert draft.sender == ME
    assert draft.to == original.draft.to  # "bob" is kept as typed, to be fixed later
    assert draft.cc == original.draft.cc and draft.bcc == original.draft.bcc
    assert draft.subject == original.draft.subject
    assert draft.body == original.draft.body
    assert _normalized(draft.attachments) == _normalized(original.draft.attachments)
    assert draft.in_reply_to == "<parent@example.org>"
    assert draft.references == original.draft.references
    assert draft.extra_headers == original.draft.extra_headers
    assert resumed.newsgroups == ("local.test",)
    assert resumed.fcc == ""
    assert resumed.postponed_key is not None
    assert resumed.postponed_key.startswith(f"{waiting.uid} <")
    # Resuming leaves it in the folder until it is sent or postponed again.
    assert len(list_postponed(me)) == 1


def _normalized(attachments: tuple[Attachment, ...]) -> list[tuple[str, bytes, str | None]]:
    """A message/rfc822 part may come back with LF line ends: compare those without."""
    return [(a.filename, a.data.replace(b"\r\n", b"\n"), a.content_type) for a in attachments]


def test_postponing_a_resumed_message_replaces_it(home: Path) -> None:
    me = session(home)
    postpone(me, a_request())
    postpone(me, ComposeRequest(Draft(sender=ME, subject="second")))
    first = next(m for m in list_postponed(me) if m.subject == "Plans für Freitag")
    resumed = resume(me, first.uid)
    postpone(me, replace(resumed, draft=replace(resumed.draft, subject="edited")))
    assert sorted(m.subject for m in list_postponed(me)) == ["edited", "second"]
    assert resumed.postponed_key is not None
    assert not remove_postponed(me, resumed.postponed_key)  # gone already


def test_remove_finds_the_message_by_its_id_after_uids_moved(home: Path) -> None:
    me = session(home)
    postpone(me, ComposeRequest(Draft(sender=ME, subject="one")))
    postpone(me, ComposeRequest(Draft(sender=ME, subject="two")))
    two = next(m for m in list_postponed(me) if m.subject == "two")
    key = resume(me, two.uid).postponed_key
    assert key is not None
    one = next(m for m in list_postponed(me) if m.subject == "one")
    one_key = resume(me, one.uid).postponed_key
    assert one_key is not None and remove_postponed(me, one_key)
    # "two" is now the first message: its old UID names nothing, its Message-ID does.
    assert remove_postponed(me, key)
    assert list_postponed(me) == []


def test_default_fcc_and_a_named_folder(home: Path) -> None:
    me = session(home, "postponed-folder=drafts\n")
    postpone(me, ComposeRequest(Draft(sender=ME, to=(Address("", "x@example.org"),))))
    assert (home / "mail" / "drafts").is_file()
    (waiting,) = list_postponed(me)
    resumed = resume(me, waiting.uid)
    assert resumed.fcc is None and resumed.newsgroups == ()
    assert resumed.draft.to == (Address("", "x@example.org"),)


def test_the_postponed_bytes_are_pines_format() -> None:
    data = postponed_bytes(a_request(), domain="pinesh.test")
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc: secret@example.net\r\n" in head
    assert b'Cc: "Doe, Jane" <jane@example.org>\r\n' in head
    assert b"\r\nFcc:\r\n" in head and b"\r\nNewsgroups: local.test\r\n" in head
    assert b"X-Our-Headers: X-Face,Organization" in head
    assert head.isascii()


def test_broken_postponed_message_gives_a_request_or_a_pinesh_error() -> None:
    for raw in (
        b"",
        b"\xff\xfe\x00garbage",
        b"From: \x1b[31m<x@y>\r\nSubject: \x1b]0;t\x07\r\n\r\n",
    ):
        try:
            request = request_from_postponed(raw, fallback_sender=ME)
        except PineshError:
            continue
        assert "\x1b" not in request.draft.subject
        assert request.draft.sender.email


def test_a_postponed_message_read_back_has_no_c1_or_del() -> None:
    # Was: only C0 was taken out: a C1 CSI (\xc2\x9b) or DEL came back into the draft.
    raw = (
        b"From: me@pinesh.test\r\n"
        b"To: =?utf-8?q?Ev=C2=9B2Jil?= <evil@example.org>\r\n"
        b"Subject: =?utf-8?q?a=C2=9B6n_b=7Fc=C2=85d?=\r\n"
        b"Fcc: sent\xc2\x9b2J\r\n"
        b"Message-ID: <p@pinesh.test>\r\n\r\nbody\r\n"
    )
    request = request_from_postponed(raw, fallback_sender=ME)
    assert request.draft.to == (Address("Ev 2Jil", "evil@example.org"),)
    assert request.draft.subject == "a 6n b c d"
    assert request.fcc == "sent 2J"


def test_postponing_writes_no_c1_into_the_address_headers() -> None:
    draft = Draft(sender=ME, to=(Address("Ev\x9b2Jil", "evil@example.org"),), subject="s")
    data = postponed_bytes(ComposeRequest(draft, fcc="sent\x852"), domain="pinesh.test")
    head = data.partition(b"\r\n\r\n")[0]
    assert b"To: Ev 2Jil <evil@example.org>\r\n" in head
    assert b"Fcc: sent 2\r\n" in head
    assert b"\xc2\x9b" not in head and b"\xc2\x85" not in head and b"=C2=" not in head
