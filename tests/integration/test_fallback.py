"""Failing ssh routes fall back to direct TLS with the reason kept; the next open does not wait."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from pinesh.config.server_spec import ServerSpec
from pinesh.transport.opener import RouteError, open_route
from pinesh.transport.routes import (
    CommandRoute,
    DirectRoute,
    Security,
    SshPreauthRoute,
)
from pinesh.transport.service import Service
from tests.integration.helpers import connections, exchange, short_dir, stop_masters
from tests.lab.common import free_port
from tests.lab.dovecot import LabDovecot
from tests.lab.sshd import LabSshd


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A port that accepts TCP connections and then never says a word (a dead ssh port)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    for sock in held:
        sock.close()
    server.close()


def _rule(
    dovecot: LabDovecot, *, command: str = "/usr/lib/dovecot/imap", ssh_port: int | None = None
) -> str:
    port_line = f"ssh_port = {ssh_port}" if ssh_port else ""
    return f"""
[[rule]]
servers = ["{dovecot.host}"]
services = ["imap"]
login = "lab"
{port_line}
imap_command = ["{command}"]
fallback = ["tls:{dovecot.imaps_port}"]
ca_file = "{dovecot.ca_file}"
"""


@pytest.mark.parametrize(
    ("case", "expected_reason"),
    [
        ("wrong-command", "not found"),
        ("refused-port", "Connection refused"),
    ],
)
def test_failing_ssh_route_falls_back_to_tls(
    sshd: LabSshd, dovecot: LabDovecot, case: str, expected_reason: str
) -> None:
    if case == "wrong-command":
        body = _rule(dovecot, command="/usr/lib/dovecot/no-such-imapd")
    else:
        body = _rule(dovecot, ssh_port=free_port())
    with short_dir() as work:
        conns = connections(sshd, work, body)
        try:
            opened = conns.open(ServerSpec(dovecot.host), Service.IMAP)
            channel = opened.channel
            assert isinstance(channel.route, DirectRoute)
            assert channel.route.security is Security.TLS
            assert channel.encrypted and not channel.preauthenticated
            [failure] = opened.fell_back_from
            assert isinstance(failure.route, SshPreauthRoute)
            assert expected_reason in failure.reason
            assert not failure.timed_out
            login = f'a1 LOGIN {dovecot.user.name} "{dovecot.user.password}"\r\n'.encode()
            assert b"a1 OK" in exchange(channel.sock, login, b"a1 ")
            channel.close()
        finally:
            stop_masters(conns)


def test_blackholed_ssh_port_waits_once_per_network(
    sshd: LabSshd, dovecot: LabDovecot, blackhole: int
) -> None:
    timeout = 2.0
    with short_dir() as work:
        conns = connections(sshd, work, _rule(dovecot, ssh_port=blackhole), timeout=timeout)
        try:
            began = time.monotonic()
            first = conns.open(ServerSpec(dovecot.host), Service.IMAP)
            waited = time.monotonic() - began
            assert waited >= timeout  # the dead port cost the whole open timeout once
            [failure] = first.fell_back_from
            assert failure.timed_out
            assert isinstance(first.channel.route, DirectRoute)
            first.channel.close()

            began = time.monotonic()
            second = conns.open(ServerSpec(dovecot.host), Service.IMAP)
            assert second.fell_back_from == []  # TLS, remembered, was tried first
            assert isinstance(second.channel.route, DirectRoute)
            assert time.monotonic() - began < timeout / 2
            second.channel.close()

            # A different network has its own memory: there the ssh route comes first again.
            other = connections(
                sshd, work, _rule(dovecot, ssh_port=blackhole), timeout=timeout, network="other-net"
            )
            order = other.memory().order(
                other.plan(ServerSpec(dovecot.host), Service.IMAP).key,
                other.plan(ServerSpec(dovecot.host), Service.IMAP).routes,
            )
            assert isinstance(order[0], SshPreauthRoute)
        finally:
            stop_masters(conns)


def test_timeout_kills_the_child() -> None:
    """A command route that never greets is killed at the deadline, leaving no process."""
    route = CommandRoute(("sleep", "31.4159"))
    began = time.monotonic()
    with pytest.raises(RouteError) as failure:
        open_route(route, Service.IMAP, server=ServerSpec("x"), deadline=began + 1.0, masters=None)
    assert failure.value.timed_out
    assert 1.0 <= time.monotonic() - began < 5
    found = subprocess.run(["pgrep", "-f", "sleep 31.4159"], capture_output=True, check=False)
    assert found.stdout == b""


def test_direct_when_reachable_skips_ssh(sshd: LabSshd, dovecot: LabDovecot) -> None:
    """On a network where the server answers directly, the rule goes straight to TLS."""
    body = _rule(dovecot, command="/usr/lib/dovecot/no-such-imapd").replace(
        "fallback =",
        f'direct_when = {{ reachable = "{dovecot.host}:{dovecot.imaps_port}" }}\nfallback =',
    )
    with short_dir() as work:
        conns = connections(sshd, work, body)
        plan = conns.plan(ServerSpec(dovecot.host), Service.IMAP)
        assert [type(r) for r in plan.routes] == [DirectRoute]
        assert any("reachable" in note for note in plan.notes)
        opened = conns.open(ServerSpec(dovecot.host), Service.IMAP)
        assert opened.fell_back_from == []
        opened.channel.close()
