"""Pure parsers for the first thing a server says: IMAP, SMTP and NNTP greetings.

They work on bytes already read, with no socket in sight, so hostile and broken
greetings are tested on literal transcripts.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pinesh.transport.service import Service

MAX_GREETING = 8192  # bytes; a server that says more before its greeting ends is refused


class GreetingError(Exception):
    """The server's first words are not a greeting we accept."""


class GreetingState(enum.Enum):
    """What the greeting says about the session."""

    READY = "ready"  # IMAP * OK, SMTP 220, NNTP 200/201: log in next (or nothing to do)
    PREAUTH = "preauth"  # IMAP * PREAUTH: already authenticated


@dataclass(frozen=True)
class Greeting:
    """A verified greeting."""

    state: GreetingState
    raw: bytes  # every byte of the greeting, line endings included
    text: str  # the human part, sanitized for display
    posting_allowed: bool = True  # NNTP 200 vs 201


def printable(data: bytes, limit: int = 200) -> str:
    """Server bytes made safe to show: control characters escaped, length bounded."""
    text = data.decode("utf-8", "replace")
    out = []
    for ch in text:
        if ch in "\r\n":
            continue
        if ch == "\t" or ch.isprintable():
            out.append(ch)
        else:
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
    shown = "".join(out)
    return shown if len(shown) <= limit else shown[:limit] + "..."


# What a client is handed as the greeting once STARTTLS is done: the cleartext one may have
# been written by anyone on the path, so none of it is passed on (its capabilities, an
# ALERT, a posting status); the client asks over TLS what it needs to know.
AFTER_STARTTLS = {
    Service.IMAP: b"* OK TLS started; the greeting sent before it is not repeated\r\n",
    Service.SMTP: b"220 TLS started; the greeting sent before it is not repeated\r\n",
    Service.NNTP: b"200 TLS started; the greeting sent before it is not repeated\r\n",
}
BEFORE_TLS_MARK = "(before TLS, unauthenticated) "


def after_starttls(service: Service, before: Greeting) -> Greeting:
    """The greeting of a session once STARTTLS is done: a neutral one in place of before.

    before's text is kept for diagnosis only, marked as unauthenticated; its state is
    READY (a PREAUTH before TLS is refused earlier) and NNTP posting is not ruled out
    (the server says at POST, or in its reply to MODE READER over TLS).
    """
    text = BEFORE_TLS_MARK + before.text if before.text else ""
    return Greeting(GreetingState.READY, AFTER_STARTTLS[service], text)


def greeting_complete(service: Service, data: bytes) -> bool:
    """Whether data holds a whole greeting (so reading can stop)."""
    if service is not Service.SMTP:
        return b"\r\n" in data
    # SMTP: "220-..." lines continue, "220 ..." ends.
    return any(len(line) < 4 or line[3:4] != b"-" for line in data.split(b"\r\n")[:-1])


def parse_greeting(service: Service, data: bytes) -> Greeting:
    """Check a complete greeting; raise GreetingError naming what is wrong."""
    if not data:
        raise GreetingError("the server closed the connection without a greeting")
    if len(data) > MAX_GREETING:
        raise GreetingError(f"the greeting is longer than {MAX_GREETING} bytes")
    if b"\r\n" not in data:
        raise GreetingError(f"the greeting is not a CRLF-terminated line: {printable(data)!r}")
    if service is Service.IMAP:
        return _imap(data)
    if service is Service.SMTP:
        return _smtp(data)
    return _nntp(data)


def _refuse_stray_bytes(line: bytes) -> None:
    if b"\0" in line or b"\n" in line or b"\r" in line:
        raise GreetingError(f"the greeting holds stray control bytes: {printable(line)!r}")


def _first_line(data: bytes) -> bytes:
    line, _, rest = data.partition(b"\r\n")
    if rest:
        raise GreetingError(
            f"the server sent more than its greeting before we spoke: {printable(rest)!r}"
        )
    _refuse_stray_bytes(line)
    return line


def _imap(data: bytes) -> Greeting:
    line = _first_line(data)
    parts = line.split(b" ", 2)
    if len(parts) < 2 or parts[0] != b"*":
        raise GreetingError(f"not an IMAP greeting: {printable(line)!r}")
    status = parts[1].upper()
    text = printable(parts[2]) if len(parts) > 2 else ""
    if status == b"OK":
        return Greeting(GreetingState.READY, data, text)
    if status == b"PREAUTH":
        return Greeting(GreetingState.PREAUTH, data, text)
    if status == b"BYE":
        raise GreetingError(f"the IMAP server refused the connection: {text}")
    raise GreetingError(f"not an IMAP greeting: {printable(line)!r}")


def _smtp(data: bytes) -> Greeting:
    lines = data.split(b"\r\n")
    if lines[-1] != b"":
        raise GreetingError(f"the SMTP greeting does not end with CRLF: {printable(data)!r}")
    lines = lines[:-1]
    for i, line in enumerate(lines):
        _refuse_stray_bytes(line)
        code, sep = line[:3], line[3:4]
        last = i == len(lines) - 1
        if not code.isdigit() or sep not in ((b" ", b"") if last else (b"-",)):
            raise GreetingError(f"not an SMTP greeting: {printable(line)!r}")
        if code != lines[0][:3]:
            raise GreetingError(f"the SMTP greeting mixes reply codes: {printable(data)!r}")
    code = lines[0][:3]
    text = " ".join(printable(line[4:]) for line in lines)
    if code == b"220":
        return Greeting(GreetingState.READY, data, text)
    raise GreetingError(f"the SMTP server refused the connection: {code.decode()} {text}")


def _nntp(data: bytes) -> Greeting:
    line = _first_line(data)
    code, sep, text = line[:3], line[3:4], printable(line[4:])
    if sep not in (b" ", b""):
        raise GreetingError(f"not an NNTP greeting: {printable(line)!r}")
    if code == b"200":
        return Greeting(GreetingState.READY, data, text, posting_allowed=True)
    if code == b"201":
        return Greeting(GreetingState.READY, data, text, posting_allowed=False)
    if code.isdigit():
        raise GreetingError(f"the NNTP server refused the connection: {printable(line)}")
    raise GreetingError(f"not an NNTP greeting: {printable(line)!r}")
