"""The pure reply parsers of STARTTLS: imap_tagged_result, smtp_reply_done, smtp_has_starttls,
reply_code, starttls_answer; the EHLO address literal; and refuse_buffered on a socketpair."""

from __future__ import annotations

import socket

import pytest

from pinesh.transport.service import Service
from pinesh.transport.starttls import (
    Answer,
    StartTlsError,
    ehlo_literal,
    imap_tagged_result,
    refuse_buffered,
    reply_code,
    smtp_has_starttls,
    smtp_reply_done,
    starttls_answer,
)

TAG = b"p1"

# --- imap_tagged_result --------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        b"p1 OK Begin TLS negotiation now.\r\n",  # Dovecot
        b"p1 OK [CAPABILITY IMAP4rev1] go\r\n",
        b"p1 ok begin\r\n",  # status is case-insensitive
        b"p1 Ok begin\r\n",
    ],
)
def test_tagged_ok_is_true(line: bytes) -> None:
    assert imap_tagged_result(line, TAG) is True


@pytest.mark.parametrize(
    "line",
    [
        b"p1 NO STARTTLS not available\r\n",
        b"p1 BAD Unknown command\r\n",
        b"p1 no nope\r\n",
        b"p1 BYE going away\r\n",
        b"p1 OKAY but not really\r\n",  # the status word must be exactly OK
        b"p1  OK double space\r\n",
    ],
)
def test_tagged_refusal_is_false(line: bytes) -> None:
    assert imap_tagged_result(line, TAG) is False


@pytest.mark.parametrize(
    "line",
    [
        b"* OK still here\r\n",  # untagged
        b"* CAPABILITY IMAP4rev1 STARTTLS\r\n",
        b"+ go ahead\r\n",
        b"p10 OK another tag\r\n",  # a longer tag that starts with ours
        b"xp1 OK not ours\r\n",
        b"P1 OK tags are compared exactly\r\n",
        b"p1OK no space\r\n",
        b"\r\n",
        b"",
    ],
)
def test_other_lines_are_none(line: bytes) -> None:
    assert imap_tagged_result(line, TAG) is None


def test_tag_is_taken_from_the_argument() -> None:
    assert imap_tagged_result(b"a001 OK go\r\n", b"a001") is True
    assert imap_tagged_result(b"a001 OK go\r\n", TAG) is None


def test_tagged_ok_without_text_is_true() -> None:
    assert imap_tagged_result(b"p1 OK\r\n", TAG) is True


# --- smtp_reply_done -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "done"),
    [
        (b"250-mail.example.org\r\n", False),
        (b"250-PIPELINING\r\n", False),
        (b"250-STARTTLS\r\n", False),
        (b"250 SMTPUTF8\r\n", True),
        (b"250 2.0.0 Ready to start TLS\r\n", True),
        (b"220 2.0.0 Ready to start TLS\r\n", True),
        (b"454-4.7.0 TLS not available\r\n", False),
        (b"454 4.7.0 TLS not available\r\n", True),
        (b"250\r\n", True),  # bare code
        (b"25\r\n", True),  # too short to continue
        (b"", True),
    ],
)
def test_smtp_reply_done(line: bytes, done: bool) -> None:
    assert smtp_reply_done(line) is done


# --- smtp_has_starttls ---------------------------------------------------------------------

POSTFIX_EHLO = [
    b"250-mail.example.org\r\n",
    b"250-PIPELINING\r\n",
    b"250-SIZE 10240000\r\n",
    b"250-VRFY\r\n",
    b"250-ETRN\r\n",
    b"250-STARTTLS\r\n",
    b"250-ENHANCEDSTATUSCODES\r\n",
    b"250-8BITMIME\r\n",
    b"250-DSN\r\n",
    b"250-SMTPUTF8\r\n",
    b"250 CHUNKING\r\n",
]


def test_postfix_ehlo_offers_starttls() -> None:
    assert smtp_has_starttls(POSTFIX_EHLO) is True


def test_ehlo_without_starttls() -> None:
    assert smtp_has_starttls([line for line in POSTFIX_EHLO if b"STARTTLS" not in line]) is False


@pytest.mark.parametrize(
    "lines",
    [
        [b"250-mail.example.org\r\n", b"250 STARTTLS\r\n"],  # last line
        [b"250-mail.example.org\r\n", b"250-starttls\r\n", b"250 DSN\r\n"],  # any case
        [b"250-mail.example.org\r\n", b"250-STARTTLS  \r\n", b"250 DSN\r\n"],  # spaces
    ],
)
def test_starttls_is_found(lines: list[bytes]) -> None:
    assert smtp_has_starttls(lines) is True


@pytest.mark.parametrize(
    "lines",
    [
        [],
        [b"250 mail.example.org\r\n"],
        [b"250-mail.example.org\r\n", b"250 XSTARTTLS\r\n"],
        [b"250-mail.example.org\r\n", b"250 STARTTLSX\r\n"],
        [b"250-mail.example.org\r\n", b"250 AUTH STARTTLS\r\n"],
        [b"250-mail.example.org\r\n", b"250 X-STARTTLS-LIKE\r\n"],
    ],
)
def test_starttls_is_not_found(lines: list[bytes]) -> None:
    assert smtp_has_starttls(lines) is False


def test_server_named_starttls_does_not_offer_it() -> None:
    assert smtp_has_starttls([b"250-starttls\r\n", b"250 PIPELINING\r\n"]) is False


def test_ehlo_literal_over_a_socketpair_has_no_address_to_give() -> None:
    # An ssh channel is a socketpair: getsockname() is '' there, so no address of ours.
    ours, theirs = socket.socketpair()
    with ours, theirs:
        assert ehlo_literal(ours) == "[127.0.0.1]"


def test_ehlo_literal_over_tcp_is_our_address() -> None:
    with socket.socket(socket.AF_INET) as sock:
        sock.bind(("127.0.0.1", 0))
        assert ehlo_literal(sock) == "[127.0.0.1]"


# --- reply_code and starttls_answer -------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"220 2.0.0 Ready to start TLS\r\n", 220),
        (b"382 Continue with TLS negotiation\r\n", 382),
        (b"454-4.7.0 TLS not available\r\n", 454),
        (b"580\r\n", 580),
        (b"HTTP/1.1 400 Bad Request\r\n", None),
        (b"2200 too many digits\r\n", None),
        (b"22 short\r\n", None),
        (b"\r\n", None),
    ],
)
def test_reply_code(line: bytes, code: int | None) -> None:
    assert reply_code(line) == code


@pytest.mark.parametrize(
    ("service", "line", "answer"),
    [
        (Service.IMAP, b"p1 OK Begin TLS negotiation now.\r\n", Answer.GO),
        (Service.IMAP, b"p1 BAD Unknown command\r\n", Answer.REFUSED),
        (Service.IMAP, b"p1 NO STARTTLS not available\r\n", Answer.REFUSED),
        (Service.IMAP, b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n", Answer.UNTAGGED),
        (Service.IMAP, b"* PREAUTH logged in\r\n", Answer.UNTAGGED),  # dropped, not kept
        (Service.IMAP, b"+ go ahead\r\n", Answer.OTHER),
        (Service.IMAP, b"HTTP/1.1 400 Bad Request\r\n", Answer.OTHER),
        (Service.IMAP, b"p2 OK not our tag\r\n", Answer.OTHER),
        (Service.IMAP, b"p1 PREAUTH you are in\r\n", Answer.OTHER),  # a refusal is NO or BAD
        (Service.IMAP, b"p1 HTTP/1.1 400\r\n", Answer.OTHER),
        (Service.IMAP, b"p1\r\n", Answer.OTHER),
        (Service.SMTP, b"220 2.0.0 Ready to start TLS\r\n", Answer.GO),
        (Service.SMTP, b"454 4.7.0 TLS not available\r\n", Answer.REFUSED),
        (Service.SMTP, b"502 5.5.1 unknown command\r\n", Answer.REFUSED),
        (Service.SMTP, b"235 2.7.0 Authentication successful\r\n", Answer.OTHER),
        (Service.SMTP, b"250 ok\r\n", Answer.OTHER),
        (Service.SMTP, b"382 the NNTP go-ahead\r\n", Answer.OTHER),
        (Service.SMTP, b"HTTP/1.1 400 Bad Request\r\n", Answer.OTHER),
        (Service.NNTP, b"382 Continue with TLS negotiation\r\n", Answer.GO),
        (Service.NNTP, b"580 Can not initiate TLS negotiation\r\n", Answer.REFUSED),
        (Service.NNTP, b"500 What?\r\n", Answer.REFUSED),
        (Service.NNTP, b"281 Authentication accepted\r\n", Answer.OTHER),
        (Service.NNTP, b"220 the SMTP go-ahead\r\n", Answer.OTHER),
        (Service.NNTP, b"\r\n", Answer.OTHER),
    ],
)
def test_starttls_answer(service: Service, line: bytes, answer: Answer) -> None:
    assert starttls_answer(service, line) is answer


# --- refuse_buffered ------------------------------------------------------------------------


def test_nothing_buffered_passes_and_keeps_the_timeout() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.settimeout(7.0)
        refuse_buffered(ours, "after the STARTTLS reply")
        assert ours.gettimeout() == 7.0


def test_bytes_buffered_are_refused_and_shown_sanitized() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b"* OK [ALERT] injected\x1b[2J\r\n")
        with pytest.raises(StartTlsError, match="data after the STARTTLS reply") as caught:
            refuse_buffered(ours, "after the STARTTLS reply")
        assert "\x1b" not in str(caught.value) and "injected" in str(caught.value)
        # Only peeked: the bytes are still there (the route is failed and closed anyway).
        assert ours.recv(100).startswith(b"* OK")


def test_a_close_after_the_reply_is_refused() -> None:
    ours, theirs = socket.socketpair()
    with ours:
        theirs.close()
        with pytest.raises(StartTlsError, match="closed the connection"):
            refuse_buffered(ours, "after the STARTTLS reply")
