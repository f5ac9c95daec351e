"""Attacker servers for the STARTTLS tests: IMAP, SMTP and NNTP on loopback, in a thread.

Each speaks just enough of its protocol to take pinesh through STARTTLS and a login, and
misbehaves in one of the ways of Poddebniak et al., "Why TLS is better without STARTTLS"
(USENIX Security 2021): data after the STARTTLS reply, STARTTLS hidden or refused, a
reply that is not the go-ahead, a PREAUTH (or "authenticated") in place of TLS, state sent
before TLS, an alert before TLS. Every line the server hears is kept with whether it came
over TLS, so a test can say what crossed in cleartext.

The TLS certificate is made at test time with the openssl command (a self-signed one for
mail.example.org and 127.0.0.1): the client trusts it through the route's TlsPolicy
ca_file, pinesh's own knob for a CA file.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.unit.command_masters import CommandMasters

USER = "jane"
SECRET = "s3cret-pw"
TLS_NAME = "mail.example.org"

# The attacks, by the paper's letters; O comes in three kinds; SMTP also has B-early.
ATTACKS = ("B", "D", "O-bad", "O-no", "O-garbage", "P", "T", "U")
GARBAGE = b"HTTP/1.1 400 Bad Request\r\n"
ALERT_TEXT = b"ALERT your mailbox is locked, mail your password to root@attacker.example"


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate (and its key) for TLS_NAME and 127.0.0.1."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={TLS_NAME}",
            "-addext",
            f"subjectAltName=DNS:{TLS_NAME},IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass
class Wire:
    """The server's end of one connection: cleartext, then TLS after start_tls()."""

    sock: socket.socket
    context: ssl.SSLContext
    tls: bool = False
    heard: list[tuple[bool, bytes]] = field(default_factory=list)  # (over TLS, line)

    def send(self, data: bytes) -> None:
        """One write, so what it holds leaves in one TCP segment."""
        self.sock.sendall(data)

    def line(self) -> bytes:
        """One line, read a byte at a time so the client's TLS hello is never swallowed."""
        data = bytearray()
        while not data.endswith(b"\n"):
            byte = self.sock.recv(1)
            if not byte:
                break
            data += byte
        self.heard.append((self.tls, bytes(data)))
        return bytes(data)

    def start_tls(self) -> None:
        self.sock = self.context.wrap_socket(self.sock, server_side=True)
        self.tls = True

    def cleartext(self) -> bytes:
        """Everything the client said before TLS (or with no TLS at all)."""
        return b"".join(line for tls, line in self.heard if not tls)

    def over_tls(self) -> bytes:
        return b"".join(line for tls, line in self.heard if tls)


class FakeServer:
    """Listens on 127.0.0.1, serves one connection with script in a thread."""

    def __init__(self, script: Callable[[Wire], None], cert: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(10)
        self.port: int = self.listener.getsockname()[1]
        self.script = script
        self.wires: list[Wire] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            sock, _ = self.listener.accept()
            sock.settimeout(10)
            wire = Wire(sock, self.context)
            self.wires.append(wire)
            with contextlib.suppress(OSError, ValueError):  # the client gave up on us
                self.script(wire)
            with contextlib.suppress(OSError):
                wire.sock.close()

    def cleartext(self) -> bytes:
        return b"".join(wire.cleartext() for wire in self.wires)

    def over_tls(self) -> bytes:
        return b"".join(wire.over_tls() for wire in self.wires)

    def close(self) -> None:
        self.listener.close()
        self.thread.join(timeout=10)


# --- IMAP ----------------------------------------------------------------------------------

IMAP_CAPS_AFTER_TLS = b"IMAP4rev1 AUTH=PLAIN X-AFTER-TLS"
IMAP_STATE_BEFORE_TLS = (
    b"* CAPABILITY IMAP4rev1 AUTH=PLAIN X-INJECTED\r\n"
    b"* 7 EXISTS\r\n"
    b'* LIST () "/" Injected\r\n'
    b"* STATUS INBOX (MESSAGES 7)\r\n"
    b"* 1 FETCH (FLAGS (\\Seen))\r\n"
)


def _imap_session(wire: Wire) -> None:
    """An IMAP server after STARTTLS (or instead of it): CAPABILITY, logins, LOGOUT."""
    while line := wire.line():
        tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
        verb = rest.split(b" ", 1)[0].upper()
        if verb == b"CAPABILITY":
            wire.send(b"* CAPABILITY " + IMAP_CAPS_AFTER_TLS + b"\r\n" + tag + b" OK done\r\n")
        elif verb == b"AUTHENTICATE":
            wire.send(b"+ \r\n")
            wire.line()
            wire.send(tag + b" OK logged in\r\n")
        elif verb == b"LOGIN":
            wire.send(tag + b" OK logged in\r\n")
        elif verb == b"LOGOUT":
            wire.send(b"* BYE bye\r\n" + tag + b" OK done\r\n")
            return
        else:
            wire.send(tag + b" BAD what\r\n")


def imap_attacker(attack: str) -> Callable[[Wire], None]:
    """An IMAP server that greets, answers STARTTLS as attack says, and goes on."""
    greetings = {
        "D": b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n",
        "P": b"* PREAUTH [CAPABILITY IMAP4rev1] logged in as jane\r\n",
        "T": b"* OK [CAPABILITY IMAP4rev1 STARTTLS X-BEFORE-TLS] ready\r\n",
        "U": b"* OK [" + ALERT_TEXT + b"]\r\n",
    }
    replies = {
        "B": b"p1 OK Begin TLS\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN X-INJECTED\r\n",
        "D": b"p1 BAD unknown command\r\n",
        "O-bad": b"p1 BAD unknown command\r\n",
        "O-no": b"p1 NO STARTTLS not available\r\n",
        "O-garbage": GARBAGE,
        "T": IMAP_STATE_BEFORE_TLS + b"p1 OK Begin TLS\r\n",
    }

    def script(wire: Wire) -> None:
        wire.send(greetings.get(attack, b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"))
        line = wire.line()
        if line.upper().endswith(b" STARTTLS\r\n"):
            reply = replies.get(attack, b"p1 OK Begin TLS\r\n")
            wire.send(reply)
            if b"p1 OK" in reply:
                wire.start_tls()
        elif line:
            wire.send(line.split(b" ", 1)[0] + b" BAD say STARTTLS first\r\n")
        _imap_session(wire)

    return script


# --- SMTP ----------------------------------------------------------------------------------

SMTP_EHLO_BEFORE_TLS = b"250-mail.example.org\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n"
SMTP_EHLO_AFTER_TLS = b"250-mail.example.org\r\n250-8BITMIME\r\n250 AUTH LOGIN\r\n"


def _smtp_session(wire: Wire, ehlo: bytes) -> None:
    """An SMTP server: EHLO (answered with ehlo), AUTH PLAIN/LOGIN, a mail, QUIT."""
    while line := wire.line():
        verb = line.rstrip(b"\r\n").split(b" ", 1)[0].upper()
        if verb == b"EHLO":
            wire.send(ehlo)
        elif verb == b"AUTH" and b"LOGIN" in line.upper():
            for prompt in (b"VXNlcm5hbWU6", b"UGFzc3dvcmQ6"):
                wire.send(b"334 " + prompt + b"\r\n")
                wire.line()
            wire.send(b"235 2.7.0 logged in\r\n")
        elif verb == b"AUTH":
            wire.send(b"235 2.7.0 logged in\r\n")
        elif verb in (b"MAIL", b"RCPT", b"RSET", b"HELO"):
            wire.send(b"250 2.0.0 ok\r\n")
        elif verb == b"DATA":
            wire.send(b"354 go on\r\n")
            while wire.line() not in (b".\r\n", b""):
                pass
            wire.send(b"250 2.0.0 queued\r\n")
        elif verb == b"QUIT":
            wire.send(b"221 2.0.0 bye\r\n")
            return
        else:
            wire.send(b"500 5.5.2 what\r\n")


def smtp_attacker(attack: str) -> Callable[[Wire], None]:
    """An SMTP server that greets, offers (or hides) STARTTLS, answers it as attack says."""
    greeting = b"220 mail.example.org ESMTP\r\n"
    if attack == "U":
        greeting = b"220-mail.example.org ESMTP\r\n220 " + ALERT_TEXT + b"\r\n"
    ehlo = SMTP_EHLO_BEFORE_TLS
    if attack == "D":
        ehlo = b"250-mail.example.org\r\n250 AUTH PLAIN LOGIN\r\n"
    if attack == "B-early":
        # The go-ahead sent with the EHLO reply, ahead of the STARTTLS it would answer.
        ehlo = SMTP_EHLO_BEFORE_TLS + b"220 2.0.0 Ready to start TLS\r\n"
    replies = {
        "B": b"220 2.0.0 Ready to start TLS\r\n250 2.0.0 injected\r\n",
        "O-bad": b"502 5.5.1 unknown command\r\n",
        "O-no": b"454 4.7.0 TLS not available\r\n",
        "O-garbage": GARBAGE,
        "P": b"235 2.7.0 Authentication successful\r\n",
    }

    def script(wire: Wire) -> None:
        wire.send(greeting)
        while line := wire.line():
            verb = line.rstrip(b"\r\n").split(b" ", 1)[0].upper()
            if verb == b"EHLO":
                wire.send(ehlo)
            elif verb == b"STARTTLS":
                reply = replies.get(attack, b"220 2.0.0 Ready to start TLS\r\n")
                wire.send(reply)
                if reply.startswith(b"220 "):
                    wire.start_tls()
                    _smtp_session(wire, SMTP_EHLO_AFTER_TLS)
                    return
            else:
                # Not STARTTLS: serve the rest in cleartext, as a downgraded server would.
                _smtp_after(wire, line, ehlo)
                return

    return script


def _smtp_after(wire: Wire, first: bytes, ehlo: bytes) -> None:
    """Answer first (already read) and go on with the cleartext session."""
    verb = first.rstrip(b"\r\n").split(b" ", 1)[0].upper()
    if verb == b"QUIT":
        wire.send(b"221 2.0.0 bye\r\n")
        return
    if verb == b"AUTH":
        wire.send(b"235 2.7.0 logged in\r\n")
    else:
        wire.send(b"250 2.0.0 ok\r\n")
    _smtp_session(wire, ehlo)


# --- NNTP ----------------------------------------------------------------------------------


def _nntp_session(wire: Wire, mode_reader: bytes | None) -> None:
    """An NNTP server that asks for AUTHINFO (480) until given it, then serves MODE READER.

    mode_reader: the reply to MODE READER once logged in (None: 200 posting allowed).
    """
    logged_in = False
    while line := wire.line():
        words = line.rstrip(b"\r\n").split(b" ")
        verb = words[0].upper()
        if verb == b"AUTHINFO" and words[1].upper() == b"USER":
            wire.send(b"381 password please\r\n")
        elif verb == b"AUTHINFO":
            logged_in = True
            wire.send(b"281 welcome\r\n")
        elif verb == b"QUIT":
            wire.send(b"205 bye\r\n")
            return
        elif not logged_in and mode_reader is None:
            wire.send(b"480 log in first\r\n")
        elif verb == b"MODE":
            wire.send(mode_reader or b"200 posting allowed\r\n")
        else:
            wire.send(b"500 what\r\n")


def nntp_attacker(attack: str) -> Callable[[Wire], None]:
    """An NNTP server that greets and answers STARTTLS as attack says."""
    greetings = {"T": b"201 news.example.org no posting\r\n", "U": b"200 " + ALERT_TEXT + b"\r\n"}
    replies = {
        "B": b"382 Continue with TLS negotiation\r\n200 injected\r\n",
        "D": b"500 What?\r\n",
        "O-bad": b"501 syntax error\r\n",
        "O-no": b"580 Can not initiate TLS negotiation\r\n",
        "O-garbage": GARBAGE,
        "P": b"281 Authentication accepted\r\n",
    }

    def script(wire: Wire) -> None:
        wire.send(greetings.get(attack, b"200 news.example.org ready\r\n"))
        line = wire.line()
        if line.upper() == b"STARTTLS\r\n":
            reply = replies.get(attack, b"382 Continue with TLS negotiation\r\n")
            wire.send(reply)
            if reply.startswith(b"382 "):
                wire.start_tls()
        elif line:
            wire.send(b"483 say STARTTLS first\r\n")
        # After TLS in T, MODE READER is answered 501 (a reader server already): the
        # posting status can then come only from what was said before TLS.
        _nntp_session(wire, b"501 unknown\r\n" if attack == "T" else None)

    return script


ATTACKERS: dict[str, Callable[[str], Callable[[Wire], None]]] = {
    "imap": imap_attacker,
    "smtp": smtp_attacker,
    "nntp": nntp_attacker,
}


def password_forms() -> list[bytes]:
    """The password as it may cross the wire: plain, or in SASL PLAIN / LOGIN base64."""
    return [
        SECRET.encode(),
        base64.b64encode(SECRET.encode()),
        base64.b64encode(f"\0{USER}\0{SECRET}".encode()),
    ]


# --- ssh channels: a relay in place of ssh -W ------------------------------------------------

RELAY = r"""
import select, socket, sys
up = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
down = socket.socket(fileno=0)
while True:
    ready, _, _ = select.select([up, down], [], [])
    for s in ready:
        data = s.recv(65536)
        if not data:
            sys.exit(0)
        (down if s is up else up).sendall(data)
"""


def relay_masters(port: int) -> CommandMasters:
    """Each channel is a relay to the fake server's port, on the socketpair a real ssh -W
    would have, so the opener's ssh-channel code runs as it is."""
    return CommandMasters([sys.executable, "-I", "-c", RELAY, str(port)])


@contextlib.contextmanager
def fake_server(protocol: str, attack: str, cert: Path, key: Path) -> Iterator[FakeServer]:
    server = FakeServer(ATTACKERS[protocol](attack), cert, key)
    try:
        yield server
    finally:
        server.close()
