"""STARTTLS for IMAP, SMTP and NNTP: the few cleartext lines before the TLS handshake.

The replies are parsed by pure functions; the socket work is a small line reader.

Everything before TLS may come from anyone on the path (Poddebniak et al., "Why TLS is
better without STARTTLS", USENIX Security 2021): so the reply to STARTTLS is the go-ahead,
a refusal, or an error (never read past: an answer that claims a login, or garbage, fails
here), and nothing may follow the go-ahead before the handshake (bytes buffered after it
would otherwise be taken as the first words over TLS).
"""

from __future__ import annotations

import enum
import socket
import time

from pinesh.transport.greeting import printable
from pinesh.transport.service import Service

MAX_LINE = 8192


class StartTlsError(Exception):
    """The server would not switch to TLS."""


class StartTlsRefusedError(StartTlsError):
    """The server answered that it will not start TLS; the session goes on as before."""


class Answer(enum.Enum):
    """What one reply line to STARTTLS says."""

    GO = "go"  # start the handshake
    REFUSED = "refused"  # IMAP NO/BAD, an SMTP or NNTP 4xx/5xx: the session goes on in clear
    UNTAGGED = "untagged"  # IMAP: an untagged line before the tagged reply (read on)
    OTHER = "other"  # anything else: garbage, or a reply that claims a login instead


MAX_UNTAGGED_LINES = 64  # IMAP lines before the tagged reply; a real server sends none


def read_line(sock: socket.socket, deadline: float) -> bytes:
    """One CRLF-terminated line, read a byte at a time so nothing after it is consumed.

    Byte at a time matters here: bytes after the server's "go ahead" belong to the TLS
    handshake, and a buffered read would swallow them.
    """
    line = bytearray()
    while not line.endswith(b"\r\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out waiting for the server's reply to STARTTLS")
        sock.settimeout(remaining)
        byte = sock.recv(1)
        if not byte:
            raise StartTlsError("the server closed the connection during STARTTLS")
        line += byte
        if len(line) > MAX_LINE:
            raise StartTlsError("the server's reply to STARTTLS is too long")
    return bytes(line)


def imap_tagged_result(line: bytes, tag: bytes) -> bool | None:
    """For an IMAP reply line: True for tag OK, False for tag NO/BAD, None if untagged."""
    line = line.rstrip(b"\r\n")
    if not line.startswith(tag + b" "):
        return None
    status = line[len(tag) + 1 :].split(b" ", 1)[0].upper()
    return status == b"OK"


def smtp_reply_done(line: bytes) -> bool:
    """Whether an SMTP reply line is the last of its reply ("250 x" vs "250-x")."""
    return len(line) < 4 or line[3:4] != b"-"


def smtp_has_starttls(lines: list[bytes]) -> bool:
    """Whether an EHLO reply lists the STARTTLS extension (its first line is the domain)."""
    return any(line[4:].strip().upper() == b"STARTTLS" for line in lines[1:])


def reply_code(line: bytes) -> int | None:
    """The three-digit code of an SMTP or NNTP reply line, or None if it has none."""
    code, after = line[:3], line[3:4]
    if len(code) == 3 and code.isdigit() and after in (b" ", b"-", b"\r", b""):
        return int(code)
    return None


def starttls_answer(service: Service, line: bytes, tag: bytes = b"p1") -> Answer:
    """Classify one reply line to STARTTLS (for SMTP: the last line of the reply)."""
    if service is Service.IMAP:
        if imap_tagged_result(line, tag) is None:
            return Answer.UNTAGGED if line.startswith(b"* ") else Answer.OTHER
        status = line.rstrip(b"\r\n")[len(tag) + 1 :].split(b" ", 1)[0].upper()
        if status == b"OK":
            return Answer.GO
        # Only NO and BAD are refusals (RFC 3501 7.1): a refusal leaves the session in
        # clear over an ssh channel's last hop, so anything else must fail the route.
        return Answer.REFUSED if status in (b"NO", b"BAD") else Answer.OTHER
    code = reply_code(line)
    if code == (220 if service is Service.SMTP else 382):
        return Answer.GO
    if code is not None and 400 <= code < 600:
        return Answer.REFUSED
    return Answer.OTHER


def ehlo_literal(sock: socket.socket) -> str:
    """This end's address literal for EHLO: an ssh channel's socketpair has no address,
    so over one it is 127.0.0.1 (the server sees the login host's address anyway)."""
    if sock.family == socket.AF_INET6:
        return f"[IPv6:{sock.getsockname()[0]}]"
    if sock.family == socket.AF_INET:
        return f"[{sock.getsockname()[0]}]"
    return "[127.0.0.1]"


def refuse_buffered(sock: socket.socket, where: str) -> None:
    """Raise StartTlsError if the server has sent anything not asked for yet.

    A peek without waiting: what is already in the socket's buffer came in the segment
    of the reply just read (or before it). A server sends nothing there on its own; an
    attacker does, so that it is read as if it came over TLS.
    """
    timeout = sock.gettimeout()
    sock.settimeout(0)  # with a timeout set, recv would wait for data first
    try:
        extra = sock.recv(MAX_LINE, socket.MSG_PEEK)
    except (BlockingIOError, InterruptedError):
        return
    finally:
        sock.settimeout(timeout)
    if not extra:
        raise StartTlsError(f"the server closed the connection {where}")
    raise StartTlsError(
        f"the server sent data {where} (someone on the path may be injecting it), "
        f"refusing to start TLS: {printable(extra)}"
    )


AFTER_REPLY = "after the STARTTLS reply, before TLS began"


def _unexpected(name: str, line: bytes) -> StartTlsError:
    return StartTlsError(
        f"the {name} server's reply to STARTTLS is neither its go-ahead nor a refusal: "
        f"{printable(line)}"
    )


def negotiate(sock: socket.socket, service: Service, deadline: float) -> None:
    """Ask the server to start TLS; return when the TLS handshake may begin.

    StartTlsRefusedError when the server says no (or, for SMTP, does not offer it): the session
    is then as it was. Any other StartTlsError leaves it unusable: a reply that is neither
    the go-ahead nor a refusal, or anything sent after the go-ahead.
    """
    if service is Service.IMAP:
        _imap(sock, deadline)
    elif service is Service.SMTP:
        _smtp(sock, deadline)
    else:
        sock.sendall(b"STARTTLS\r\n")
        reply = read_line(sock, deadline)
        answer = starttls_answer(service, reply)
        if answer is Answer.REFUSED:
            raise StartTlsRefusedError(f"the NNTP server refused STARTTLS: {printable(reply)}")
        if answer is not Answer.GO:
            raise _unexpected("NNTP", reply)
    refuse_buffered(sock, AFTER_REPLY)


def _imap(sock: socket.socket, deadline: float) -> None:
    tag = b"p1"
    sock.sendall(tag + b" STARTTLS\r\n")
    # Untagged lines before the reply are read and dropped: nothing said before TLS is
    # kept (the client asks CAPABILITY again over TLS).
    for _ in range(MAX_UNTAGGED_LINES):
        line = read_line(sock, deadline)
        answer = starttls_answer(Service.IMAP, line, tag)
        if answer is Answer.GO:
            return
        if answer is Answer.REFUSED:
            raise StartTlsRefusedError(f"the IMAP server refused STARTTLS: {printable(line)}")
        if answer is Answer.OTHER:
            raise _unexpected("IMAP", line)
    raise StartTlsError(
        f"the IMAP server sent more than {MAX_UNTAGGED_LINES} untagged lines before its "
        "reply to STARTTLS"
    )


def _smtp_reply(sock: socket.socket, deadline: float) -> list[bytes]:
    lines = [read_line(sock, deadline)]
    while not smtp_reply_done(lines[-1]):
        lines.append(read_line(sock, deadline))
    return lines


def _smtp(sock: socket.socket, deadline: float) -> None:
    sock.sendall(f"EHLO {ehlo_literal(sock)}\r\n".encode())
    lines = _smtp_reply(sock, deadline)
    code = reply_code(lines[0])
    if code is None or not (code == 250 or 400 <= code < 600):
        raise StartTlsError(f"the SMTP server's reply to EHLO is not SMTP: {printable(lines[0])}")
    if code != 250:
        raise StartTlsRefusedError(f"the SMTP server refused EHLO: {printable(lines[0])}")
    if not smtp_has_starttls(lines):
        raise StartTlsRefusedError("the SMTP server does not offer STARTTLS")
    # A reply to STARTTLS sent ahead of the command would be taken as its answer.
    refuse_buffered(sock, "after its EHLO reply, before STARTTLS was asked")
    sock.sendall(b"STARTTLS\r\n")
    reply = _smtp_reply(sock, deadline)[-1]
    answer = starttls_answer(Service.SMTP, reply)
    if answer is Answer.REFUSED:
        raise StartTlsRefusedError(f"the SMTP server refused STARTTLS: {printable(reply)}")
    if answer is not Answer.GO:
        raise _unexpected("SMTP", reply)
