"""Family 1: greetings (transport/greeting.py) and STARTTLS replies (transport/starttls.py).

Allowed errors: GreetingError from parse_greeting; nothing else raises. Invariants: a
greeting's text and printable() hold no character a terminal must not get, and
printable() is bounded by its limit.
"""

from __future__ import annotations

from pinesh.transport.greeting import (
    GreetingError,
    GreetingState,
    greeting_complete,
    parse_greeting,
    printable,
)
from pinesh.transport.service import Service
from pinesh.transport.starttls import (
    Answer,
    imap_tagged_result,
    reply_code,
    smtp_has_starttls,
    smtp_reply_done,
    starttls_answer,
)
from tests.fuzz.common import check, check_safe, pick

_SERVICES = (Service.IMAP, Service.SMTP, Service.NNTP)

SEEDS = [
    b"\x00* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.\r\n",
    b"\x00* PREAUTH IMAP4rev1 server logged in as alice\r\n",
    b"\x00* BYE too many connections\r\n",
    b"\x00* OK hello\r\n* 1 EXISTS\r\n",
    b"\x00* OK \x1b]0;owned\x07\r\n",
    b"\x01220-mail.example.org ESMTP Postfix\r\n220 ready\r\n",
    b"\x01220 mail.example.org ESMTP\r\n",
    b"\x01554 5.7.1 go away\r\n",
    b"\x01220-a\r\n250 b\r\n",
    b"\x02200 news.example.org InterNetNews NNRP server INN 2.7 ready (posting ok)\r\n",
    b"\x02201 no posting\r\n",
    b"\x02502 access denied\r\n",
    b"\x03p1 OK Begin TLS negotiation now\r\n",
    b"\x03* OK still here\r\n",
    b"\x03p1 NO [ALERT] no TLS\r\n",
    b"\x04250-mail.example.org\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
    b"\x05\xe2\x80\xae\xc2\x9b31m\x7f\xed\xa0\x80 evil",
]


def TestOneInput(data: bytes) -> None:  # noqa: N802 - the name fuzzing engines call
    which, rest = pick(data, 7)
    if which < 3:
        service = _SERVICES[which]
        greeting_complete(service, rest)
        try:
            greeting = parse_greeting(service, rest)
        except GreetingError as exc:
            check_safe(str(exc), "a greeting error", allowed="\t")
            return
        check(greeting.raw == rest, "a greeting's raw bytes are not what was read")
        check(
            service is Service.IMAP or greeting.state is GreetingState.READY,
            "a PREAUTH greeting from a server other than IMAP",
        )
        check_safe(greeting.text, "a greeting's text", allowed="\t")
    elif which == 3:
        result = imap_tagged_result(rest, b"p1")
        check(result is None or rest.startswith(b"p1 "), "a tagged result for another tag")
    elif which == 4:
        lines = rest.split(b"\r\n")
        for line in lines:
            smtp_reply_done(line)
        smtp_has_starttls(lines)
    elif which == 6:
        code = reply_code(rest)
        check(code is None or 0 <= code <= 999, "a reply code that is not three digits")
        for service in _SERVICES:
            answer = starttls_answer(service, rest)
            if answer is Answer.GO:
                check(
                    rest.startswith(b"p1 ") and rest[3:5].upper() == b"OK"
                    if service is Service.IMAP
                    else code in (220, 382),
                    f"a go-ahead to STARTTLS read from {rest[:40]!r}",
                )
    else:
        shown = printable(rest, 50)
        check(len(shown) <= 53, "printable() longer than its limit")
        check_safe(shown, "printable()", allowed="\t")
