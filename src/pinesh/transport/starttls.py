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


def negotiate(sock: socket.socket, service: Service, deadline: float) -> None:
    """Ask the server to start TLS; return when the TLS handshake may begin."""
    if service is Service.IMAP:
        tag = b"p1"
        sock.sendall(tag + b" STARTTLS\r\n")
        while True:
            line = read_line(sock, deadline)
            result = imap_tagged_result(line, tag)
            if result is True:
                return
            if result is False:
                raise StartTlsError(f"the IMAP server refused STARTTLS: {printable(line)}")
    elif service is Service.SMTP:
        local = sock.getsockname()
        literal = f"[IPv6:{local[0]}]" if sock.family == socket.AF_INET6 else f"[{local[0]}]"
        sock.sendall(f"EHLO {literal}\r\n".encode())
        lines = [read_line(sock, deadline)]
        while not smtp_reply_done(lines[-1]):
            lines.append(read_line(sock, deadline))
        if not lines[0].startswith(b"250"):
            raise StartTlsError(f"the SMTP server refused EHLO: {printable(lines[0])}")
        if not smtp_has_starttls(lines):
            raise StartTlsError("the SMTP server does not offer STARTTLS")
        sock.sendall(b"STARTTLS\r\n")
        reply = read_line(sock, deadline)
        while not smtp_reply_done(reply):
            reply = read_line(sock, deadline)
        if not reply.startswith(b"220"):
            raise StartTlsError(f"the SMTP server refused STARTTLS: {printable(reply)}")
    else:
        sock.sendall(b"STARTTLS\r\n")
        reply = read_line(sock, deadline)
        if not reply.startswith(b"382"):
            raise StartTlsError(f"the NNTP server refused STARTTLS: {printable(reply)}")
