"""STARTTLS for IMAP, SMTP and NNTP: the few cleartext lines before the TLS handshake.

The replies are parsed by pure functions; the socket work is a small line reader.
"""

from __future__ import annotations

import socket
import time

from pinesh.transport.greeting import printable
from pinesh.transport.service import Service

MAX_LINE = 8192


class StartTlsError(Exception):
    """The server would not switch to TLS."""


class StartTlsRefusedError(StartTlsError):
    """The server answered that it will not start TLS; the session goes on as before."""


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


def ehlo_literal(sock: socket.socket) -> str:
    """This end's address literal for EHLO: an ssh channel's socketpair has no address,
    so over one it is 127.0.0.1 (the server sees the login host's address anyway)."""
    if sock.family == socket.AF_INET6:
        return f"[IPv6:{sock.getsockname()[0]}]"
    if sock.family == socket.AF_INET:
        return f"[{sock.getsockname()[0]}]"
    return "[127.0.0.1]"


def negotiate(sock: socket.socket, service: Service, deadline: float) -> None:
    """Ask the server to start TLS; return when the TLS handshake may begin.

    StartTlsRefusedError when the server says no (or, for SMTP, does not offer it): the session
    is then as it was. Any other StartTlsError leaves it unusable.
    """
    if service is Service.IMAP:
        tag = b"p1"
        sock.sendall(tag + b" STARTTLS\r\n")
        while True:
            line = read_line(sock, deadline)
            result = imap_tagged_result(line, tag)
            if result is True:
                return
            if result is False:
                raise StartTlsRefusedError(f"the IMAP server refused STARTTLS: {printable(line)}")
    elif service is Service.SMTP:
        sock.sendall(f"EHLO {ehlo_literal(sock)}\r\n".encode())
        lines = [read_line(sock, deadline)]
        while not smtp_reply_done(lines[-1]):
            lines.append(read_line(sock, deadline))
        if not lines[0].startswith(b"250"):
            raise StartTlsRefusedError(f"the SMTP server refused EHLO: {printable(lines[0])}")
        if not smtp_has_starttls(lines):
            raise StartTlsRefusedError("the SMTP server does not offer STARTTLS")
        sock.sendall(b"STARTTLS\r\n")
        reply = read_line(sock, deadline)
        while not smtp_reply_done(reply):
            reply = read_line(sock, deadline)
        if not reply.startswith(b"220"):
            raise StartTlsRefusedError(f"the SMTP server refused STARTTLS: {printable(reply)}")
    else:
        sock.sendall(b"STARTTLS\r\n")
        reply = read_line(sock, deadline)
        if not reply.startswith(b"382"):
            raise StartTlsRefusedError(f"the NNTP server refused STARTTLS: {printable(reply)}")
