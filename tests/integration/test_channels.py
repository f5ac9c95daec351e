"""SMTP and NNTP over ssh stdio channels to the lab's Postfix and INN; direct TLS checks."""

from __future__ import annotations

import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pinesh.config.server_spec import ServerSpec
from pinesh.errors import UnsafeNameError
from pinesh.transport.channel import Channel
from pinesh.transport.opener import RouteError, open_route
from pinesh.transport.routes import (
    CommandRoute,
    DirectRoute,
    Security,
    SshChannelRoute,
    SshTarget,
    TlsPolicy,
)
from pinesh.transport.service import Service
from tests.integration.helpers import (
    connections,
    exchange,
    isp_rules,
    short_dir,
    stop_masters,
)
from tests.lab.dovecot import LabDovecot
from tests.lab.inn import LabInn
from tests.lab.postfix import LabPostfix
from tests.lab.sshd import LabSshd


def _isp_rule(postfix: LabPostfix, inn: LabInn) -> str:
    return isp_rules(postfix.inside_host, postfix.port, inn.host, inn.port)


def _smtp_send(channel: Channel, recipient: str, marker: str) -> bytes:
    sock = channel.sock
    reply = exchange(sock, b"EHLO client.pinesh.test\r\n", b"250 ")
    assert b"250" in reply
    exchange(sock, b"MAIL FROM:<jane@pinesh.test>\r\n", b"250 ")
    rcpt = exchange(sock, f"RCPT TO:<{recipient}>\r\n".encode(), b"")
    if not rcpt.startswith(b"250"):
        return rcpt
    exchange(sock, b"DATA\r\n", b"354 ")
    body = f"Subject: {marker}\r\nMessage-ID: <{marker}@pinesh.test>\r\n\r\nhello\r\n.\r\n"
    return exchange(sock, body.encode(), b"250 ")


def test_smtp_over_ssh_channel_relays_from_inside(
    sshd: LabSshd, postfix: LabPostfix, inn: LabInn
) -> None:
    marker = f"relay-{uuid.uuid4().hex}"
    with short_dir() as work:
        conns = connections(sshd, work, _isp_rule(postfix, inn))
        try:
            opened = conns.open(ServerSpec("smtp.isp.test"), Service.SMTP)
            channel = opened.channel
            assert isinstance(channel.route, SshChannelRoute)
            assert channel.encrypted  # an ssh channel: AUTH may use it
            assert "channel to ::1" in channel.describe()
            assert b"250" in _smtp_send(channel, "friend@elsewhere.example", marker)
            channel.close()
            assert marker.encode() in postfix.wait_for_delivery(marker.encode())
        finally:
            stop_masters(conns)


def test_direct_smtp_from_outside_is_refused_relaying(postfix: LabPostfix) -> None:
    route = DirectRoute(postfix.host, postfix.port, Security.PLAIN)

    channel = open_route(
        route,
        Service.SMTP,
        server=ServerSpec(postfix.host),
        deadline=time.monotonic() + 5,
        masters=None,
    )
    try:
        assert not channel.allows_password  # cleartext: no password may cross it
        reply = _smtp_send(channel, "friend@elsewhere.example", "refused")
        assert b"Relay access denied" in reply
    finally:
        channel.close()


def test_nntp_over_ssh_channel_posts_and_reads(
    sshd: LabSshd, postfix: LabPostfix, inn: LabInn
) -> None:
    marker = f"post-{uuid.uuid4().hex}"
    with short_dir() as work:
        conns = connections(sshd, work, _isp_rule(postfix, inn))
        try:
            channel = conns.open(ServerSpec("news.isp.test"), Service.NNTP).channel
            assert isinstance(channel.route, SshChannelRoute)
            assert channel.greeting.posting_allowed
            sock = channel.sock
            # The lab's INN is innd, which hands readers to nnrpd on MODE READER.
            assert exchange(sock, b"MODE READER\r\n", b"20").startswith(b"20")
            assert exchange(sock, b"POST\r\n", b"340").startswith(b"340")
            article = (
                f"From: jane@pinesh.test\r\nNewsgroups: local.test\r\nSubject: {marker}\r\n"
                f"Message-ID: <{marker}@pinesh.test>\r\n\r\nhello news\r\n.\r\n"
            )
            assert exchange(sock, article.encode(), b"240").startswith(b"240")
            stat = exchange(sock, f"STAT <{marker}@pinesh.test>\r\n".encode(), b"223")
            assert stat.startswith(b"223")
            channel.close()
        finally:
            stop_masters(conns)


@pytest.fixture
def fake_preauth_server() -> Iterator[int]:
    """A hostile plain-TCP server that greets PREAUTH (the STARTTLS-skipping attack)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] hello\r\n")
                conn.recv(100)

    threading.Thread(target=serve, daemon=True).start()
    yield int(server.getsockname()[1])
    server.close()


@pytest.mark.parametrize("security", [Security.PLAIN, Security.STARTTLS])
def test_preauth_on_plain_tcp_is_refused(fake_preauth_server: int, security: Security) -> None:

    route = DirectRoute("127.0.0.1", fake_preauth_server, security)
    with pytest.raises(RouteError, match="refusing PREAUTH"):
        open_route(
            route, Service.IMAP, server=ServerSpec("x"), deadline=time.monotonic() + 3, masters=None
        )


def _direct(dovecot: LabDovecot, security: Security, policy: TlsPolicy) -> Channel:

    port = dovecot.imaps_port if security is Security.TLS else dovecot.imap_port
    route = DirectRoute(dovecot.host, port, security, policy)
    return open_route(
        route,
        Service.IMAP,
        server=ServerSpec(dovecot.host),
        deadline=time.monotonic() + 5,
        masters=None,
    )


def test_tls_is_verified_by_default(dovecot: LabDovecot) -> None:
    with pytest.raises(RouteError, match="not trusted"):
        _direct(dovecot, Security.TLS, TlsPolicy())


@pytest.mark.parametrize("security", [Security.TLS, Security.STARTTLS])
def test_tls_with_ca_file_logs_in(dovecot: LabDovecot, security: Security) -> None:
    channel = _direct(dovecot, security, TlsPolicy(ca_file=str(dovecot.ca_file)))
    try:
        assert channel.encrypted and channel.allows_password
        assert channel.starttls_done == (security is Security.STARTTLS)
        login = f'a1 LOGIN {dovecot.user.name} "{dovecot.user.password}"\r\n'.encode()
        assert b"a1 OK" in exchange(channel.sock, login, b"a1 ")
    finally:
        channel.close()


def test_pinned_fingerprint(dovecot: LabDovecot) -> None:
    channel = _direct(dovecot, Security.TLS, TlsPolicy(fingerprint=dovecot.cert_sha256))
    channel.close()
    wrong = "0" * 64
    with pytest.raises(RouteError, match="does not match the pinned fingerprint"):
        _direct(dovecot, Security.TLS, TlsPolicy(fingerprint=wrong))


@pytest.mark.parametrize(
    ("host", "user"),
    [
        ("-oProxyCommand=touch /tmp/pinesh-x", None),
        ("lab", "-oProxyCommand=x"),
        ("lab\n", None),
        ("lab host", None),
        ("lab", "jane\x1b[2J"),
        ("lab;touch /tmp/pinesh-x", None),
    ],
)
def test_hostile_names_are_refused(host: str, user: str | None) -> None:
    with pytest.raises(UnsafeNameError):
        SshTarget(host, user)


def _greeter(directory: Path, name: str, greeting: str) -> str:
    """A program called name that greets like an IMAP server, then waits for stdin's end."""
    program = directory / name
    program.write_text(
        f"#!{sys.executable}\nimport sys\n"
        f"sys.stdout.write({greeting!r}); sys.stdout.flush(); sys.stdin.read()\n"
    )
    program.chmod(0o755)
    return str(program)


def _open_command(argv: str) -> Channel:
    return open_route(
        CommandRoute((argv,), label="rsh-command"),
        Service.IMAP,
        server=ServerSpec("x"),
        deadline=time.monotonic() + 5,
        masters=None,
    )


@pytest.mark.parametrize("name", ["rsh", "remsh", "rlogin"])
def test_cleartext_command_route_refuses_preauth_and_passwords(tmp_path: Path, name: str) -> None:
    """A real rsh is cleartext: its PREAUTH could be forged, and no password may cross it."""
    preauth = _greeter(tmp_path, name, "* PREAUTH hi\r\n")
    with pytest.raises(RouteError, match=f"refusing PREAUTH over {preauth}: {name} sends"):
        _open_command(preauth)
    (tmp_path / name).unlink()
    channel = _open_command(_greeter(tmp_path, name, "* OK hi\r\n"))
    try:
        assert not channel.allows_password
        assert channel.describe().endswith("(login; cleartext)")
    finally:
        channel.close()


def test_command_of_unknown_encryption_gets_preauth_but_no_password(tmp_path: Path) -> None:
    """A wrapper script is a local pipe: its PREAUTH is believed, a password is not sent."""
    script = _greeter(tmp_path, "script", "* PREAUTH hi\r\n")
    channel = _open_command(script)
    try:
        assert channel.preauthenticated
        assert not channel.encrypted and not channel.allows_password
        assert channel.describe() == (
            f"rsh-command {script} (preauth; command, encryption not known)"
        )
    finally:
        channel.close()


def test_tls_handshake_timeout_counts_as_a_timeout(dovecot: LabDovecot) -> None:
    """A port that accepts but never speaks TLS is remembered as slow, not as broken."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        route = DirectRoute("127.0.0.1", server.getsockname()[1], Security.TLS)
        with pytest.raises(RouteError) as failure:
            open_route(
                route,
                Service.IMAP,
                server=ServerSpec("x"),
                deadline=time.monotonic() + 1,
                masters=None,
            )
        assert failure.value.timed_out
    finally:
        server.close()
