"""Family 4: SMTP replies (senders/smtp_protocol.py) and what builds commands and messages
from user data (the command builders there, senders/compose.py).

Allowed errors: SmtpProtocolError from split_reply and the command builders, ComposeError
from compose() and parse_typed_addresses(). Invariants: a built command is one line (no
CR, LF or NUL before its final CRLF); a reply's lines and text are safe for the terminal
and text() is bounded; DATA's payload has CRLF line ends only, no lone "." line before its
end, and reads back (dots undone) as the message; a composed message's header section
holds only the fields the composer writes or was asked for, one per line.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import UTC, datetime

from pinesh.senders.addresses import parse_typed_addresses
from pinesh.senders.base import ComposeError
from pinesh.senders.compose import Draft, compose
from pinesh.senders.smtp_protocol import (
    SHOW_LIMIT,
    SmtpProtocolError,
    auth_plain,
    base64_line,
    data_payload,
    ehlo,
    helo,
    helo_name_ok,
    mail_from,
    parse_ehlo,
    rcpt_to,
    split_reply,
)
from pinesh.stores.base import Address
from tests.fuzz.common import SEP, check, check_safe, pick, text_of

SEEDS = [
    b"\x00220 mail.example.org ESMTP\r\n",
    b"\x00250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-AUTH PLAIN LOGIN\r\n"
    b"250-AUTH=LOGIN\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
    b"\x00250-x\r\n250-SIZE 99999999999999999999999999\r\n250 SMTPUTF8\r\n",
    b"\x00554 5.7.1 <x@y>: Relay access denied\r\n",
    b"\x00250-a\n251 b\n",
    b"\x00220 \x1b]0;owned\x07\r\n",
    b"\x01alice@example.org" + SEP + b"bob@example.org" + SEP + b"secret",
    b"\x01a@b>\r\nRCPT TO:<evil@x" + SEP + b"c@d" + SEP + b"pw\x00",
    b"\x02mail.example.org",
    b"\x02[127.0.0.1]",
    b"\x03Subject: hi\r\n\r\n.\r\n..\r\nbody\rbare\nend",
    b"\x04Jane <jane@example.org>, bob"
    + SEP
    + b"Hello =?utf-8?q?x?="
    + SEP
    + b"X-Face"
    + SEP
    + b"value"
    + SEP
    + b"body\n.\n",
    b"\x04a@b" + SEP + b"hi\r\nBcc: evil@x" + SEP + b"X-A" + SEP + b"v\nInjected: y",
]

_COMPOSER_FIELDS = {
    "from", "to", "cc", "reply-to", "subject", "date", "message-id", "in-reply-to",
    "references", "user-agent", "mime-version", "content-type", "content-transfer-encoding",
}  # fmt: skip
_FIELD = re.compile(rb"([!-9;-~]+):")


def _one_line(line: bytes, what: str) -> None:
    check(line.endswith(b"\r\n"), f"{what} does not end with CRLF")
    check(not any(b in line[:-2] for b in b"\r\n\0"), f"{what} holds CR, LF or NUL: {line!r:.80}")


def _replies(buffer: bytes) -> None:
    while True:
        reply, rest = split_reply(buffer)
        if reply is None:
            return
        check(len(rest) < len(buffer), "split_reply() took nothing off the buffer")
        buffer = rest
        for line in reply.lines:
            check_safe(line, "a reply line")
        text = reply.text()
        check_safe(text, "a reply's text")
        check(len(text) <= SHOW_LIMIT + 3, "a reply's text over its limit")
        if reply.positive:
            extensions = parse_ehlo(reply)
            limit = extensions.size_limit
            check(limit is None or limit > 0, "a SIZE limit that is not positive")
            extensions.auth_mechanisms  # noqa: B018 - computed for its errors


def _commands(rest: bytes) -> None:
    sender, recipient, secret, *_ = [*map(text_of, rest.split(SEP)), "", "", ""]
    builds: tuple[Callable[[], bytes], ...] = (
        lambda: mail_from(sender, size=len(rest), eight_bit=True, smtputf8=True),
        lambda: rcpt_to(recipient),
        lambda: auth_plain(sender, secret),
        lambda: base64_line(secret),
    )
    for build in builds:
        with contextlib.suppress(SmtpProtocolError):
            _one_line(build(), "an SMTP command")


def _payload(message: bytes) -> None:
    payload = data_payload(message)
    check(payload.endswith(b"\r\n.\r\n") or payload == b".\r\n", "DATA does not end with '.'")
    lines = payload.split(b"\r\n")[:-2]
    check(all(b"\r" not in x and b"\n" not in x for x in lines), "a bare CR or LF in DATA")
    check(all(x != b"." for x in lines), "a lone '.' line before the end of DATA")
    back = b"".join((x[1:] if x.startswith(b".") else x) + b"\r\n" for x in lines)
    normal = re.sub(rb"\r\n|\r|\n", b"\r\n", message)
    if normal and not normal.endswith(b"\r\n"):
        normal += b"\r\n"
    check(back == normal, "DATA does not read back as the message")


def _compose(rest: bytes) -> None:
    # Text as the editor gives it: valid Unicode (lone surrogates are not typed).
    fields = [piece.decode("utf-8", "replace") for piece in rest.split(SEP)]
    to, subject, name, value, body, *_ = [*fields, "", "", "", ""]
    draft = Draft(
        sender=Address("Me", "me@example.org"),
        to=parse_typed_addresses(to, "To", default_domain="example.org"),
        subject=subject,
        body=body,
        extra_headers=((name, value),) if name else (),
    )
    built = compose(draft, domain="example.org", now=datetime(2024, 1, 1, tzinfo=UTC))
    head = built.wire.split(b"\r\n\r\n", 1)[0]
    names = set()
    for line in head.split(b"\r\n"):
        check(b"\r" not in line and b"\n" not in line, "a bare CR or LF in a composed header")
        if line[:1] in (b" ", b"\t"):
            continue
        match = _FIELD.match(line)
        check(match is not None, f"a composed header line is no field: {line!r:.80}")
        assert match is not None
        names.add(match[1].decode("ascii").lower())
    allowed = _COMPOSER_FIELDS | {name.lower()}
    check(names <= allowed, f"a composed message has fields {sorted(names - allowed)}")


def TestOneInput(data: bytes) -> None:  # noqa: N802 - the name fuzzing engines call
    which, rest = pick(data, 5)
    try:
        if which == 0:
            _replies(rest)
        elif which == 1:
            _commands(rest)
        elif which == 2:
            name = text_of(rest)
            if helo_name_ok(name):
                _one_line(ehlo(name), "EHLO")
                _one_line(helo(name), "HELO")
        elif which == 3:
            _payload(rest)
        else:
            _compose(rest)
    except (SmtpProtocolError, ComposeError):
        pass
