"""Pine's rsh-path/rsh-command as the SSH book's case study writes them, against the lab.

The book's three lines, with only the script's path changed: a wrapper the user wrote
that runs ssh. pinesh runs it as it is, believes its PREAUTH (a local pipe), and would
send no password over it; a program named rsh gets its PREAUTH refused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pinesh.config.pine_settings import pine_settings
from pinesh.services.connections import Connections
from pinesh.services.folder_view import FolderView
from pinesh.services.mail import MailSession
from pinesh.transport.connector import UnreachableError
from pinesh.transport.encryption import Encryption
from pinesh.transport.routes import CommandRoute
from pinesh.transport.service import Service
from tests.integration.helpers import connections, short_dir
from tests.lab.dovecot import LabDovecot
from tests.lab.sshd import LabSshd


def ssh_wrapper(sshd: LabSshd, path: Path) -> Path:
    """A user's script that runs ssh with the lab's client config (the book's /path/to/script)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\nexec {shutil.which("ssh")} -F {sshd.client_config} "$@"\n')
    path.chmod(0o755)
    return path


def books_pinerc(sshd: LabSshd, script: Path) -> str:
    return (
        f"inbox-path={{{sshd.alias}/user={sshd.user.name}}}INBOX\n"
        f"rsh-path={script}\n"
        'rsh-command="%s %s -q -l %s exec /etc/r%sd"\n'
        "rsh-open-timeout=15\n"
    )


def session(conns: Connections, work: Path) -> MailSession:
    return MailSession(conns, pine_settings(conns.pinerc), data_dir=work / "data")


def test_the_books_rsh_script_opens_inbox_preauthenticated(
    sshd: LabSshd, dovecot: LabDovecot, lab_maildir: Path
) -> None:
    with short_dir() as work:
        script = ssh_wrapper(sshd, work / "to" / "script")
        conns = connections(sshd, work, "", pinerc=books_pinerc(sshd, script))
        assert conns.pinerc.problems == []
        logins = dovecot.logins()
        mail = session(conns, work)
        view = FolderView.open(mail, "INBOX")
        try:
            folder = view.folder
            channel = getattr(folder, "channel", None)
            assert channel is not None
            assert channel.preauthenticated
            assert isinstance(channel.route, CommandRoute)
            assert channel.route.argv == (
                str(script), sshd.alias, "-q", "-l", sshd.user.name, "exec", "/etc/rimapd"
            )  # fmt: skip
            assert channel.route.encryption is Encryption.NOT_KNOWN
            assert not channel.allows_password
            spec = mail.parse("INBOX").server
            assert spec is not None
            assert conns.plan(spec, Service.IMAP).timeout_for(channel.route) == 15.0
            assert view.summary().startswith(
                f"INBOX via rsh-command {script} (preauth; command, encryption not known): "
            )
        finally:
            view.close()
            mail.close()
        assert dovecot.logins() == logins  # no password login reached Dovecot


def test_a_program_named_rsh_gets_its_preauth_refused(sshd: LabSshd, dovecot: LabDovecot) -> None:
    """Even one that really runs ssh: by name it is rsh, and rsh is cleartext."""
    with short_dir() as work:
        rsh = ssh_wrapper(sshd, work / "bin" / "rsh")
        conns = connections(sshd, work, "", pinerc=books_pinerc(sshd, rsh))
        spec = session(conns, work).parse("INBOX").server
        assert spec is not None
        with pytest.raises(UnreachableError) as failure:
            conns.open(spec, Service.IMAP)
        assert (
            f"refusing PREAUTH over {rsh}: rsh sends everything in cleartext, so anyone on "
            "the network could have forged it"
        ) in str(failure.value)


def test_doctor_says_the_scripts_encryption_is_not_known(
    sshd: LabSshd, dovecot: LabDovecot
) -> None:
    with short_dir() as work:
        script = ssh_wrapper(sshd, work / "to" / "script")
        pinerc = work / "pinerc"
        pinerc.write_text(books_pinerc(sshd, script))
        config = work / "config.toml"
        config.write_text(
            f'state_dir = "{work / "state"}"\n\n[ssh]\ncontrol_dir = "{work / "ctl"}"\n'
        )
        done = subprocess.run(
            [str(Path(sys.executable).parent / "pinesh"), "-p", str(pinerc), "doctor"],
            capture_output=True,
            text=True,
            env={**os.environ, "PINESH_CONFIG": str(config)},
            timeout=120,
            check=False,
        )
        rows = [line for line in done.stdout.splitlines() if line.startswith("lab ")]
        assert " ok " in rows[0], done.stdout
        assert "(preauth; command, encryption not known)" in rows[0]
        assert (
            f"note: rsh-command {script}: command, encryption not known; PREAUTH is accepted"
        ) in done.stdout
