"""Composing messages: headers, encodings, Bcc kept off the wire, threading, bad drafts."""

from __future__ import annotations

import email
import mailbox
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, MIMEPart

import pytest

from pinesh.senders.base import ComposeError
from pinesh.senders.compose import (
    Draft,
    OutgoingAttachment,
    body_encoding,
    compose,
    parse_custom_header,
    reply_threading,
    to_seven_bit,
)
from pinesh.stores.base import Address

NOW = datetime(2024, 3, 1, 12, 30, 0, tzinfo=UTC)
ME = Address("Me Myself", "me@pinesh.test")
JANE = Address("Jane Doe", "jane@pinesh.test")


def draft(**fields: object) -> Draft:
    values: dict[str, object] = {
        "sender": JANE,
        "to": (Address("", "friend@elsewhere.example"),),
        "subject": "Hello",
        "body": "Hi there.\n",
    }
    values.update(fields)
    return Draft(**values)  # type: ignore[arg-type]


def parsed(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def text_of(part: MIMEPart) -> str:
    """A text part's content with the wire's CRLF line ends made LF."""
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def header_lines(data: bytes) -> list[bytes]:
    return data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def test_basic_message_has_the_rfc5322_fields() -> None:
    out = compose(draft(), domain="pinesh.test", now=NOW)
    msg = parsed(out.wire)
    assert msg["From"] == "Jane Doe <jane@pinesh.test>"
    assert msg["To"] == "friend@elsewhere.example"
    assert msg["Subject"] == "Hello"
    assert msg["Date"] == "Fri, 01 Mar 2024 12:30:00 +0000"
    assert msg["Message-ID"] == out.message_id
    assert out.message_id.startswith("<") and out.message_id.endswith("@pinesh.test>")
    assert msg["MIME-Version"] == "1.0"
    assert msg.get_content_type() == "text/plain"
    assert msg["Content-Transfer-Encoding"] == "7bit"
    assert text_of(msg) == "Hi there.\n"
    assert b"\r\n" in out.wire and b"\n" not in out.wire.replace(b"\r\n", b"")
    assert out.envelope.sender == "jane@pinesh.test"
    assert out.envelope.recipients == ("friend@elsewhere.example",)


def test_each_message_gets_its_own_id() -> None:
    first = compose(draft(), domain="pinesh.test")
    second = compose(draft(), domain="pinesh.test")
    assert first.message_id != second.message_id
    assert parsed(first.wire)["Date"]  # the clock's date when none is given


def test_bcc_is_never_on_the_wire_but_gets_the_message() -> None:
    out = compose(
        draft(
            cc=(Address("Carl", "carl@elsewhere.example"),),
            bcc=(Address("Secret", "hidden@elsewhere.example"),),
        ),
        domain="pinesh.test",
        now=NOW,
    )
    assert b"hidden" not in out.wire and b"Bcc" not in out.wire and b"bcc" not in out.wire
    assert out.envelope.recipients == (
        "friend@elsewhere.example",
        "carl@elsewhere.example",
        "hidden@elsewhere.example",
    )
    fcc = parsed(out.fcc)
    assert fcc["Bcc"] == "Secret <hidden@elsewhere.example>"  # the Fcc copy keeps it
    assert fcc["Message-ID"] == out.message_id


def test_recipients_are_listed_once() -> None:
    out = compose(
        draft(
            to=(Address("", "a@example.org"), Address("", "b@Example.ORG")),
            cc=(Address("A again", "a@EXAMPLE.org"),),
            bcc=(Address("", "b@example.org"),),
        ),
        domain="pinesh.test",
    )
    assert out.envelope.recipients == ("a@example.org", "b@Example.ORG")  # first spelling


def test_non_ascii_subject_and_names_become_encoded_words() -> None:
    out = compose(
        draft(
            sender=Address("Jöhn Dœ", "john@pinesh.test"),
            subject="Grüße aus Köln — schöne " + "lange " * 20,
        ),
        domain="pinesh.test",
    )
    assert out.wire.isascii()
    headers = b"\r\n".join(header_lines(out.wire))
    assert b"=?utf-8?" in headers
    assert all(len(line) <= 78 for line in header_lines(out.wire))
    msg = parsed(out.wire)
    assert msg["Subject"] == "Grüße aus Köln — schöne " + "lange " * 20
    assert msg["From"].addresses[0].display_name == "Jöhn Dœ"


def test_utf8_body_is_8bit_when_allowed_else_quoted_printable() -> None:
    text = "Grüße,\nJörg\n"
    eight = compose(draft(body=text), domain="pinesh.test")
    msg = parsed(eight.wire)
    assert msg["Content-Transfer-Encoding"] == "8bit"
    assert msg.get_content_charset() == "utf-8"
    assert "Grüße".encode() in eight.wire
    assert text_of(msg) == text
    seven = compose(draft(body=text), domain="pinesh.test", eight_bit=False)
    assert seven.wire.isascii()
    msg = parsed(seven.wire)
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert text_of(msg) == text


@pytest.mark.parametrize(
    ("text", "eight_bit", "expected"),
    [
        ("plain\n", True, "7bit"),
        ("Grüße\n", True, "8bit"),
        ("Grüße\n", False, "quoted-printable"),
        ("x" * 999 + "\n", True, "quoted-printable"),  # over RFC 5322's line limit
        ("x" * 998 + "\n", True, "7bit"),
        ("nul \0 byte\n", True, "quoted-printable"),
        ("bare \r cr\n", True, "quoted-printable"),
        ("crlf\r\nline\r\n", True, "7bit"),
    ],
)
def test_body_encoding_choice(text: str, eight_bit: bool, expected: str) -> None:
    assert body_encoding(text, eight_bit=eight_bit) == expected


def test_long_line_body_survives_quoted_printable() -> None:
    body = "word " * 300 + "\n"
    out = compose(draft(body=body), domain="pinesh.test")
    assert all(len(line) <= 998 for line in out.wire.split(b"\r\n"))
    assert text_of(parsed(out.wire)) == body


def test_attachments_with_guessed_types_and_rfc2231_names() -> None:
    out = compose(
        draft(
            attachments=(
                OutgoingAttachment("résumé très long ééé.pdf", b"%PDF-1.4\n\x00\xff"),
                OutgoingAttachment("notes.txt", b"plain notes\n"),
                OutgoingAttachment("blob", b"\x00\x01", content_type="application/x-thing"),
            )
        ),
        domain="pinesh.test",
    )
    assert out.wire.isascii()
    assert b"filename*" in out.wire and b"utf-8''r%C3%A9sum%C3%A9" in out.wire
    msg = parsed(out.wire)
    assert msg.get_content_type() == "multipart/mixed"
    body, *files = list(msg.iter_parts())
    assert text_of(body) == "Hi there.\n"
    assert [(f.get_filename(), f.get_content_type()) for f in files] == [
        ("résumé très long ééé.pdf", "application/pdf"),
        ("notes.txt", "text/plain"),
        ("blob", "application/x-thing"),
    ]
    assert files[0].get_content() == b"%PDF-1.4\n\x00\xff"
    assert all(part["MIME-Version"] is None for part in msg.iter_parts())


def test_a_forwarded_message_goes_as_it_is_never_base64() -> None:
    original = (
        b"From: Ann <ann@example.org>\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n"
        b"X-Long: a header line that is long enough that a refolding policy might fold it"
        b" somewhere\r\n\r\nThe original text.\r\n"
    )
    out = compose(
        draft(attachments=(OutgoingAttachment("Fwd.eml", original, "message/rfc822"),)),
        domain="pinesh.test",
    )
    msg = parsed(out.wire)
    _body, attached = list(msg.iter_parts())
    assert attached.get_content_type() == "message/rfc822"
    assert attached["Content-Transfer-Encoding"] == "7bit"  # RFC 2046 5.2.1: no base64
    assert b"base64" not in out.wire
    # The inner message's lines arrive unchanged (no refolding, no re-encoding).
    for line in original.split(b"\r\n\r\n")[0].split(b"\r\n"):
        assert line in out.wire
    assert b"The original text." in out.wire


def test_reply_threading_headers() -> None:
    parent_refs = ("<a@x>", "<b@x>", "bad id", "<c@x>\r\nBcc: z@q")
    in_reply_to, references = reply_threading("<p@x>", parent_refs)
    assert in_reply_to == "<p@x>"
    assert references == ("<a@x>", "<b@x>", "<p@x>")  # malformed ids from a server dropped
    out = compose(
        draft(in_reply_to=in_reply_to, references=references, subject="Re: Hello"),
        domain="pinesh.test",
    )
    msg = parsed(out.wire)
    assert msg["In-Reply-To"] == "<p@x>"
    assert msg["References"] == "<a@x> <b@x> <p@x>"


def test_references_keep_the_first_and_the_latest() -> None:
    refs = tuple(f"<{i}@x>" for i in range(30))
    _, references = reply_threading("<new@x>", refs)
    assert len(references) == 20
    assert references[0] == "<0@x>" and references[-1] == "<new@x>"
    assert references[-2] == "<29@x>"
    assert reply_threading("garbage", ()) == (None, ())


def test_customized_headers() -> None:
    assert parse_custom_header("X-Face: abc") == ("X-Face", "abc")
    assert parse_custom_header("Organization:") is None  # empty: nothing to send
    with pytest.raises(ComposeError, match="customized-hdrs"):
        parse_custom_header("no colon here")
    with pytest.raises(ComposeError, match="customized-hdrs"):
        parse_custom_header("Bad Name: x")
    out = compose(
        draft(extra_headers=(("Organization", "Käse AG"), ("X-Face", "abc"))),
        domain="pinesh.test",
    )
    msg = parsed(out.wire)
    assert msg["Organization"] == "Käse AG" and msg["X-Face"] == "abc"
    assert out.wire.isascii()


def test_an_empty_customized_header_is_left_out() -> None:
    # A name longer than a line with an empty value made the email package's folding
    # raise IndexError; an empty header is not sent, as parse_custom_header says.
    long_name = "X-" + "a" * 100
    out = compose(draft(extra_headers=((long_name, ""), ("X-Empty", ""))), domain="pinesh.test")
    msg = parsed(out.wire)
    assert msg[long_name] is None and msg["X-Empty"] is None


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"extra_headers": (("Bcc", "x@y.z"),)}, "set by the composer"),
        ({"extra_headers": (("X-Pinesh-Outbox", "{}"),)}, "set by the composer"),
        ({"extra_headers": (("X-Evil", "a\r\nBcc: x@y.z"),)}, "control characters"),
        ({"subject": "hi\x1b[2J"}, "Subject"),
        ({"subject": "hi\x9b2J"}, "Subject"),  # C1 CSI: an escape sequence in one character
        ({"to": (Address("Ev\x9b2Jil", "eve@pinesh.test"),)}, "control"),
        ({"to": (Address("", "not-an-address"),)}, "To"),
        ({"to": (Address("", "a@b\nc"),)}, "control"),
        ({"sender": Address("Evil\r\nBcc: x", "jane@pinesh.test")}, "From"),
        ({"in_reply_to": "<x@y>\r\nBcc: z@q"}, "In-Reply-To"),
        ({"attachments": (OutgoingAttachment("../etc/passwd", b""),)}, "file name"),
        (
            {"attachments": (OutgoingAttachment("a.bin", b"", content_type="nonsense"),)},
            "MIME type",
        ),
    ],
)
def test_bad_drafts_are_clear_errors(fields: dict[str, object], match: str) -> None:
    with pytest.raises(ComposeError, match=match):
        compose(draft(**fields), domain="pinesh.test")


def test_a_wrong_user_domain_is_named() -> None:
    with pytest.raises(ComposeError, match="user-domain"):
        compose(draft(), domain="not a domain")


def test_subject_line_breaks_become_spaces() -> None:
    out = compose(draft(subject="one\ntwo"), domain="pinesh.test")
    assert parsed(out.wire)["Subject"] == "one two"


def test_internationalized_domains_become_idna_and_local_parts_need_utf8() -> None:
    out = compose(draft(to=(Address("Zoë", "zoe@exämple.org"),)), domain="pinesh.test")
    assert out.envelope.recipients == ("zoe@xn--exmple-cua.org",)
    assert out.wire.isascii()
    utf8 = compose(draft(to=(Address("", "zoë@example.org"),)), domain="pinesh.test")
    assert "zoë@example.org".encode() in utf8.wire  # SMTPUTF8: raw UTF-8 in the headers
    assert utf8.envelope.recipients == ("zoë@example.org",)


def test_seven_bit_downgrade_keeps_the_content() -> None:
    out = compose(draft(body="Grüße\n.dot\n"), domain="pinesh.test")
    seven = to_seven_bit(out.wire)
    assert seven.isascii()
    assert text_of(parsed(seven)) == "Grüße\n.dot\n"


def test_message_is_readable_by_a_maildir_reader(tmp_path: object) -> None:
    # The fcc bytes are what a Maildir/IMAP append would store: check they parse back whole.
    out = compose(draft(bcc=(Address("", "h@x.org"),)), domain="pinesh.test")
    msg = mailbox.MaildirMessage(out.fcc)
    assert msg["Bcc"] == "h@x.org" and msg["Message-ID"] == out.message_id


def test_an_attached_message_goes_byte_for_byte() -> None:
    # Was: parsed and written back, a form feed in a header became a line break.
    inner = b"From: a@example.org\r\nSubject: one\x0ctwo\r\n\r\nbody\r\n"
    draft = Draft(
        sender=ME, to=(ME,), attachments=(OutgoingAttachment("f.eml", inner, "message/rfc822"),)
    )
    wire = compose(draft, domain="pinesh.test").wire
    assert inner in wire
    assert b"Subject: one\r\ntwo" not in wire
    assert b'Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename="f.eml"' in (
        wire
    )


def test_seven_bit_downgrade_leaves_a_message_naming_a_refused_codec(
    punycode_runs: list[int],
) -> None:
    wire = (
        b"From: me@pinesh.test\r\nTo: a@example.org\r\nMIME-Version: 1.0\r\n"
        b"Subject: =?punycode?q?" + b"a" * 30_000 + b"-b?=\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"Gr\xc3\xbc\xc3\x9fe\r\n"
    )
    assert to_seven_bit(wire) == wire
    assert punycode_runs == []
