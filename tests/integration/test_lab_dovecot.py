"""The lab's Dovecot works: preauth IMAP over real ssh, STARTTLS and IMAPS with the test CA."""

from __future__ import annotations

import hashlib
import imaplib
import os
import pwd
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from tests.lab.common import LabUser
from tests.lab.dovecot import (
    PREAUTH_SHELL,
    RIMAPD,
    SYSTEM_LOCAL_CONF,
    LabDovecot,
    prepare_preauth,
)
from tests.lab.sshd import LabSshd

pytestmark = pytest.mark.lab

MESSAGE = b"From: a@pinesh.test\r\nTo: b@pinesh.test\r\nSubject: lab\r\n\r\nhello\r\n"


def preauth_session(sshd: LabSshd, command: str, commands: str) -> tuple[int, str, str]:
    """Run a preauth IMAP command over real ssh, feeding it IMAP commands; keep CRLFs."""
    done = subprocess.run(
        ["ssh", *sshd.ssh_options(), sshd.alias, "exec", command],
        input=commands.encode(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    return (
        done.returncode,
        done.stdout.decode(errors="replace"),
        done.stderr.decode(errors="replace"),
    )


def wait_for_logins(dovecot: LabDovecot, count: int, timeout: float = 5) -> int:
    """The login count once it reaches count (Dovecot's log process writes a moment later)."""
    deadline = time.monotonic() + timeout
    while dovecot.logins() < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return dovecot.logins()


def deliver(user: LabUser, maildir: Path) -> None:
    """Put one message in the lab user's INBOX, as a delivery agent would."""
    path = maildir / "new" / f"{int(time.time())}.M1P{os.getpid()}.lab"
    path.write_bytes(MESSAGE)
    os.chown(path, user.uid, user.gid)


@pytest.mark.parametrize("which", ["imap", "rimapd"])
def test_preauth_over_ssh_is_quiet(dovecot: LabDovecot, sshd: LabSshd, which: str) -> None:
    command = dovecot.preauth_command[0] if which == "imap" else dovecot.rimapd
    logins = dovecot.logins()
    status, stdout, stderr = preauth_session(sshd, command, "a SELECT INBOX\r\nb LOGOUT\r\n")
    assert status == 0, stderr
    assert stdout.startswith("* PREAUTH ")
    assert "\r\na OK [READ-WRITE] " in stdout
    assert "\r\n* BYE " in stdout
    assert stdout.endswith("\r\n")
    assert stdout.splitlines()[-1].startswith("b OK Logout completed")
    # Pine merges stderr into the IMAP stream: nothing at start, nothing at LOGOUT.
    assert stderr == ""
    # Preauth is no password login.
    assert dovecot.logins() == logins


def test_preauth_and_daemon_serve_the_same_maildir(
    dovecot: LabDovecot, sshd: LabSshd, lab_maildir: Path
) -> None:
    deliver(dovecot.user, lab_maildir)
    _, stdout, stderr = preauth_session(sshd, dovecot.rimapd, "a SELECT INBOX\r\nb LOGOUT\r\n")
    assert "\r\n* 1 EXISTS\r\n" in stdout, stdout + stderr
    with imaplib.IMAP4_SSL(
        dovecot.host, dovecot.imaps_port, ssl_context=dovecot.ssl_context()
    ) as imap:
        imap.login(dovecot.user.name, dovecot.user.password)
        assert imap.select("INBOX") == ("OK", [b"1"])
        typ, data = imap.fetch("1", "(BODY.PEEK[])")
        assert typ == "OK"
        assert isinstance(data[0], tuple)
        assert data[0][1] == MESSAGE


def test_lab_maildir_is_empty_and_owned(lab_user: LabUser, lab_maildir: Path) -> None:
    assert lab_maildir == lab_user.home / "Maildir"
    for path in (lab_maildir, lab_maildir / "cur", lab_maildir / "new", lab_maildir / "tmp"):
        info = path.stat()
        assert (info.st_uid, info.st_gid) == (lab_user.uid, lab_user.gid)
        assert path.is_dir()
    assert sorted(p.name for p in lab_maildir.iterdir()) == ["cur", "new", "tmp"]


def test_imaps_verifies_and_logs_in(dovecot: LabDovecot) -> None:
    with imaplib.IMAP4_SSL(
        dovecot.host, dovecot.imaps_port, ssl_context=dovecot.ssl_context()
    ) as imap:
        typ, _ = imap.login(dovecot.user.name, dovecot.user.password)
        assert typ == "OK"
        assert imap.select("INBOX")[0] == "OK"
        imap.logout()


def test_starttls_verifies_and_logs_in(dovecot: LabDovecot) -> None:
    with imaplib.IMAP4(dovecot.host, dovecot.imap_port) as imap:
        assert "STARTTLS" in imap.capabilities
        imap.starttls(ssl_context=dovecot.ssl_context())
        assert "LOGINDISABLED" not in imap.capabilities
        typ, _ = imap.login(dovecot.user.name, dovecot.user.password)
        assert typ == "OK"
        imap.logout()


def test_login_before_starttls_is_refused(dovecot: LabDovecot) -> None:
    logins = dovecot.logins()
    with imaplib.IMAP4(dovecot.host, dovecot.imap_port) as imap:
        assert "LOGINDISABLED" in imap.capabilities
        with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
            imap.login(dovecot.user.name, dovecot.user.password)
    assert dovecot.logins() == logins


def test_certificate_names_and_untrusted_ca(dovecot: LabDovecot) -> None:
    for name in ("imap.pinesh.test", "localhost", dovecot.host, "127.0.0.1"):
        context = dovecot.ssl_context()
        with (
            socket.create_connection((dovecot.host, dovecot.imaps_port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=name) as tls,
        ):
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
    with (
        pytest.raises(ssl.SSLCertVerificationError),
        socket.create_connection((dovecot.host, dovecot.imaps_port), timeout=10) as raw,
    ):
        ssl.create_default_context().wrap_socket(raw, server_hostname=dovecot.server_name)


def test_fingerprint_matches_presented_certificate(dovecot: LabDovecot) -> None:
    with (
        socket.create_connection((dovecot.host, dovecot.imaps_port), timeout=10) as raw,
        dovecot.ssl_context().wrap_socket(raw, server_hostname=dovecot.server_name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    assert hashlib.sha256(der).hexdigest() == dovecot.cert_sha256
    assert len(dovecot.cert_sha256) == 64
    assert dovecot.cert_sha256 == dovecot.cert_sha256.lower()


def test_logins_counts_password_logins(dovecot: LabDovecot) -> None:
    before = wait_for_logins(dovecot, 0)
    for _ in range(2):
        with imaplib.IMAP4_SSL(
            dovecot.host, dovecot.imaps_port, ssl_context=dovecot.ssl_context()
        ) as imap:
            imap.login(dovecot.user.name, dovecot.user.password)
            imap.logout()
    assert wait_for_logins(dovecot, before + 2) == before + 2


def test_wrong_password_fails_without_slowing_later_logins(dovecot: LabDovecot) -> None:
    started = time.monotonic()
    with (
        imaplib.IMAP4_SSL(
            dovecot.host, dovecot.imaps_port, ssl_context=dovecot.ssl_context()
        ) as imap,
        pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"),
    ):
        imap.login(dovecot.user.name, "not-the-password")
    with imaplib.IMAP4_SSL(
        dovecot.host, dovecot.imaps_port, ssl_context=dovecot.ssl_context()
    ) as imap:
        assert imap.login(dovecot.user.name, dovecot.user.password)[0] == "OK"
        imap.logout()
    # Dovecot's default failure delay plus its per-address penalty would cost 2 s + 4 s.
    assert time.monotonic() - started < 1.5


def test_preauth_setup_is_idempotent(dovecot: LabDovecot) -> None:
    before = SYSTEM_LOCAL_CONF.stat().st_mtime_ns, PREAUTH_SHELL.stat().st_mtime_ns
    prepare_preauth(dovecot.user)
    assert (SYSTEM_LOCAL_CONF.stat().st_mtime_ns, PREAUTH_SHELL.stat().st_mtime_ns) == before
    assert "mail_location = maildir:~/Maildir" in SYSTEM_LOCAL_CONF.read_text()
    assert os.readlink(RIMAPD) == dovecot.preauth_command[0]
    assert pwd.getpwnam(dovecot.user.name).pw_shell == str(PREAUTH_SHELL)
