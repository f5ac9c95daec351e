"""read_ssh_command: an expanded ssh-command read as a master's target and a remote command."""

from __future__ import annotations

import re

import pytest

from pinesh.transport.routes import SshTarget
from pinesh.transport.ssh_command import NotForMasterError, SshCommand, read_ssh_command

SSH = "/usr/bin/ssh"


def read(line: str) -> SshCommand:
    return read_ssh_command(line.split())


def test_pines_default_template() -> None:
    assert read(f"{SSH} mail.example.org -l jane exec /etc/rimapd") == SshCommand(
        SshTarget("mail.example.org", "jane"), ("/etc/rimapd",)
    )


def test_the_books_template_drops_q() -> None:
    """-q would hide why a login failed; pinesh's LogLevel=ERROR keeps the reasons."""
    got = read(f"{SSH} mail.example.org -q -l jane exec /etc/rimapd")
    assert got == SshCommand(SshTarget("mail.example.org", "jane"), ("/etc/rimapd",))


def test_options_before_and_after_the_host_are_kept_as_identity() -> None:
    got = read(
        f"{SSH} -F /home/jane/cfg -4 -i /home/jane/k -J gw.example.org -o Compression=yes "
        "-oServerAliveInterval=30 mail.example.org -p 2222 -C -l jane exec /usr/lib/dovecot/imap"
    )
    assert got.target == SshTarget(
        "mail.example.org",
        "jane",
        2222,
        (
            "-F", "/home/jane/cfg", "-4", "-i", "/home/jane/k", "-J", "gw.example.org",
            "-o", "Compression=yes", "-o", "ServerAliveInterval=30", "-C",
        ),
    )  # fmt: skip
    assert got.command == ("/usr/lib/dovecot/imap",)


def test_joined_and_bundled_options() -> None:
    got = read(f"{SSH} -qCp2222 -ljane -Fcfg mail.example.org exec imapd")
    assert got.target == SshTarget("mail.example.org", "jane", 2222, ("-C", "-F", "cfg"))


def test_user_at_host_and_first_user_wins() -> None:
    assert read(f"{SSH} jane@mail.example.org imapd").target.login_user == "jane"
    # OpenSSH keeps the first user it is given.
    assert read(f"{SSH} -l first mail.example.org -l second imapd").target.login_user == "first"


def test_words_after_the_remote_command_are_its_arguments() -> None:
    got = read(f"{SSH} mail.example.org exec /usr/lib/dovecot/imap -o mail_location=x")
    assert got.command == ("/usr/lib/dovecot/imap", "-o", "mail_location=x")
    assert got.target.options == ()


def test_double_dash_ends_the_options() -> None:
    got = read(f"{SSH} -l jane -- mail.example.org imapd")
    assert got == SshCommand(SshTarget("mail.example.org", "jane"), ("imapd",))


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (f"{SSH} -L 2025:localhost:25 h exec imapd", "a local port forward (-L)"),
        (f"{SSH} h -R 2025:localhost:25 exec imapd", "a remote port forward (-R)"),
        (f"{SSH} -D1080 h exec imapd", "a dynamic forward (-D)"),
        (f"{SSH} -W localhost:143 h", "a stdio forward of its own (-W)"),
        (f"{SSH} -N h", "no remote command (-N)"),
        (f"{SSH} -fN h", "going to the background (-f)"),
        (f"{SSH} -M h exec imapd", "a master of its own (-M)"),
        (f"{SSH} -S /tmp/s h exec imapd", "a control socket of its own (-S)"),
        (f"{SSH} -O check h", "a master control command (-O)"),
        (f"{SSH} -o LocalForward=2025:x:25 h exec imapd", "a local port forward (LocalForward)"),
        (f"{SSH} -o ControlPath=/tmp/x h exec imapd", "a control socket of its own"),
        (f"{SSH} -o controlmaster=no h exec imapd", "a master of its own (ControlMaster)"),
        (f"{SSH} h", "it runs no remote command"),
        (f"{SSH} h exec", "it runs no remote command"),
        (f"{SSH} -l jane", "it names no host"),
        (f"{SSH} h -l", "-l has no argument"),
        (f"{SSH} -p imap h exec imapd", "its port 'imap' is not a number"),
        (f"{SSH} ssh://jane@h:22 exec imapd", "ssh:// address"),
        (f"{SSH} h exec imapd 2>/dev/null", "uses the remote shell ('2>/dev/null')"),
        (f"{SSH} h exec ~/bin/imapd", "uses the remote shell"),
    ],
)
def test_command_lines_a_master_should_not_run(line: str, reason: str) -> None:
    with pytest.raises(NotForMasterError, match=re.escape(reason)):
        read(line)
