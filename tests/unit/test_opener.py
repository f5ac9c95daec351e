"""open_route over ssh channels: how far a channel is trusted with a password.

The ssh child is a small Python server on the socketpair (a fake master pool starts it),
so what the opener sends over the channel is seen, and nothing needs a network.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import cast

import pytest

from pinesh.config.server_spec import ServerSpec
from pinesh.transport.channel import Channel
from pinesh.transport.masters import MasterPool
from pinesh.transport.opener import RouteError, open_route
from pinesh.transport.routes import SshChannelRoute, SshTarget, TlsPolicy
from pinesh.transport.service import Service
from tests.unit.command_masters import CommandMasters

# Greets, then logs each line it reads and answers it as a server without STARTTLS would.
FAKE_SERVER = r"""
import sys
greeting, log = sys.argv[1], sys.argv[2]
answers = {b"p1 STARTTLS": b"p1 BAD no TLS here\r\n", b"STARTTLS": b"502 no TLS here\r\n"}
out = sys.stdout.buffer
out.write(greeting.encode() + b"\r\n"); out.flush()
for line in sys.stdin.buffer:
    with open(log, "ab") as f:
        f.write(line)
    line = line.rstrip(b"\r\n")
    if line.startswith(b"EHLO"):
        out.write(b"250-mail.example.org\r\n250 8BITMIME\r\n")
    else:
        out.write(answers.get(line, b"500 what\r\n"))
    out.flush()
"""

GREETINGS = {
    Service.IMAP: "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready",
    Service.SMTP: "220 mail.example.org ESMTP",
    Service.NNTP: "200 news.example.org ready",
}


def fake_masters(service: Service, log: Path) -> CommandMasters:
    """Every channel is the fake server of service, logging to log."""
    return CommandMasters([sys.executable, "-I", "-c", FAKE_SERVER, GREETINGS[service], str(log)])


def _open(route: SshChannelRoute, service: Service, log: Path) -> Channel:
    return open_route(
        route,
        service,
        server=ServerSpec("mail.example.org"),
        deadline=time.monotonic() + 10,
        masters=cast(MasterPool, fake_masters(service, log)),
    )


SHELL = SshTarget("shell.example.org")


@pytest.mark.parametrize("service", list(Service))
def test_a_channel_beyond_the_login_host_carries_no_password_without_tls(
    service: Service, tmp_path: Path
) -> None:
    log = tmp_path / "said"
    channel = _open(SshChannelRoute(SHELL, "mail.example.org", 143), service, log)
    try:
        assert not channel.encrypted and not channel.allows_password
        assert not channel.starttls_done
        assert "cleartext beyond shell.example.org" in channel.describe()
    finally:
        channel.close()
    # STARTTLS was looked for over the last hop (SMTP: in the EHLO reply, which has none
    # here), and its absence was survived.
    asked = {
        Service.IMAP: b"p1 STARTTLS\r\n",
        Service.SMTP: b"EHLO ",
        Service.NNTP: b"STARTTLS\r\n",
    }
    assert log.read_bytes().startswith(asked[service])


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "::1", "[::1]"])
def test_a_channel_to_the_login_host_itself_stays_trusted(host: str, tmp_path: Path) -> None:
    log = tmp_path / "said"
    channel = _open(SshChannelRoute(SHELL, host, 143), Service.IMAP, log)
    try:
        assert channel.encrypted and channel.allows_password
        assert "cleartext" not in channel.describe()
    finally:
        channel.close()
    assert not log.exists()  # nothing was sent: no STARTTLS inside ssh


def test_a_private_hop_carries_a_password_without_starttls(tmp_path: Path) -> None:
    log = tmp_path / "said"
    route = SshChannelRoute(SHELL, "mail.example.org", 143, private_hop=True)
    channel = _open(route, Service.IMAP, log)
    try:
        assert channel.encrypted and channel.allows_password
        assert "private hop" in channel.describe()
    finally:
        channel.close()
    assert not log.exists()


# Greets, takes IMAP STARTTLS, then speaks TLS on the channel with the given key and cert.
TLS_SERVER = r"""
import socket, ssl, sys
cert, key = sys.argv[1], sys.argv[2]
sock = socket.socket(fileno=0)
sock.sendall(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n")
line = b""
while not line.endswith(b"\r\n"):
    line += sock.recv(1)
sock.sendall(b"p1 OK begin TLS\r\n")
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
tls = context.wrap_socket(sock, server_side=True)
tls.sendall(b"* OK over TLS\r\n")
tls.recv(100)
"""


def _self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    request = [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        f"/CN={name}",
    ]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        ["openssl", *request, *files, "-addext", f"subjectAltName=DNS:{name}"],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_starttls_over_the_last_hop_makes_the_channel_carry_a_password(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path, "mail.example.org")
    masters = fake_masters(Service.IMAP, tmp_path / "unused")
    masters.argv = [sys.executable, "-I", "-c", TLS_SERVER, str(cert), str(key)]
    route = SshChannelRoute(SHELL, "mail.example.org", 143, tls=TlsPolicy(ca_file=str(cert)))
    channel = open_route(
        route,
        Service.IMAP,
        server=ServerSpec("mail.example.org"),
        deadline=time.monotonic() + 10,
        masters=cast(MasterPool, masters),
    )
    try:
        assert channel.starttls_done and channel.encrypted and channel.allows_password
        assert "STARTTLS" in channel.describe()
        channel.sock.settimeout(5)
        assert channel.sock.recv(100) == b"* OK over TLS\r\n"
    finally:
        channel.close()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_a_last_hop_certificate_for_another_name_fails_the_route(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path, "elsewhere.example.org")
    masters = fake_masters(Service.IMAP, tmp_path / "unused")
    masters.argv = [sys.executable, "-I", "-c", TLS_SERVER, str(cert), str(key)]
    route = SshChannelRoute(SHELL, "mail.example.org", 143, tls=TlsPolicy(ca_file=str(cert)))
    with pytest.raises(RouteError):
        open_route(
            route,
            Service.IMAP,
            server=ServerSpec("mail.example.org"),
            deadline=time.monotonic() + 10,
            masters=cast(MasterPool, masters),
        )


# Greets, complains on stderr (as ssh does when it is killed), answers STARTTLS with the
# go-ahead and something after it in the same write, then waits to be killed.
INJECTING_SERVER = r"""
import socket, sys, time
sock = socket.socket(fileno=0)
sock.sendall(b"* OK ready\r\n")
line = b""
while not line.endswith(b"\r\n"):
    line += sock.recv(1)
sys.stderr.write("Connection to shell.example.org closed by remote host.\n")
sys.stderr.flush()
sock.sendall(b"p1 OK begin TLS\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n")
time.sleep(30)
"""


def test_a_starttls_failure_found_by_pinesh_is_named_before_what_ssh_said(
    tmp_path: Path,
) -> None:
    masters = fake_masters(Service.IMAP, tmp_path / "unused")
    masters.argv = [sys.executable, "-I", "-c", INJECTING_SERVER]
    route = SshChannelRoute(SHELL, "mail.example.org", 143)
    with pytest.raises(RouteError) as caught:
        open_route(
            route,
            Service.IMAP,
            server=ServerSpec("mail.example.org"),
            deadline=time.monotonic() + 10,
            masters=cast(MasterPool, masters),
        )
    reason = caught.value.reason
    assert reason.startswith("the server sent data after the STARTTLS reply")
    assert reason.endswith("ssh said: Connection to shell.example.org closed by remote host.")
