"""Greeting parsers on literal byte transcripts: real servers, then hostile and broken ones."""

from __future__ import annotations

import pytest

from pinesh.transport.greeting import (
    AFTER_STARTTLS,
    MAX_GREETING,
    GreetingError,
    GreetingState,
    after_starttls,
    greeting_complete,
    parse_greeting,
    printable,
)
from pinesh.transport.service import Service

IMAP, SMTP, NNTP = Service.IMAP, Service.SMTP, Service.NNTP

DOVECOT_OK = (
    b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
    b"AUTH=PLAIN] Dovecot (Debian) ready.\r\n"
)
DOVECOT_PREAUTH = (
    b"* PREAUTH [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT "
    b"SORT=DISPLAY THREAD=REFERENCES MULTIAPPEND UNSELECT CHILDREN NAMESPACE] "
    b"Logged in as pineshlab\r\n"
)
POSTFIX = b"220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n"
POSTFIX_MULTI = (
    b"220-mail.example.org ESMTP Postfix (Debian/GNU)\r\n"
    b"220-Unauthorized access prohibited\r\n"
    b"220 mail.example.org ready\r\n"
)
INN_POSTING = b"200 news.example.org InterNetNews NNRP server INN 2.7.1 ready (posting ok)\r\n"
INN_NO_POSTING = b"201 news.example.org InterNetNews NNRP server INN 2.7.1 ready (no posting)\r\n"
PWNED = b"\x1b]0;pwned\x07"

# --- printable -----------------------------------------------------------------------------


def test_printable_keeps_ordinary_text() -> None:
    assert printable(b"Dovecot (Debian) ready.") == "Dovecot (Debian) ready."


def test_printable_drops_line_endings() -> None:
    assert printable(b"ready\r\n") == "ready"


def test_printable_keeps_tabs() -> None:
    assert printable(b"a\tb") == "a\tb"


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        (b"\x1b", "\\x1b"),
        (b"\x07", "\\x07"),
        (b"\x00", "\\x00"),
        (b"\x7f", "\\x7f"),
        (b"\x9b", "\ufffd"),  # not UTF-8: replaced, never passed through as a C1 CSI
        ("\u009b".encode(), "\\x9b"),  # UTF-8 encoded C1 CSI
        ("\u202e".encode(), "\\u202e"),  # right-to-left override
    ],
)
def test_printable_escapes_control_characters(data: bytes, shown: str) -> None:
    assert printable(data) == shown


def test_printable_makes_an_osc_sequence_inert() -> None:
    shown = printable(b"hi " + PWNED + b" there")
    assert shown == "hi \\x1b]0;pwned\\x07 there"
    assert all(ch.isprintable() for ch in shown)


def test_printable_keeps_non_ascii_letters() -> None:
    assert printable("Grüße".encode()) == "Grüße"


def test_printable_bounds_the_length() -> None:
    assert printable(b"x" * 500) == "x" * 200 + "..."
    assert printable(b"x" * 10, limit=5) == "xxxxx..."
    assert printable(b"x" * 200) == "x" * 200


# --- greeting_complete ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "data", "complete"),
    [
        (IMAP, b"", False),
        (IMAP, b"* OK Dovecot ready.", False),
        (IMAP, b"* OK Dovecot ready.\r", False),
        (IMAP, b"* OK Dovecot ready.\n", False),  # bare LF is not the end
        (IMAP, DOVECOT_OK, True),
        (NNTP, INN_POSTING[:20], False),
        (NNTP, INN_POSTING, True),
        (SMTP, b"", False),
        (SMTP, b"220 mail.example.org ESMTP", False),
        (SMTP, POSTFIX, True),
        (SMTP, b"220-mail.example.org ESMTP\r\n", False),
        (SMTP, b"220-mail.example.org ESMTP\r\n220-more\r\n", False),
        (SMTP, b"220-mail.example.org ESMTP\r\n220 rea", False),
        (SMTP, POSTFIX_MULTI, True),
        (SMTP, b"220\r\n", True),  # a bare code ends the reply
        (SMTP, b"554 no\r\n", True),
    ],
)
def test_greeting_complete(service: Service, data: bytes, complete: bool) -> None:
    assert greeting_complete(service, data) is complete


# --- real servers --------------------------------------------------------------------------


def test_dovecot_ok_is_ready() -> None:
    greeting = parse_greeting(IMAP, DOVECOT_OK)
    assert greeting.state is GreetingState.READY
    assert greeting.raw == DOVECOT_OK
    assert greeting.text.endswith("Dovecot (Debian) ready.")
    assert greeting.text.startswith("[CAPABILITY IMAP4rev1")


def test_dovecot_preauth_is_preauth() -> None:
    greeting = parse_greeting(IMAP, DOVECOT_PREAUTH)
    assert greeting.state is GreetingState.PREAUTH
    assert greeting.text.endswith("Logged in as pineshlab")


def test_imap_status_is_case_insensitive() -> None:
    assert parse_greeting(IMAP, b"* ok ready\r\n").state is GreetingState.READY
    assert parse_greeting(IMAP, b"* preauth hi\r\n").state is GreetingState.PREAUTH


def test_preauth_with_no_text() -> None:
    greeting = parse_greeting(IMAP, b"* PREAUTH\r\n")
    assert greeting.state is GreetingState.PREAUTH
    assert greeting.text == ""


def test_imap_bye_is_refused_with_its_reason() -> None:
    with pytest.raises(GreetingError, match="refused the connection: Too many connections"):
        parse_greeting(IMAP, b"* BYE Too many connections\r\n")


def test_postfix_is_ready() -> None:
    greeting = parse_greeting(SMTP, POSTFIX)
    assert greeting.state is GreetingState.READY
    assert greeting.text == "mail.example.org ESMTP Postfix (Debian/GNU)"


def test_multiline_smtp_greeting_joins_its_lines() -> None:
    greeting = parse_greeting(SMTP, POSTFIX_MULTI)
    assert greeting.state is GreetingState.READY
    assert greeting.raw == POSTFIX_MULTI
    assert greeting.text == (
        "mail.example.org ESMTP Postfix (Debian/GNU) Unauthorized access prohibited "
        "mail.example.org ready"
    )


def test_smtp_bare_code() -> None:
    assert parse_greeting(SMTP, b"220\r\n").text == ""


@pytest.mark.parametrize(
    "data",
    [
        b"554 5.7.1 mail.example.org: Service unavailable; client [192.0.2.1] blocked\r\n",
        b"421 4.3.2 Service shutting down\r\n",
        b"554-go away\r\n554 really\r\n",
    ],
)
def test_smtp_refusal_codes_raise_with_the_code(data: bytes) -> None:
    with pytest.raises(GreetingError, match=r"SMTP server refused the connection: \d{3}"):
        parse_greeting(SMTP, data)


def test_inn_200_allows_posting() -> None:
    greeting = parse_greeting(NNTP, INN_POSTING)
    assert greeting.state is GreetingState.READY
    assert greeting.posting_allowed is True
    assert greeting.text.startswith("news.example.org InterNetNews")


def test_inn_201_is_ready_without_posting() -> None:
    greeting = parse_greeting(NNTP, INN_NO_POSTING)
    assert greeting.state is GreetingState.READY
    assert greeting.posting_allowed is False


@pytest.mark.parametrize(
    "data",
    [
        b"502 You have no permission to talk.  Goodbye.\r\n",
        b"400 loadav [innwatch:load] 1520 gt 1500\r\n",
    ],
)
def test_inn_refusals(data: bytes) -> None:
    with pytest.raises(GreetingError, match="NNTP server refused the connection"):
        parse_greeting(NNTP, data)


# --- broken and hostile --------------------------------------------------------------------

ALL = [IMAP, SMTP, NNTP]


@pytest.mark.parametrize("service", ALL)
def test_empty_means_closed_without_greeting(service: Service) -> None:
    with pytest.raises(GreetingError, match="without a greeting"):
        parse_greeting(service, b"")


@pytest.mark.parametrize(
    ("service", "data"),
    [
        (IMAP, b"* OK Dovecot ready."),
        (SMTP, b"220 mail.example.org ESMTP"),
        (NNTP, b"200 news ready"),
        (IMAP, b"* OK Dovecot ready.\n"),
        (SMTP, b"220 mail.example.org ESMTP\n"),
        (NNTP, b"200 news ready\n"),
    ],
)
def test_no_crlf_is_refused(service: Service, data: bytes) -> None:
    with pytest.raises(GreetingError, match="CRLF"):
        parse_greeting(service, data)


@pytest.mark.parametrize(
    ("service", "data"),
    [
        (IMAP, b"* OK a\nb\r\n"),
        (NNTP, b"200 a\nb\r\n"),
        (IMAP, b"* OK a\rb\r\n"),
        (NNTP, b"200 a\rb\r\n"),
        (IMAP, b"* OK a\0b\r\n"),
        (NNTP, b"200 a\0b\r\n"),
    ],
)
def test_stray_lf_cr_or_nul_inside_the_line_is_refused(service: Service, data: bytes) -> None:
    with pytest.raises(GreetingError, match="stray control bytes"):
        parse_greeting(service, data)


@pytest.mark.parametrize("data", [b"220 a\0b\r\n", b"220 a\nb\r\n", b"220 a\rb\r\n"])
def test_smtp_stray_lf_cr_or_nul_inside_the_line_is_refused(data: bytes) -> None:
    with pytest.raises(GreetingError):
        parse_greeting(SMTP, data)


@pytest.mark.parametrize(
    ("service", "data"),
    [
        (IMAP, b"* OK " + PWNED + b" ready\r\n"),
        (IMAP, b"* PREAUTH " + PWNED + b"\r\n"),
        (SMTP, b"220 " + PWNED + b" ESMTP\r\n"),
        (SMTP, b"220-" + PWNED + b"\r\n220 ok\r\n"),
        (NNTP, b"200 " + PWNED + b"\r\n"),
    ],
)
def test_escape_sequence_in_text_comes_out_inert(service: Service, data: bytes) -> None:
    greeting = parse_greeting(service, data)
    assert "\x1b" not in greeting.text
    assert "\x07" not in greeting.text
    assert "\\x1b]0;pwned\\x07" in greeting.text
    assert greeting.raw == data  # raw keeps every byte; only .text is for people


@pytest.mark.parametrize(
    ("service", "data"),
    [
        (IMAP, b"* BYE " + PWNED + b"\r\n"),
        (IMAP, b"* NO " + PWNED + b"\r\n"),
        (IMAP, PWNED + b"\r\n"),
        (SMTP, b"554 " + PWNED + b"\r\n"),
        (SMTP, PWNED + b"\r\n"),
        (SMTP, b"220-a\r\n554 " + PWNED + b"\r\n"),
        (NNTP, b"502 " + PWNED + b"\r\n"),
        (NNTP, PWNED + b"\r\n"),
        (IMAP, b"* OK a\r\n" + PWNED),  # more data after the greeting
        (IMAP, b"* OK " + PWNED + b"\0\r\n"),  # stray NUL
        (IMAP, b"* OK " + PWNED),  # no CRLF
    ],
)
def test_escape_sequence_in_error_messages_is_inert(service: Service, data: bytes) -> None:
    with pytest.raises(GreetingError) as info:
        parse_greeting(service, data)
    message = str(info.value)
    assert "\x1b" not in message
    assert "\x07" not in message


@pytest.mark.parametrize(
    ("service", "data"),
    [
        (IMAP, DOVECOT_OK + b"* CAPABILITY IMAP4rev1\r\n"),
        (IMAP, DOVECOT_OK + b"x"),
        (NNTP, INN_POSTING + b"extra"),
    ],
)
def test_data_after_the_greeting_is_refused(service: Service, data: bytes) -> None:
    with pytest.raises(GreetingError, match="more than its greeting"):
        parse_greeting(service, data)


@pytest.mark.parametrize(
    "data",
    [
        POSTFIX + b"250 extra\r\n",  # a finished reply followed by another
        POSTFIX + b"junk",  # trailing bytes without CRLF
    ],
)
def test_smtp_data_after_the_greeting_is_refused(data: bytes) -> None:
    with pytest.raises(GreetingError):
        parse_greeting(SMTP, data)


def _imap_greeting_of(size: int) -> bytes:
    head, tail = b"* OK ", b"\r\n"
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_greeting_of_exactly_max_size_is_accepted() -> None:
    data = _imap_greeting_of(MAX_GREETING)
    assert len(data) == MAX_GREETING
    assert parse_greeting(IMAP, data).state is GreetingState.READY


@pytest.mark.parametrize("service", ALL)
def test_over_long_greeting_is_refused(service: Service) -> None:
    data = _imap_greeting_of(MAX_GREETING + 1)
    with pytest.raises(GreetingError, match=f"longer than {MAX_GREETING}"):
        parse_greeting(service, data)


def test_over_long_greeting_error_is_short() -> None:
    with pytest.raises(GreetingError) as info:
        parse_greeting(IMAP, _imap_greeting_of(MAX_GREETING * 4))
    assert len(str(info.value)) < 200


@pytest.mark.parametrize(
    "data",
    [
        b"220-mail.example.org\r\n554 go away\r\n",
        b"220-mail.example.org\r\n250 ok\r\n",
        b"554-no\r\n220 yes\r\n",
    ],
)
def test_smtp_mixed_codes_are_refused(data: bytes) -> None:
    with pytest.raises(GreetingError, match="mixes reply codes"):
        parse_greeting(SMTP, data)


@pytest.mark.parametrize(
    "data",
    [
        b"22 short\r\n",
        b"abc hello\r\n",
        b"220_bad separator\r\n",
        b"220 first\r\n220 second\r\n",  # a non-last line must use '-'
        b"220-never ends\r\n",
        b"\r\n",
    ],
)
def test_malformed_smtp_greetings(data: bytes) -> None:
    with pytest.raises(GreetingError):
        parse_greeting(SMTP, data)


SSH_BANNER = b"SSH-2.0-OpenSSH_9.2p1\r\n"


@pytest.mark.parametrize("service", ALL)
def test_ssh_banner_is_not_a_greeting(service: Service) -> None:
    with pytest.raises(GreetingError, match=r"not an? (IMAP|SMTP|NNTP) greeting"):
        parse_greeting(service, SSH_BANNER)


@pytest.mark.parametrize(
    "data",
    [
        b"* \r\n",
        b"*\r\n",
        b"OK ready\r\n",
        b"* NO go away\r\n",
        b"* BAD nope\r\n",
        b"*  OK double space\r\n",
        b"a1 OK tagged\r\n",
        b"+ continue\r\n",
        b"* OKAY ready\r\n",
    ],
)
def test_not_an_imap_greeting(data: bytes) -> None:
    with pytest.raises(GreetingError, match="not an IMAP greeting"):
        parse_greeting(IMAP, data)


@pytest.mark.parametrize("data", [b"hello\r\n", b"* OK imap\r\n", b"\r\n"])
def test_not_an_nntp_greeting(data: bytes) -> None:
    with pytest.raises(GreetingError, match="not an NNTP greeting"):
        parse_greeting(NNTP, data)


@pytest.mark.parametrize("data", [b"2001 hello\r\n", b"200-hello\r\n", b"201x\r\n"])
def test_nntp_code_must_be_followed_by_a_space(data: bytes) -> None:
    with pytest.raises(GreetingError):
        parse_greeting(NNTP, data)


def test_greeting_state_does_not_leak_between_services() -> None:
    # An IMAP greeting is not an SMTP one and vice versa.
    with pytest.raises(GreetingError):
        parse_greeting(SMTP, DOVECOT_OK)
    with pytest.raises(GreetingError):
        parse_greeting(IMAP, POSTFIX)
    with pytest.raises(GreetingError):
        parse_greeting(NNTP, DOVECOT_PREAUTH)


# --- after STARTTLS ---------------------------------------------------------------------------


@pytest.mark.parametrize("service", list(Service))
def test_after_starttls_a_neutral_greeting_replaces_the_cleartext_one(service: Service) -> None:
    hostile = {
        IMAP: b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] [ALERT] send your password\r\n",
        SMTP: b"220 ALERT send your password\r\n",
        NNTP: b"201 ALERT send your password\r\n",
    }[service]
    after = after_starttls(service, parse_greeting(service, hostile))
    assert after.raw == AFTER_STARTTLS[service]
    assert b"password" not in after.raw
    assert after.state is GreetingState.READY and after.posting_allowed
    assert after.text.startswith("(before TLS, unauthenticated) ")
    # The neutral greeting is itself one the client's parser accepts.
    assert parse_greeting(service, after.raw).state is GreetingState.READY


def test_after_starttls_an_empty_greeting_text_stays_empty() -> None:
    assert after_starttls(SMTP, parse_greeting(SMTP, b"220\r\n")).text == ""
