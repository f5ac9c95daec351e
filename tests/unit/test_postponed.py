"""Postponed messages: a round trip through an mbox postponed-msgs folder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.errors import PineshError
from pinesh.senders.compose import Draft, OutgoingAttachment, compose
from pinesh.services.addressbook import AddressBook
from pinesh.services.composing import TypedFields, request_from_fields
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
from pinesh.services.replying import ComposeRequest, forward_request
from pinesh.stores.base import Address
from tests.unit.test_replying import BROKEN, crlf

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
            OutgoingAttachment("data.bin", bytes(range(256)), "application/octet-stream"),
            OutgoingAttachment("inner.eml", FORWARDED, "message/rfc822"),
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


def _normalized(attachments: tuple[OutgoingAttachment, ...]) -> list[tuple[str, bytes, str | None]]:
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


def test_resuming_keeps_a_broken_attached_message(home: Path) -> None:
    # Was: on resume the attached message was parsed and written back, which failed, and
    # the attachment was silently left out of the draft.
    me = session(home)
    postpone(me, forward_request(me, BROKEN, as_attachment=True))
    with me.open_folder("postponed-msgs", read_only=True) as folder:
        [uid] = folder.uids()
    resumed = resume(me, uid)
    [attached] = resumed.draft.attachments
    assert attached.content_type == "message/rfc822"
    assert crlf(attached.data).rstrip(b"\r\n") == crlf(BROKEN).rstrip(b"\r\n")


def test_a_long_non_ascii_name_is_folded_with_crlf() -> None:
    # Was: Header.encode() folded with a bare LF inside the CRLF message (an IMAP server
    # such as Cyrus refuses bare newlines on APPEND).
    name = "Жанна Владимировна Константинопольская-Воскресенская"
    draft = Draft(sender=ME, to=(Address(name, "j@example.org"),), subject="s", body="b")
    data = postponed_bytes(ComposeRequest(draft), domain="pinesh.test")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert request_from_postponed(data, fallback_sender=ME).draft.to == (
        Address(name, "j@example.org"),
    )


@pytest.mark.parametrize(
    "typed",
    [
        "jane@example.org, (comment bob@example.org",
        "Jane Doe",
        '"Jane <jane@example.org>, bob@example.org',
        "Jane Doe <jane@example.org",
    ],
)
def test_postponing_keeps_what_was_typed(typed: str) -> None:
    # Was: spaces were taken out of text that was no address yet, and "(comment
    # bob@example.org" came back as nothing at all: the address typed was lost.
    book = AddressBook(Path("/nonexistent/.addressbook"))
    base = ComposeRequest(Draft(sender=ME))
    request = request_from_fields(base, TypedFields(to=typed), book, strict=False)
    data = postponed_bytes(request, domain="pinesh.test")
    assert request_from_postponed(data, fallback_sender=ME).draft.to == request.draft.to


def test_valid_addresses_still_come_back_parsed() -> None:
    to = (Address("Doe, Jane", "jane@example.org"), Address("Jürgen Müller", "jm@example.org"))
    data = postponed_bytes(ComposeRequest(Draft(sender=ME, to=to)), domain="pinesh.test")
    assert request_from_postponed(data, fallback_sender=ME).draft.to == to


def test_x_our_headers_cannot_bring_back_headers_compose_sets() -> None:
    # Was: a postponed message (from another program, or a shared IMAP folder) naming To
    # in X-Our-Headers resumed into a draft that compose() refused for good.
    raw = (
        b"From: me@pinesh.test\r\nTo: a@example.org\r\nSubject: s\r\nOrganization: Lab\r\n"
        b"X-Our-Headers: To,Subject,Fcc,X-Our-Headers,Organization\r\nFcc: \r\n"
        b"Message-ID: <a@example.org>\r\n\r\nbody\r\n"
    )
    request = request_from_postponed(raw, fallback_sender=ME)
    assert request.draft.extra_headers == (("Organization", "Lab"),)
    compose(request.draft, domain="pinesh.test")


def test_a_broken_charset_in_a_postponed_message_is_read_not_a_crash() -> None:
    # Was: ValueError ("embedded null character") from the header decoding escaped. The
    # header decoder now reads such a charset as UTF-8, so the draft comes back.
    raw = b"From: me@pinesh.test\r\nSubject: =?ut\x00f-8?q?x?=\r\n\r\nbody\r\n"
    request = request_from_postponed(raw, fallback_sender=ME)
    assert request.draft.subject == "x"
    assert request.draft.body.strip() == "body"
