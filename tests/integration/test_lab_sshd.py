"""The lab's sshd: key logins work, passwords are refused."""

from __future__ import annotations

import subprocess

from tests.lab.sshd import LabSshd


def test_key_login_is_counted(sshd: LabSshd) -> None:
    before = sshd.authentications()
    done = subprocess.run(
        ["ssh", *sshd.ssh_options(), sshd.alias, "id", "-un"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == sshd.user.name
    assert sshd.authentications() == before + 1


def test_password_login_is_refused(sshd: LabSshd) -> None:
    done = subprocess.run(
        [
            "ssh",
            *sshd.ssh_options(),
            "-o",
            "PreferredAuthentications=password,keyboard-interactive",
            "-o",
            "PubkeyAuthentication=no",
            sshd.alias,
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 255
    assert "Permission denied" in done.stderr
