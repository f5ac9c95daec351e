"""Replies, forwards and follow-ups built from literal messages, hostile ones included."""

from __future__ import annotations

import email
import re
from collections.abc import Callable
from dataclasses import replace
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.errors import PineshError
from pinesh.senders.base import ComposeError, SendError, Sent, Stage
from pinesh.senders.compose import Draft, OutgoingAttachment, compose
from pinesh.senders.outbox import Attempt
from pinesh.services.addressbook_format import parse_addressbook
from pinesh.services.composing import Delivery, TypedFields, request_from_fields
from pinesh.services.connections import Connections
from pinesh.services.mail import MailSession
from pinesh.services.postponed import postponed_bytes
from pinesh.services.replying import (
    FORWARD_MARK,
    ComposeRequest,
    followup_request,
    forward_request,
    new_request,
    post_request,
    reply_request,
)
from pinesh.services.sending import SendOutcome, user_address
from pinesh.stores.base import Address

ME = Address("Me Myself", "me@pinesh.test")
CORPUS = Path(__file__).parent.parent / "corpus" / "hostile"

SIMPLE = (
    b"From: Jane Doe <jane@example.org>\r\n"
    b"To: Me <ME@pinesh.test>, bob@example.org\r\n"
    b"Cc: carol@example.net, BOB@example.org, me@pinesh.test\r\n"
    b"Subject: Lunch on Friday?\r\n"
    b"Date: Tue, 05 Mar 2024 10:15:00 +0100\r\n"
    b"Message-ID: <lunch-1@example.org>\r\n"
    b"References: <older@example.org>\r\n"
    b"\r\n"
    b"Shall we meet at noon?\r\n"
    b"\r\n"
    b"Jane\r\n"
)

NESTED = (
    b"From: news@example.org\r\n"
    b"To: me@pinesh.test\r\n"
    b"Subject: =?utf-8?q?R=C3=A9sum=C3=A9?=\r\n"
    b"Message-ID: <nested@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"--outer\r\n"
    b'Content-Type: multipart/alternative; boundary="inner"\r\n'
    b"\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>Hello <b>HTML</b></p>\r\n"
    b"--inner\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Caf=E9 plain text\r\n"
    b"--inner--\r\n"
    b"--outer\r\n"
    b"Content-Type: application/pdf\r\n"
    b'Content-Disposition: attachment; filename="../../etc/report.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"JVBERi0xLjQK\r\n"
    b"--outer--\r\n"
)

HTML_ONLY = (
    b"From: shop@example.org\r\n"
    b"Subject: Offer\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<html><head><style>p {color: red}</style></head>"
    b"<body><p>Buy <i>now</i></p><script>evil()</script></body></html>\r\n"
)

BROKEN_CHARSET = (
    b"From: x@example.org\r\n"
    b"Subject: =?no-such-charset?q?bad?=\r\n"
    b"Content-Type: text/plain; charset=no-such-charset\r\n"
    b"\r\n"
    b"caf\xe9 \xff\xfe text\r\n"
)

ARTICLE = (
    b"From: Poster <poster@example.org>\r\n"
    b"Newsgroups: comp.lang.python, local.test\r\n"
    b"Subject: Re: Which editor?\r\n"
    b"Date: Wed, 06 Mar 2024 09:00:00 +0000\r\n"
    b"Message-ID: <art-2@example.org>\r\n"
    b"References: <art-1@example.org>\r\n"
    b"\r\n"
    b"Pico, of course.\r\n"
)


def session(tmp: Path, extra: str = "") -> MailSession:
    signature = tmp / "sig"
    signature.write_text("Me\nhttps://pinesh.test\n")
    rc = parse_pinerc(
        f"user-domain=pinesh.test\npersonal-name=Me Myself\nsignature-file={signature}\n{extra}",
        str(tmp / "pinerc"),
    )
    return MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp / "data")


@pytest.fixture
def me(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MailSession:
    monkeypatch.setenv("USER", "me")
    monkeypatch.setattr("getpass.getuser", lambda: "me")
    return session(tmp_path)


WithRc = Callable[[str], MailSession]


@pytest.fixture
def with_rc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WithRc:
    """A session whose pinerc has these lines too."""
    monkeypatch.setenv("USER", "me")
    return lambda extra: session(tmp_path, extra)


def parsed(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_reply_to_the_sender(me: MailSession) -> None:
    draft = reply_request(me, SIMPLE, to_all=False).draft
    assert draft.sender == Address("Me Myself", "me@pinesh.test")
    assert draft.to == (Address("Jane Doe", "jane@example.org"),)
    assert draft.cc == ()
    assert draft.subject == "Re: Lunch on Friday?"
    assert draft.in_reply_to == "<lunch-1@example.org>"
    assert draft.references == ("<older@example.org>", "<lunch-1@example.org>")
    assert draft.body == (  # the signature above the quoted text, as Pine puts it
        "\n\nMe\nhttps://pinesh.test\n\n"
        "On Tue, 5 Mar 2024, Jane Doe wrote:\n\n"
        "> Shall we meet at noon?\n>\n> Jane\n\n"
    )


def test_signature_at_bottom_puts_it_after_the_quoted_text(with_rc: WithRc) -> None:
    mine = with_rc("feature-list=signature-at-bottom\n")
    assert reply_request(mine, SIMPLE, to_all=False).draft.body == (
        "On Tue, 5 Mar 2024, Jane Doe wrote:\n\n"
        "> Shall we meet at noon?\n>\n> Jane\n\n"
        "Me\nhttps://pinesh.test\n"
    )


def test_a_literal_signature_wins_over_the_file_with_its_escapes_read(with_rc: WithRc) -> None:
    mine = with_rc('literal-signature="Jane\\nSays \\"hi\\"\\tthere"\n')
    assert new_request(mine).draft.body == '\n\nJane\nSays "hi"\tthere\n'


def test_the_pinercs_reply_leadin_and_indent_string_shape_the_quote(with_rc: WithRc) -> None:
    mine = with_rc(
        "feature-list=signature-at-bottom\n"
        'reply-indent-string="| "\n'
        "reply-leadin=_FROM_ <_FROMADDRESS_> wrote on _DAYDATE_ at _TIME24_ (_UNKNOWN_):\n",
    )
    draft = reply_request(mine, SIMPLE, to_all=False).draft
    assert draft.body.startswith(
        "Jane Doe <jane@example.org> wrote on Tue, 5 Mar 2024 at 10:15 (_UNKNOWN_):\n\n"
        "| Shall we meet at noon?\n|\n| Jane\n\n"
    )


def test_include_header_in_reply_quotes_the_originals_headers(with_rc: WithRc) -> None:
    mine = with_rc("feature-list=include-header-in-reply, signature-at-bottom\n")
    body = reply_request(mine, SIMPLE, to_all=False).draft.body
    assert body.startswith("On Tue, 5 Mar 2024, Jane Doe wrote:\n\n> Date: Tue, 05 Mar 2024")
    assert "\n> From: Jane Doe <jane@example.org>\n" in body
    assert "\n> Subject: Lunch on Friday?\n>\n> Shall we meet at noon?\n" in body


def test_a_reply_leadin_of_default_is_pines_own(with_rc: WithRc) -> None:
    draft = reply_request(with_rc("reply-leadin=default\n"), SIMPLE, to_all=False).draft
    assert "\nOn Tue, 5 Mar 2024, Jane Doe wrote:\n\n> Shall" in draft.body


def test_reply_to_all_leaves_out_me_and_duplicates(me: MailSession) -> None:
    draft = reply_request(me, SIMPLE, to_all=True).draft
    assert draft.to == (Address("Jane Doe", "jane@example.org"),)
    assert [a.email for a in draft.cc] == ["bob@example.org", "carol@example.net"]


def test_reply_to_and_subject_prefix_once(me: MailSession) -> None:
    raw = SIMPLE.replace(b"Subject: Lunch on Friday?", b"Subject: RE: Lunch").replace(
        b"\r\n\r\n", b"\r\nReply-To: list@example.org\r\n\r\n", 1
    )
    draft = reply_request(me, raw, to_all=False).draft
    assert draft.to == (Address("", "list@example.org"),)
    assert draft.subject == "RE: Lunch"


def test_reply_to_my_own_message_goes_to_its_recipients(me: MailSession) -> None:
    raw = SIMPLE.replace(b"From: Jane Doe <jane@example.org>", b"From: me@pinesh.test")
    draft = reply_request(me, raw, to_all=False).draft
    assert [a.email for a in draft.to] == ["ME@pinesh.test", "bob@example.org"]


def test_references_are_bounded(me: MailSession) -> None:
    refs = b" ".join(b"<r%d@example.org>" % i for i in range(40))
    raw = SIMPLE.replace(b"References: <older@example.org>", b"References: " + refs)
    draft = reply_request(me, raw, to_all=False).draft
    assert len(draft.references) == 20
    assert draft.references[0] == "<r0@example.org>"
    assert draft.references[-1] == "<lunch-1@example.org>"


def test_no_message_id_and_no_date(me: MailSession) -> None:
    raw = b"From: x@example.org\r\nSubject: hi\r\n\r\nbody\r\n"
    draft = reply_request(me, raw, to_all=False).draft
    assert draft.in_reply_to is None and draft.references == ()
    assert "\nx@example.org wrote:\n\n> body\n" in draft.body


def test_hostile_headers_and_body_are_made_inert(me: MailSession) -> None:
    raw = (CORPUS / "escape-sequences.eml").read_bytes()
    for request in (
        reply_request(me, raw, to_all=True),
        forward_request(me, raw, as_attachment=False),
    ):
        draft = request.draft
        texts = [draft.subject, draft.body] + [a.name + a.email for a in draft.to + draft.cc]
        assert not any("\x1b" in t or "\x07" in t or "\x9b" in t for t in texts)
        assert "\\x1b[2J" in draft.subject
        # Whatever came in, the draft is one compose() accepts.
        compose(draft if draft.to else draft.__class__(**{**draft.__dict__, "to": (draft.sender,)}),
                domain="pinesh.test")  # fmt: skip


def test_broken_charset_decodes_with_replacement(me: MailSession) -> None:
    draft = reply_request(me, BROKEN_CHARSET, to_all=False).draft
    assert "> caf\ufffd \ufffd\ufffd text\n" in draft.body
    assert draft.subject.startswith("Re: ")


def test_nested_multipart_quotes_the_plain_text(me: MailSession) -> None:
    draft = reply_request(me, NESTED, to_all=False).draft
    assert draft.subject == "Re: Résumé"
    assert "> Café plain text" in draft.body
    assert "<p>" not in draft.body


def test_html_only_is_quoted_as_text(me: MailSession) -> None:
    draft = reply_request(me, HTML_ONLY, to_all=False).draft
    assert "> Buy now" in draft.body
    assert "evil" not in draft.body and "color" not in draft.body


def test_forward_inline_carries_text_and_attachments(me: MailSession) -> None:
    draft = forward_request(me, NESTED, as_attachment=False).draft
    assert draft.subject == "Fwd: Résumé"
    assert draft.to == ()
    block = draft.body[draft.body.index(FORWARD_MARK) :]
    assert "From: news@example.org\nTo: me@pinesh.test\nSubject: Résumé\n\nCafé plain text" in block
    assert draft.body.index("Me\nhttps") < draft.body.index(FORWARD_MARK)
    (pdf,) = draft.attachments
    assert pdf.filename == "etc_report.pdf"  # no directory part from the sender
    assert pdf.data == b"%PDF-1.4\n" and pdf.content_type == "application/pdf"
    again = forward_request(me, SIMPLE.replace(b"Lunch", b"Fwd: Lunch"), as_attachment=False)
    assert again.draft.subject == "Fwd: Lunch on Friday?"


def test_forward_as_attachment_keeps_the_raw_message(me: MailSession) -> None:
    draft = forward_request(me, SIMPLE, as_attachment=True).draft
    (attached,) = draft.attachments
    assert attached.content_type == "message/rfc822"
    assert attached.data == SIMPLE
    assert attached.filename == "Lunch-on-Friday.eml"
    to = (Address("", "friend@example.net"),)
    wire = compose(draft.__class__(**{**draft.__dict__, "to": to}), domain="pinesh.test").wire
    part = next(parsed(wire).iter_attachments())
    assert part.get_content_type() == "message/rfc822"
    assert b"Shall we meet at noon?" in _attached_bytes(part)


def _attached_bytes(part: EmailMessage) -> bytes:
    """The forwarded message inside part, whichever transfer encoding compose chose."""
    import base64

    inner = part.get_payload(0)
    assert isinstance(inner, email.message.Message)
    if str(part.get("Content-Transfer-Encoding", "")).lower() == "base64":
        return base64.b64decode(inner.as_bytes().strip())
    return inner.as_bytes()


def test_followup_to_the_newsgroups(me: MailSession) -> None:
    request = followup_request(me, ARTICLE)
    assert request.newsgroups == ("comp.lang.python", "local.test")
    assert request.draft.to == ()
    assert request.draft.subject == "Re: Which editor?"
    assert request.draft.references == ("<art-1@example.org>", "<art-2@example.org>")
    assert "> Pico, of course." in request.draft.body


def test_followup_to_header_and_poster(me: MailSession) -> None:
    raw = ARTICLE.replace(b"\r\n\r\n", b"\r\nFollowup-To: local.test, bad group!\r\n\r\n", 1)
    assert followup_request(me, raw).newsgroups == ("local.test",)
    poster = ARTICLE.replace(b"\r\n\r\n", b"\r\nFollowup-To: poster\r\n\r\n", 1)
    request = followup_request(me, poster)
    assert request.newsgroups == ()
    assert request.draft.to == (Address("Poster", "poster@example.org"),)
    with pytest.raises(PineshError, match="no newsgroup"):
        followup_request(me, SIMPLE)


def test_new_and_post_requests(me: MailSession) -> None:
    request = new_request(me)
    assert request.draft.body == "\n\nMe\nhttps://pinesh.test\n"
    assert request.draft.sender == user_address(me)
    assert post_request(me, ("local.test", "local.test")).newsgroups == ("local.test",)
    with pytest.raises(PineshError, match="newsgroup name"):
        post_request(me, ("bad group",))


def test_customized_headers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "me")
    custom = session(
        tmp_path,
        "customized-hdrs=From: Boss <boss@pinesh.test>, X-Face: abc, Organization:\n",
    )
    draft = reply_request(custom, SIMPLE, to_all=True).draft
    assert draft.sender == Address("Boss", "boss@pinesh.test")
    assert draft.extra_headers == (("X-Face", "abc"),)
    assert "me@pinesh.test" not in [a.email.lower() for a in draft.cc]
    broken = session(tmp_path, "customized-hdrs=no colon here\n")
    with pytest.raises(PineshError, match="customized-hdrs"):
        new_request(broken)


def test_no_signature_file(tmp_path: Path) -> None:
    rc = parse_pinerc(f"signature-file={tmp_path / 'missing'}\n", str(tmp_path / "pinerc"))
    plain = MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp_path)
    assert new_request(plain).draft.body == ""
    assert "-- " not in reply_request(plain, SIMPLE, to_all=False).draft.body


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.eml")), ids=lambda p: p.name)
def test_every_hostile_message_gives_a_request_or_a_pinesh_error(
    me: MailSession, path: Path
) -> None:
    raw = path.read_bytes()
    builds: list[Callable[[], ComposeRequest]] = [
        lambda: reply_request(me, raw, to_all=True),
        lambda: forward_request(me, raw, as_attachment=False),
        lambda: forward_request(me, raw, as_attachment=True),
        lambda: followup_request(me, raw),
    ]
    for build in builds:
        try:
            request = build()
        except PineshError:
            continue
        draft = request.draft
        assert "\x1b" not in draft.subject + draft.body
        assert len(draft.subject) < 1100  # a megabyte subject is cut
        to = draft.to or (draft.sender,)
        compose(draft.__class__(**{**draft.__dict__, "to": to}), domain="pinesh.test")


# --- the composer's end: typed fields to a request, and what a delivery says -----------


def test_typed_fields_become_a_request(me: MailSession) -> None:
    book = parse_addressbook("jane\tDoe, Jane\tjane@example.org\n", Path("/ab"))
    base = new_request(me)
    typed = TypedFields(
        to="jane, x@example.org",
        bcc="b@example.org",
        fcc=" saved ",
        subject="Hi\nthere",
        newsgroups="local.test, comp.x local.test",
    )
    request = request_from_fields(base, typed, book, strict=True)
    assert request.draft.to == (
        Address("Jane Doe", "jane@example.org"),
        Address("", "x@example.org"),
    )
    assert request.draft.bcc == (Address("", "b@example.org"),)
    assert request.draft.subject == "Hi there"
    assert request.newsgroups == ("local.test", "comp.x")
    assert request.fcc == "saved"
    assert request.draft.sender == base.draft.sender


def test_sending_refuses_what_cannot_go(me: MailSession) -> None:
    book = parse_addressbook("", Path("/home/me/.addressbook"))
    base = new_request(me)
    cases = [
        (TypedFields(to="nobody"), "'nobody' is not a nickname in /home/me/.addressbook"),
        (TypedFields(cc="jane@"), "Cc:"),
        (TypedFields(), "no recipients"),
        (TypedFields(newsgroups="bad!group"), "not a newsgroup name"),
        (
            TypedFields(newsgroups="local.test", attachments=(OutgoingAttachment("a", b"x"),)),
            "text articles only",
        ),
    ]
    for typed, message in cases:
        with pytest.raises(ComposeError, match=re.escape(message)):
            request_from_fields(base, typed, book, strict=True)
    # Postponing keeps whatever was typed.
    kept = request_from_fields(base, TypedFields(to="nobody, jane@"), book, strict=False)
    assert kept.draft.to == (Address("", "nobody"), Address("", "jane@"))


def test_delivery_summaries(me: MailSession) -> None:
    composed = compose(
        Draft(sender=user_address(me), to=(Address("", "a@example.org"),)), domain="pinesh.test"
    )
    sent = Attempt("k", sent=Sent(("a@example.org",), "250 ok", "sendmail"))
    kept = Attempt("k", error=SendError("connection refused", stage=Stage.CONNECT))
    assert Delivery(SendOutcome(composed, sent, "sent-mail")).summary() == (
        "Message sent and copied to sent-mail"
    )
    assert Delivery(SendOutcome(composed, sent)).summary() == "Message sent"
    assert Delivery(SendOutcome(composed, sent, "x", "disk full")).summary() == (
        "Message sent, but not copied to x: disk full"
    )
    assert Delivery(SendOutcome(composed, kept)).summary() == (
        "Not sent: connection refused; kept in the outbox (pinesh outbox flush)"
    )
    assert not Delivery(SendOutcome(composed, kept)).sent
    assert Delivery(posted=("local.test",)).summary() == "Posted to local.test"


# A hostile message (found by fuzzing): its multipart's boundary comes from a broken
# RFC 2231 parameter, so the stdlib cannot write the parsed message back.
BROKEN = (
    b"From: a@example.org\r\nSubject: att\r\n"
    b"Content-Type: multipart/mixed; filename*0*=boundary=q\r\n\r\n--q\r\n"
    b"C\xe5ntent-Type\r\n: applicationpdf;/pdf; name*=x,-bogus''%FF%FE.pd<\r\n"
    b"Content-Disp@exosition: attachment; filename*0*=utf-8''%E2%82; filename*1*=%AC.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBE\n--q--\r\n"
)


def crlf(data: bytes) -> bytes:
    return re.sub(rb"\r\n|\r|\n", b"\r\n", data)


def test_forwarding_a_broken_message_as_an_attachment_can_be_sent(home: Path) -> None:
    # Was: compose() raised UnicodeEncodeError writing the parsed message back, so the
    # forward could be neither sent nor postponed.
    request = forward_request(session(home), BROKEN, as_attachment=True)
    composed = compose(replace(request.draft, to=(ME,)), domain="pinesh.test")
    assert crlf(BROKEN) in composed.wire
    assert postponed_bytes(request, domain="pinesh.test")


REPLIED = (
    b"From: Jane <jane@example.org>\r\nTo: me@work.example, bob@example.org\r\n"
    b"Cc: Me <ME@home.example>\r\nSubject: Plans\r\nMessage-ID: <child@example.org>\r\n"
    b"In-Reply-To: <parent@example.org>\r\n\r\nhello\r\n"
)


def test_reply_to_all_leaves_out_the_alt_addresses(home: Path) -> None:
    # Was: the pinerc's alt-addresses were put in Cc (Pine leaves them out).
    me = session(home, "alt-addresses=me@work.example, me@home.example\n")
    draft = reply_request(me, REPLIED, to_all=True).draft
    assert [a.email for a in draft.to] == ["jane@example.org"]
    assert [a.email for a in draft.cc] == ["bob@example.org"]


def test_references_start_from_in_reply_to_when_there_are_none(home: Path) -> None:
    # RFC 5322 3.6.4: no References in the parent, one id in its In-Reply-To: use that.
    draft = reply_request(session(home), REPLIED, to_all=False).draft
    assert draft.references == ("<parent@example.org>", "<child@example.org>")


HOSTILE_CHARSETS = (
    b"From: =?punycode?q?" + b"a" * 30_000 + b"-b?= <jane@example.org>\r\n"
    b"To: me@pinesh.test\r\n"
    b"Subject: =?raw-unicode-escape?q?\\u001b[2J?=\r\n"
    b"Message-ID: <charsets@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n'
    b"\r\n"
    b"--b\r\n"
    b"Content-Type: text/plain; charset*=punycode''" + b"a" * 30_000 + b"-b\r\n"
    b"\r\n"
    b"Plain \\u001b[31m text\r\n"
    b"--b\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Disposition: attachment; filename*=punycode''" + b"c" * 30_000 + b"-d\r\n"
    b"\r\n"
    b"data\r\n"
    b"--b--\r\n"
)


def test_refused_charsets_in_a_forwarded_message_are_never_run(
    me: MailSession, punycode_runs: list[int]
) -> None:
    draft = forward_request(me, HOSTILE_CHARSETS, as_attachment=False).draft
    assert "Plain \\u001b[31m text" in draft.body
    assert "\x1b" not in draft.body + draft.subject
    assert [len(a.data) for a in draft.attachments] == [4]
    reply = reply_request(me, HOSTILE_CHARSETS, to_all=False).draft
    assert "> Plain \\u001b[31m text" in reply.body
    assert punycode_runs == []


def test_enable_sigdashes_puts_the_dashes_line_above_the_signature(with_rc: WithRc) -> None:
    body = new_request(with_rc("feature-list=enable-sigdashes\n")).draft.body
    assert body == "\n\n-- \nMe\nhttps://pinesh.test\n"
