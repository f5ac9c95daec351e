"""The probe for a preauthenticated IMAP server, its memory, and what counts as named."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from pinesh.config.pinerc import parse_pinerc
from pinesh.config.server_spec import ServerSpec
from pinesh.config.settings import Settings
from pinesh.errors import UnsafeNameError
from pinesh.services.connections import Connections
from pinesh.services.preauth import PREAUTH_SERVERS, named_in_pinerc, pine_default_command
from pinesh.transport.masters import remote_command_tail
from pinesh.transport.preauth_memory import PreauthMemory
from pinesh.transport.remote_probe import executables_found, probe_command
from pinesh.transport.service import Service


def test_pine_default_command_is_etc_rimapd() -> None:
    assert pine_default_command(Service.IMAP) == ("/etc/rimapd",)


def test_probe_is_one_remote_command_with_every_path_quoted(tmp_path: Path) -> None:
    odd = str(tmp_path / "it's $(here)")
    tail = remote_command_tail("mail", probe_command(["/bin/sh", odd, "/no/such"]))
    assert tail[:3] == ["--", "mail", "exec"]
    # What the remote login shell gets is the words joined; run it as sshd would.
    Path(odd).write_text("#!/bin/sh\n")
    Path(odd).chmod(0o755)
    done = subprocess.run(
        ["/bin/sh", "-c", " ".join(tail[2:])], capture_output=True, check=True, timeout=10
    )
    assert done.stdout.decode().splitlines() == ["/bin/sh", odd]
    assert shlex.split(" ".join(tail[3:]))[-3:] == ["/bin/sh", odd, "/no/such"]


def test_probe_refuses_relative_or_control_character_paths() -> None:
    with pytest.raises(ValueError):
        probe_command(["imapd"])
    with pytest.raises(UnsafeNameError):
        probe_command(["/usr/sbin/imapd\nrm"])


def test_only_candidate_lines_are_believed_in_candidate_order() -> None:
    output = b"/usr/sbin/imapd\nWelcome to the host!\n/usr/lib/dovecot/imap\n/etc/evil\n"
    assert executables_found(output, PREAUTH_SERVERS) == (
        "/usr/lib/dovecot/imap",
        "/usr/sbin/imapd",
    )
    assert executables_found(b"\xff\xfe\n", PREAUTH_SERVERS) == ()


def test_candidates_start_with_dovecot_and_hold_no_duplicates() -> None:
    assert PREAUTH_SERVERS[:2] == ("/usr/lib/dovecot/imap", "/usr/libexec/dovecot/imap")
    assert len(set(PREAUTH_SERVERS)) == len(PREAUTH_SERVERS)
    assert all(path.startswith("/") for path in PREAUTH_SERVERS)


def test_memory_remembers_forgets_and_survives_garbage(tmp_path: Path) -> None:
    path = tmp_path / "state" / "preauth.json"
    memory = PreauthMemory(path)
    assert memory.command("jane@mail") is None
    memory.remember("jane@mail", ["/usr/lib/dovecot/imap"])
    memory.remember("mail", ["/usr/sbin/imapd"])
    assert PreauthMemory(path).command("jane@mail") == ("/usr/lib/dovecot/imap",)
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert not path.with_suffix(".tmp").exists()  # written by rename
    memory.forget("jane@mail")
    assert memory.command("jane@mail") is None
    assert memory.command("mail") == ("/usr/sbin/imapd",)
    path.write_text('{"mail": {"command": [1, 2]}, "x": 3}')
    assert memory.command("mail") is None and memory.command("x") is None
    path.write_text("not json")
    assert memory.command("mail") is None
    memory.remember("mail", ["/usr/bin/imapd"])
    assert memory.command("mail") == ("/usr/bin/imapd",)


def _connections(pinerc: str) -> Connections:
    return Connections(Settings(), parse_pinerc(pinerc, "pinerc"))


@pytest.mark.parametrize(
    "pinerc",
    [
        "inbox-path={Mail.Example.org/user=jane}INBOX\n",
        "folder-collections=Mail {mail.example.org}mail/[]\n",
        "incoming-folders=Work {mail.example.org:993/ssl}INBOX\n",
    ],
)
def test_a_server_the_pinerc_reads_is_named(pinerc: str) -> None:
    assert named_in_pinerc(_connections(pinerc), ServerSpec("mail.example.org"), Service.IMAP)


@pytest.mark.parametrize(
    "pinerc",
    [
        "",
        "inbox-path={other.example.org}INBOX\n",
        "smtp-server=mail.example.org\n",
        "news-collections=News {mail.example.org/nntp}#news.[]\n",
    ],
)
def test_a_server_the_pinerc_does_not_read_over_imap_is_not_named(pinerc: str) -> None:
    assert not named_in_pinerc(_connections(pinerc), ServerSpec("mail.example.org"), Service.IMAP)
