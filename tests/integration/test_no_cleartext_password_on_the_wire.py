"""No password crosses the wire in clear: loopback captured with tcpdump while pinesh logs in.

A private Dovecot knows the lab user by a password found nowhere else (SECRET), and a
private Postfix offers submission with STARTTLS and AUTH checked by that Dovecot. Each of
pinesh's password routes logs in (the login is checked to have happened) under its own
capture of the loopback interface, and the capture is searched for the password, its
base64 forms at every alignment (AUTHENTICATE PLAIN, AUTH PLAIN, AUTH LOGIN), and the whole
PLAIN token. Expected: 0 everywhere.

Controls: a route the user forced to cleartext is refused by pinesh before the password is
even asked for (0 bytes), and a raw client that does send LOGIN and AUTH PLAIN over plain
TCP is seen in the capture (at least 1), so the capture would have shown a leak.

The ssh channel to the login host is captured on the ssh connection (the link between the
client and the login host); the hop from sshd to Dovecot is inside the login host (here its
loopback) and is left out of that capture, as it would never be on a wire. A second capture
of all of loopback does see the login on that inside hop.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pinesh.config.pinerc import parse_pinerc
from pinesh.config.pinesh_toml import parse_settings
from pinesh.config.server_spec import ServerSpec, parse_server_spec
from pinesh.senders.base import SendError
from pinesh.senders.compose import Draft, compose
from pinesh.services.connections import Connections
from pinesh.services.sending import smtp_sender
from pinesh.stores.base import Address, StoreError
from pinesh.stores.imap.store import ImapStore
from pinesh.stores.nntp.store import NntpStore
from pinesh.transport.channel import Channel
from pinesh.transport.environment import Environment
from pinesh.transport.opener import open_route
from pinesh.transport.routes import DirectRoute, Security, TlsPolicy
from pinesh.transport.service import Service
from tests.integration.helpers import connections, short_dir, stop_masters
from tests.integration.netlab_helpers import write_home_files
from tests.lab.capture import Capture, base64_forms, capture
from tests.lab.common import LabError, LabUser, free_port, lab_failure, make_lab_dir
from tests.lab.dovecot import LabDovecot, start_dovecot
from tests.lab.inn import LabInn
from tests.lab.netlab import NetLab
from tests.lab.netlab_network import HOME_GATEWAY, ISP_GATEWAY, MAIL_GATEWAY, MAILHOST_ADDRESS
from tests.lab.netns import socket_in
from tests.lab.nnrpd_auth import AuthNnrpd, start_auth_nnrpd
from tests.lab.postfix import LabPostfix, Submission, start_postfix
from tests.lab.sshd import LabSshd

SECRET = "pw-7f3a9c-secret"

# Dovecot's auth socket for Postfix's SASL (base_dir/auth-postfix). And sshd's connections
# (from 127.0.0.1) count as local, as on a login host whose Dovecot listens on localhost:
# a login over the ssh channel's last hop, inside the login host, needs no TLS. This lets
# plaintext logins from 127.0.0.1 in too; pinesh's own refusal is what the controls test.
EXTRA_CONFIG = """
login_trusted_networks = 127.0.0.1/32
service auth {
  unix_listener auth-postfix {
    mode = 0660
    user = postfix
    group = postfix
  }
}
"""


@dataclass
class WireLab:
    user: LabUser  # the lab user, with SECRET as its password at this Dovecot
    dovecot: LabDovecot
    postfix: LabPostfix
    submission_port: int
    work: Path

    def needles(self) -> dict[str, bytes]:
        """What a password leak looks like on the wire."""
        secret = SECRET.encode()
        plain = base64.b64encode(f"\0{self.user.name}\0{SECRET}".encode())
        found = {"password": secret, "AUTH PLAIN token": plain}
        for offset, form in enumerate(base64_forms(secret)):
            found[f"base64 of the password, offset {offset}"] = form
        return found

    def leaks(self, result: Capture) -> dict[str, int]:
        """Occurrences of each needle in the capture; printed, for docs/security.md (-s)."""
        found = {what: result.count(needle) for what, needle in self.needles().items()}
        print(
            f"\n{result.path.stem}: {result.packets} packets on {result.interface}"
            f"{' (' + result.bpf + ')' if result.bpf else ''}; found {found}"
        )
        return found


@pytest.fixture(scope="module")
def wire(lab_user: LabUser) -> Iterator[WireLab]:
    user = dataclasses.replace(lab_user, password=SECRET)
    try:
        dovecot = start_dovecot(user, make_lab_dir("dovecot"), extra_config=EXTRA_CONFIG)
    except LabError as exc:
        lab_failure(exc)
        raise
    port = free_port()
    submission = Submission(
        port,
        dovecot.directory / "run" / "auth-postfix",
        dovecot.directory / "server.pem",
        dovecot.directory / "server.key",
    )
    try:
        postfix = start_postfix(
            user,
            make_lab_dir("postfix"),
            outside="127.0.0.1",
            inside="127.0.0.1",
            mynetworks="192.0.2.1/32",
            submission=submission,
        )
    except LabError as exc:
        dovecot.stop()
        lab_failure(exc)
        raise
    with short_dir("pw-") as work:
        yield WireLab(user, dovecot, postfix, port, work)
    postfix.stop()
    dovecot.stop()


def _asker(asked: list[int]) -> Callable[[], str]:
    def password() -> str:
        asked.append(1)
        return SECRET

    return password


def _direct_imap(dovecot: LabDovecot, security: Security) -> Callable[[], Channel]:
    port = dovecot.imaps_port if security is Security.TLS else dovecot.imap_port
    route = DirectRoute(dovecot.host, port, security, TlsPolicy(ca_file=str(dovecot.ca_file)))

    def open_channel() -> Channel:
        return open_route(
            route,
            Service.IMAP,
            server=ServerSpec(dovecot.host),
            deadline=time.monotonic() + 10,
            masters=None,
        )

    return open_channel


def _imap_login(wire: WireLab, open_channel: Callable[[], Channel]) -> None:
    """Log in through open_channel and open INBOX; check the login reached Dovecot."""
    asked: list[int] = []
    logins = wire.dovecot.logins()
    store = ImapStore(open_channel, user=wire.user.name, password=_asker(asked), name="wire")
    try:
        store.open("INBOX").status()
    finally:
        store.close()
    assert asked == [1]
    deadline = time.monotonic() + 5
    while wire.dovecot.logins() == logins and time.monotonic() < deadline:
        time.sleep(0.05)  # the daemon writes its log a moment later
    assert wire.dovecot.logins() == logins + 1


def _smtp_rule(wire: WireLab, fallback: str) -> str:
    return f"""
[[rule]]
servers = ["127.0.0.1"]
services = ["smtp"]
via = "direct"
fallback = ["{fallback}:{wire.submission_port}"]
ca_file = "{wire.dovecot.ca_file}"
"""


def _send(conns: Connections, wire: WireLab, asked: list[int]) -> bytes:
    marker = f"wire-{uuid.uuid4().hex}"
    draft = Draft(
        sender=Address("", f"{wire.user.name}@pinesh.test"),
        to=(Address("", f"anyone@{wire.postfix.domain}"),),
        subject=marker,
        body="over submission\n",
    )
    composed = compose(draft, domain="pinesh.test", message_id=f"<{marker}@pinesh.test>")
    spec = parse_server_spec(f"127.0.0.1/user={wire.user.name}")
    smtp_sender(conns, spec, password=_asker(asked)).send(composed.outgoing)
    return marker.encode()


# ------------------------------------------------------------------ pinesh's routes


def test_imap_over_tls_993(wire: WireLab) -> None:
    with capture(wire.work, name="imaps") as result:
        _imap_login(wire, _direct_imap(wire.dovecot, Security.TLS))
    assert result.packets > 10
    assert wire.leaks(result) == dict.fromkeys(wire.needles(), 0)


def test_imap_over_starttls_143(wire: WireLab) -> None:
    with capture(wire.work, name="imap-starttls") as result:
        _imap_login(wire, _direct_imap(wire.dovecot, Security.STARTTLS))
    assert result.packets > 10
    assert wire.leaks(result) == dict.fromkeys(wire.needles(), 0)


def test_imap_over_an_ssh_channel_to_the_login_host(wire: WireLab, sshd: LabSshd) -> None:
    rule = f"""
[[rule]]
servers = ["lab"]
services = ["imap"]
target = "{wire.dovecot.host}"
ports = {{ imap = {wire.dovecot.imap_port} }}
fallback = []
"""
    with short_dir() as work:
        conns = connections(sshd, work, rule)
        try:
            # The link between the client and the login host: the ssh connection. And all
            # of loopback, which here holds the login host's inside too (sshd to Dovecot).
            with (
                capture(wire.work, name="imap-ssh-all-of-lo") as everything,
                capture(wire.work, name="imap-ssh", bpf=f"tcp port {sshd.port}") as result,
            ):
                _imap_login(wire, lambda: conns.open(ServerSpec("lab"), Service.IMAP).channel)
        finally:
            stop_masters(conns)
    assert result.packets > 10
    assert wire.leaks(result) == dict.fromkeys(wire.needles(), 0)
    # The login did go through the channel, in the clear only on the login host's inside
    # hop: proof that the ssh capture would have shown it had it left the channel.
    assert sum(wire.leaks(everything).values()) >= 1


def test_smtp_auth_on_submission_after_starttls(wire: WireLab) -> None:
    asked: list[int] = []
    with short_dir() as work:
        conns = connections_direct(work, _smtp_rule(wire, "starttls"))
        with capture(wire.work, name="submission") as result:
            marker = _send(conns, wire, asked)
    assert asked == [1]
    assert marker in wire.postfix.wait_for_delivery(marker)
    assert "sasl_username=" + wire.user.name in wire.postfix.log_text()
    assert result.packets > 10
    assert wire.leaks(result) == dict.fromkeys(wire.needles(), 0)


@pytest.fixture(scope="module")
def news_login(wire: WireLab, inn: LabInn) -> Iterator[AuthNnrpd]:
    """An nnrpd that requires AUTHINFO with the lab user and SECRET (inn: its groups)."""
    try:
        server = start_auth_nnrpd(make_lab_dir("nnrpd"), wire.user.name, SECRET, "127.0.0.1")
    except LabError as exc:
        lab_failure(exc)
        raise
    yield server
    server.stop()


def _nntp_login(wire: WireLab, open_channel: Callable[[], Channel], asked: list[int]) -> int:
    """Open local.test through open_channel, logging in when asked; its article count."""
    store = NntpStore(
        open_channel,
        newsrc=wire.work / "newsrc",
        user=wire.user.name,
        password=_asker(asked),
        name="news",
    )
    try:
        return store.open("local.test").status().count
    finally:
        store.close()


def test_nntp_authinfo_over_an_ssh_channel_to_the_login_host(
    wire: WireLab, sshd: LabSshd, news_login: AuthNnrpd
) -> None:
    rule = f"""
[[rule]]
servers = ["lab"]
services = ["nntp"]
target = "{news_login.host}"
ports = {{ nntp = {news_login.port} }}
fallback = []
"""
    asked: list[int] = []
    with short_dir() as work:
        conns = connections(sshd, work, rule)
        try:
            with (
                capture(wire.work, name="nntp-ssh-all-of-lo") as everything,
                capture(wire.work, name="nntp-ssh", bpf=f"tcp port {sshd.port}") as result,
            ):
                _nntp_login(
                    wire, lambda: conns.open(ServerSpec("lab"), Service.NNTP).channel, asked
                )
        finally:
            stop_masters(conns)
    assert asked == [1]  # the server required the login, and got it
    assert result.packets > 10
    assert wire.leaks(result) == dict.fromkeys(wire.needles(), 0)
    assert wire.leaks(everything)["password"] >= 1  # AUTHINFO PASS on the inside hop


# ------------------------------------------------------------------ controls


def test_a_route_forced_to_cleartext_sends_no_password(
    wire: WireLab, news_login: AuthNnrpd
) -> None:
    imap_asked: list[int] = []
    smtp_asked: list[int] = []
    nntp_asked: list[int] = []
    with capture(wire.work, name="forced-cleartext") as result:
        store = ImapStore(
            _direct_imap(wire.dovecot, Security.PLAIN),
            user=wire.user.name,
            password=_asker(imap_asked),
            name="wire",
        )
        with pytest.raises(StoreError, match="refusing to send a password over an unencrypted"):
            store.open("INBOX")
        with short_dir() as work:
            conns = connections_direct(work, _smtp_rule(wire, "plain"))
            with pytest.raises(SendError, match="refusing to send the password"):
                _send(conns, wire, smtp_asked)
        with short_dir() as work:
            rule = f"""
[[rule]]
servers = ["{news_login.host}"]
services = ["nntp"]
via = "direct"
fallback = ["plain:{news_login.port}"]
"""
            conns = connections_direct(work, rule)
            with pytest.raises(StoreError, match="password"):
                _nntp_login(
                    wire,
                    lambda: conns.open(ServerSpec(news_login.host), Service.NNTP).channel,
                    nntp_asked,
                )
    assert imap_asked == [] and smtp_asked == [] and nntp_asked == []
    # The servers were reached: their greetings are in the capture.
    assert result.count(b"* OK") >= 1
    assert result.count(b"220 mail.pinesh.test ESMTP") >= 1
    assert result.count(b"480 Authentication required") >= 1
    assert wire.leaks(result) == dict.fromkeys(wire.needles(), 0)


def test_the_capture_sees_a_password_sent_in_clear(wire: WireLab, news_login: AuthNnrpd) -> None:
    """A raw client that logs in over plain TCP: the capture must show it."""
    user = wire.user.name
    plain_token = base64.b64encode(f"\0{user}\0{SECRET}".encode())
    with capture(wire.work, name="cleartext-control") as result:
        with socket.create_connection((wire.dovecot.host, wire.dovecot.imap_port), 10) as sock:
            _chat(sock, None, b"* OK")
            _chat(sock, f'a1 LOGIN {user} "{SECRET}"\r\n'.encode(), b"a1 ")
        with socket.create_connection(("127.0.0.1", wire.submission_port), 10) as sock:
            _chat(sock, None, b"220 ")
            _chat(sock, b"EHLO control.pinesh.test\r\n", b"250 ")
            _chat(sock, b"AUTH PLAIN " + plain_token + b"\r\n", b"")
        with socket.create_connection((news_login.host, news_login.port), 10) as sock:
            _chat(sock, None, b"20")
            _chat(sock, f"AUTHINFO USER {user}\r\n".encode(), b"381 ")
            _chat(sock, f"AUTHINFO PASS {SECRET}\r\n".encode(), b"281 ")
    leaks = wire.leaks(result)
    assert leaks["password"] >= 2  # IMAP LOGIN and AUTHINFO PASS
    assert leaks["AUTH PLAIN token"] >= 1
    assert max(leaks[f"base64 of the password, offset {n}"] for n in range(3)) >= 1


def test_tcpdump_that_cannot_capture_is_an_error(wire: WireLab) -> None:
    with (
        pytest.raises(LabError, match="tcpdump did not start"),
        capture(wire.work, interface="pinesh-no-such0", name="none"),
    ):
        pass


# ------------------------------------------------------------------ helpers


def connections_direct(work: Path, rule: str) -> Connections:
    """Connections with only direct rules (no ssh master is ever started)."""
    path = work / "config.toml"
    path.write_text(f'open_timeout = 10\nstate_dir = "{work / "state"}"\n{rule}')
    settings = parse_settings(path.read_text(), str(path))
    return Connections(settings, parse_pinerc("", str(work / "pinerc")), Environment())


def _chat(sock: socket.socket, command: bytes | None, until: bytes, timeout: float = 10) -> bytes:
    """Send command (if any), read until a line starting with until, or until the server
    answers anything when until is empty."""
    sock.settimeout(timeout)
    if command is not None:
        sock.sendall(command)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
        lines = data.split(b"\r\n")
        if any(line.startswith(until) for line in lines[:-1]):
            return data


# ------------------------------------------------------------------ the lab's network

# Run at home (in its namespace, with its /etc/hosts) by the test's Python: pinesh logs in to
# the mail host's Dovecot over IMAP; the password comes on stdin. Prints what happened.
NETLAB_LOGIN = r"""
import json, sys
from pinesh.config.server_spec import parse_server_spec
from pinesh.services.connections import load_connections
from pinesh.stores.imap.store import ImapStore
from pinesh.transport.masters import MasterPool
from pinesh.transport.service import Service

config, pinerc, server, user = sys.argv[1:5]
secret = sys.stdin.readline().rstrip("\n")
conns = load_connections(config, pinerc)
spec = parse_server_spec(server)
asked, channels = [], []

def password():
    asked.append(1)
    return secret

def open_channel():
    channel = conns.open(spec, Service.IMAP).channel
    channels.append(channel)
    return channel

store = ImapStore(open_channel, user=user, password=password, name=server)
try:
    count = store.open("INBOX").status().count
finally:
    store.close()
    MasterPool(conns.settings.ssh).stop()
print(json.dumps({
    "asked": len(asked),
    "count": count,
    "routes": [c.describe() for c in channels],
    "starttls": [c.starttls_done for c in channels],
}))
"""


@contextlib.contextmanager
def _netlab_captures(lab: NetLab, work: Path, name: str) -> Iterator[dict[str, Capture]]:
    """Captures of the link from home, the ISP's network and the mail host's network."""
    net = lab.net
    with contextlib.ExitStack() as stack:
        yield {
            where: stack.enter_context(
                capture(
                    work,
                    interface=interface,
                    namespace=namespace,
                    name=f"{name}-{where}",
                    sentinel_to=gateway,
                )
            )
            for where, namespace, interface, gateway in (
                ("home", net.home, f"{net.prefix}h", HOME_GATEWAY),
                ("isp", net.isp, "isp0", ISP_GATEWAY),
                ("mail", net.mail, "mail0", MAIL_GATEWAY),
            )
        }


def _netlab_needles(lab: NetLab) -> dict[str, bytes]:
    secret = lab.user.password.encode()
    plain = base64.b64encode(f"\0{lab.user.name}\0{lab.user.password}".encode())
    found = {"password": secret, "AUTH PLAIN token": plain}
    for offset, form in enumerate(base64_forms(secret)):
        found[f"base64 of the password, offset {offset}"] = form
    return found


def _netlab_leaks(lab: NetLab, result: Capture) -> dict[str, int]:
    found = {what: result.count(needle) for what, needle in _netlab_needles(lab).items()}
    print(f"\n{result.path.stem}: {result.packets} packets on {result.interface}; found {found}")
    return found


@pytest.mark.parametrize(
    ("route", "rule"),
    [
        (
            "imaps",
            'via = "direct"\nfallback = ["tls:993"]',
        ),
        (
            # The ISP's shell is the login host; the hop from it to the mail host is
            # another network, so pinesh asks for STARTTLS over it.
            "ssh-shell-starttls",
            'login = "shell.isp.example"\nfallback = []',
        ),
    ],
)
def test_imap_across_the_labs_network(netlab: NetLab, route: str, rule: str) -> None:
    lab = netlab
    rules = (
        f'\n[[rule]]\nservers = ["{lab.mailhost_name}"]\nservices = ["imap"]\n{rule}\n'
        f'ca_file = "{lab.dovecot.ca_file}"\n'
    )
    with short_dir() as work:
        config = write_home_files(lab, work, rules, timeout=15)
        logins = lab.dovecot.logins()
        with _netlab_captures(lab, work, f"netlab-{route}") as captures:
            argv = [sys.executable, "-I", "-c", NETLAB_LOGIN, str(config), str(work / "pinerc")]
            argv += [lab.mailhost_name, lab.user.name]
            done = subprocess.run(
                lab.home(argv),
                input=lab.user.password + "\n",
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["asked"] == 1
    if route == "ssh-shell-starttls":
        assert outcome["starttls"] == [True], outcome
        assert "shell.isp.example" in outcome["routes"][0]
    deadline = time.monotonic() + 5
    while lab.dovecot.logins() == logins and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lab.dovecot.logins() == logins + 1
    # What crossed each network: the link from home always; the ISP's and the mail host's
    # networks both for the channel through the ISP's shell.
    crossed = ("home", "mail") if route == "imaps" else ("home", "isp", "mail")
    for where, result in captures.items():
        if where in crossed:
            assert result.packets > 10, (where, result.packets)
        assert _netlab_leaks(lab, result) == dict.fromkeys(_netlab_needles(lab), 0), where


def test_the_labs_network_captures_see_a_password_sent_in_clear(netlab: NetLab) -> None:
    """The control on the lab's network: a raw LOGIN from home to the mail host's 143."""
    lab = netlab
    with short_dir() as work, _netlab_captures(lab, work, "netlab-control") as captures:
        sock = socket_in(lab.net.home, MAILHOST_ADDRESS, 143)
        with sock:
            _chat(sock, None, b"* OK")
            _chat(sock, f'a1 LOGIN {lab.user.name} "{lab.user.password}"\r\n'.encode(), b"a1 ")
    assert _netlab_leaks(lab, captures["home"])["password"] >= 1
    assert _netlab_leaks(lab, captures["mail"])["password"] >= 1
    assert _netlab_leaks(lab, captures["isp"])["password"] == 0  # not on the ISP's way
