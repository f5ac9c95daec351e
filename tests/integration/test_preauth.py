"""IMAP preauth to the lab's Dovecot over real ssh: Pine's template, and the shared master."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pinesh.config.server_spec import ServerSpec, parse_server_spec
from pinesh.transport.routes import SshPreauthRoute, SshTarget
from pinesh.transport.service import Service
from tests.integration.helpers import (
    PREAUTH_RULE,
    connections,
    exchange,
    short_dir,
    stop_masters,
)
from tests.lab.dovecot import LabDovecot
from tests.lab.sshd import LabSshd


@pytest.mark.parametrize(
    ("command_tail", "remote"),
    [("exec /etc/r%sd", "/etc/rimapd"), ("exec /usr/lib/dovecot/%s", "/usr/lib/dovecot/imap")],
)
def test_pine_template_opens_preauth(
    sshd: LabSshd, dovecot: LabDovecot, command_tail: str, remote: str
) -> None:
    """Pine's ssh-path/ssh-command, expanded as c-client does, reach Dovecot (through a master)."""
    template = f"%s -F {sshd.client_config} %s -l %s {command_tail}"
    pinerc = f"ssh-path={shutil.which('ssh')}\nssh-command={template}\nssh-open-timeout=3\n"
    spec = parse_server_spec(f"lab/user={sshd.user.name}")
    with short_dir() as work:
        conns = connections(sshd, work, "", pinerc=pinerc)
        plan = conns.plan(spec, Service.IMAP)
        first = plan.routes[0]
        assert isinstance(first, SshPreauthRoute)
        assert first.target == SshTarget(
            "lab", sshd.user.name, None, ("-F", str(sshd.client_config))
        )
        assert first.command == (remote,)
        assert plan.timeout_for(first) == 5  # the pinerc's 3 is raised to Pine's minimum
        channel = conns.open(spec, Service.IMAP).channel
        try:
            assert channel.preauthenticated
            assert channel.route == first
            assert b"a1 OK" in exchange(channel.sock, b"a1 SELECT INBOX\r\n", b"a1 ")
        finally:
            channel.close()
            stop_masters(conns)


def test_ten_opens_cost_one_authentication(sshd: LabSshd, dovecot: LabDovecot) -> None:
    with short_dir() as work:
        conns = connections(sshd, work, PREAUTH_RULE)
        before = sshd.authentications()
        logins_before = dovecot.logins()
        try:
            shared = []
            for _ in range(10):
                channel = conns.open(ServerSpec("lab"), Service.IMAP).channel
                assert isinstance(channel.route, SshPreauthRoute)
                assert channel.preauthenticated
                assert b"a1 OK" in exchange(channel.sock, b"a1 SELECT INBOX\r\n", b"a1 ")
                shared.append(channel.shared_master)
                channel.close()
            assert sshd.authentications() - before == 1
            assert shared == [False] + [True] * 9
            assert dovecot.logins() == logins_before  # no password login happened
            assert (
                "preauth, shared" in conns.open(ServerSpec("lab"), Service.IMAP).channel.describe()
            )
        finally:
            stop_masters(conns)


def test_master_outlives_channels_and_stops_on_request(sshd: LabSshd, dovecot: LabDovecot) -> None:
    with short_dir() as work:
        conns = connections(sshd, work, PREAUTH_RULE)
        conns.open(ServerSpec("lab"), Service.IMAP).channel.close()
        masters = conns.masters()
        [info] = masters.status()
        assert info.running and info.pid is not None
        assert Path(f"/proc/{info.pid}").exists()
        stopped = masters.stop("lab")
        assert [m.running for m in stopped] == [True]
        assert info.target is not None and not masters.is_up(info.target)
        assert masters.status() == []


def test_control_directory_is_private(sshd: LabSshd, dovecot: LabDovecot) -> None:
    with short_dir() as work:
        conns = connections(sshd, work, PREAUTH_RULE)
        try:
            conns.open(ServerSpec("lab"), Service.IMAP).channel.close()
            control = work / "ctl"
            assert control.stat().st_mode & 0o777 == 0o700
            sockets = [p for p in control.iterdir() if p.is_socket()]
            assert len(sockets) == 1
        finally:
            stop_masters(conns)


def test_remote_command_words_stay_literal(sshd: LabSshd, tmp_path: Path) -> None:
    """Shell metacharacters in a configured remote command reach the remote side as text."""
    marker = Path("/tmp/pinesh-pwned-marker")
    marker.unlink(missing_ok=True)
    body = f"""
[[rule]]
servers = ["lab"]
imap_command = ["/bin/echo", "* PREAUTH $(touch {marker}); `touch {marker}` | touch {marker}"]
fallback = []
"""
    with short_dir() as work:
        conns = connections(sshd, work, body, timeout=3)
        try:
            with pytest.raises(Exception) as failure:
                conns.open(ServerSpec("lab"), Service.IMAP)
            # echo printed the words back, unexpanded, with a bare LF: not a greeting.
            assert f"$(touch {marker})" in str(failure.value)
            assert not marker.exists()
        finally:
            stop_masters(conns)


def test_ssh_stderr_never_enters_the_protocol(sshd: LabSshd, dovecot: LabDovecot) -> None:
    """Dovecot's standalone imap logs "Logged out" on stderr; it stays out of the stream.

    The extra -o makes the lab's login shell pass the command through unchanged (it only
    silences the two exact preauth commands, for clients that merge stderr, like Pine).
    """
    body = """
[[rule]]
servers = ["lab"]
imap_command = ["/usr/lib/dovecot/imap", "-o", "mail_location=maildir:~/Maildir"]
fallback = []
"""
    with short_dir() as work:
        conns = connections(sshd, work, body)
        try:
            channel = conns.open(ServerSpec("lab"), Service.IMAP).channel
            assert channel.preauthenticated
            stream = exchange(channel.sock, b"a1 LOGOUT\r\n", b"a1 ")
            assert b"* BYE" in stream and b"a1 OK" in stream
            assert channel.child is not None
            channel.child.process.wait(timeout=10)
            assert b"Disconnected" not in stream
            assert "Disconnected: Logged out" in channel.child.stderr.text(wait=2)
            channel.close()
        finally:
            stop_masters(conns)
