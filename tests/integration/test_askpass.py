"""ssh's passphrase question answered through pinesh's askpass, against the lab sshd.

A key with a passphrase (made here with ssh-keygen -N) is added to the lab's
authorized_keys; no agent runs (SSH_AUTH_SOCK unset). The handler stands in for the
client's dialog (tests/unit/test_askpass.py drives the dialog itself).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pinesh.config.server_spec import ServerSpec
from pinesh.config.settings import SshSettings
from pinesh.transport.askpass import AskpassRequest, AskpassServer
from pinesh.transport.channel import Channel
from pinesh.transport.greeting import GreetingState
from pinesh.transport.masters import MasterPool
from pinesh.transport.opener import RouteError, open_route
from pinesh.transport.routes import SshPreauthRoute, SshTarget
from pinesh.transport.service import Service
from tests.integration.helpers import PREAUTH_RULE, short_dir
from tests.lab.dovecot import IMAP_BINARY, LabDovecot
from tests.lab.maildir_fill import fill_maildir
from tests.lab.sshd import LabSshd
from tests.lab.tmux import TmuxScreen

PASSPHRASE = "lab passphrase 42"


@dataclass
class LockedKey:
    key: Path
    client_config: Path  # like the lab's, with this key and without BatchMode
    work: Path


@pytest.fixture
def locked_key(sshd: LabSshd, monkeypatch: pytest.MonkeyPatch) -> Iterator[LockedKey]:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    authorized = sshd.directory / "authorized_keys"
    before = authorized.read_text()
    with short_dir("pa-") as work:
        key = work / "locked_ed25519"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", PASSPHRASE, "-C", "pinesh-askpass",
             "-f", str(key)],
            check=True,
        )  # fmt: skip
        authorized.write_text(before + Path(f"{key}.pub").read_text())
        lab_config = sshd.client_config.read_text().splitlines()
        kept = [
            line
            for line in lab_config
            if not line.strip().startswith(("IdentityFile", "BatchMode"))
        ]
        config = work / "ssh_config"
        config.write_text(
            "\n".join([*kept, f"    IdentityFile {key}", "    IdentityAgent none", ""])
        )
        try:
            yield LockedKey(key, config, work)
        finally:
            authorized.write_text(before)
            MasterPool(SshSettings(control_dir=work / "ctl")).stop()


@pytest.fixture
def askpass(locked_key: LockedKey) -> Iterator[AskpassServer]:
    directory = locked_key.work / "ctl"
    pool = MasterPool(SshSettings(control_dir=directory))  # makes the private dir
    server = AskpassServer.start(pool.directory)
    yield server
    server.close()


def _recorder(asked: list[str], answer: str | None) -> Callable[[AskpassRequest], str | None]:
    """A handler standing in for the dialog: notes each prompt, gives answer."""

    def handler(request: AskpassRequest) -> str | None:
        asked.append(request.prompt)
        return answer

    return handler


def _open(
    locked: LockedKey, askpass: AskpassServer | None
) -> tuple[MasterPool, Channel | RouteError]:
    pool = MasterPool(SshSettings(control_dir=locked.work / "ctl", persist=30), askpass)
    target = SshTarget("lab", options=("-F", str(locked.client_config)))
    route = SshPreauthRoute(target, (IMAP_BINARY,))
    try:
        channel = open_route(
            route,
            Service.IMAP,
            server=ServerSpec("lab"),
            deadline=time.monotonic() + 20,
            masters=pool,
        )
    except RouteError as exc:
        return pool, exc
    return pool, channel


def test_the_passphrase_asked_through_askpass_logs_in(
    sshd: LabSshd, dovecot: LabDovecot, locked_key: LockedKey, askpass: AskpassServer
) -> None:
    asked: list[str] = []
    askpass.set_handler(_recorder(asked, PASSPHRASE))
    auths = sshd.authentications()
    pool, channel = _open(locked_key, askpass)
    assert not isinstance(channel, RouteError), str(channel)
    try:
        assert channel.greeting.state is GreetingState.PREAUTH
        assert len(asked) == 1 and str(locked_key.key) in asked[0]
        assert "passphrase" in asked[0].lower()
        assert sshd.authentications() - auths == 1
        assert pool.is_up(SshTarget("lab", options=("-F", str(locked_key.client_config))))
    finally:
        channel.close()
    # The master is up: the next open asks nothing.
    _, again = _open(locked_key, askpass)
    assert not isinstance(again, RouteError), str(again)
    again.close()
    assert len(asked) == 1


def test_a_wrong_passphrase_fails_with_sshs_reason(
    sshd: LabSshd, dovecot: LabDovecot, locked_key: LockedKey, askpass: AskpassServer
) -> None:
    asked: list[str] = []
    askpass.set_handler(_recorder(asked, "not the passphrase"))
    _, failed = _open(locked_key, askpass)
    assert isinstance(failed, RouteError)
    assert "Permission denied" in failed.reason
    assert asked  # ssh asked (again after each wrong answer) before it gave up


def test_a_cancelled_question_fails_at_once(
    sshd: LabSshd, dovecot: LabDovecot, locked_key: LockedKey, askpass: AskpassServer
) -> None:
    asked: list[str] = []
    askpass.set_handler(_recorder(asked, None))
    began = time.monotonic()
    _, failed = _open(locked_key, askpass)
    assert isinstance(failed, RouteError) and "Permission denied" in failed.reason
    assert len(asked) == 1  # Escape is final: ssh does not ask again
    assert time.monotonic() - began < 10


def test_without_askpass_ssh_never_asks(
    sshd: LabSshd, dovecot: LabDovecot, locked_key: LockedKey, askpass: AskpassServer
) -> None:
    """The CLI (no askpass server given to the pool): BatchMode, so no question anywhere."""
    asked: list[str] = []
    askpass.set_handler(_recorder(asked, PASSPHRASE))
    _, failed = _open(locked_key, None)
    assert isinstance(failed, RouteError) and "Permission denied" in failed.reason
    assert asked == []


def test_another_uid_gets_no_answer(sshd: LabSshd) -> None:
    """SO_PEERCRED: even where another user can reach the socket, it is not served."""
    with short_dir("pa-") as work:
        work.chmod(0o755)  # not private, on purpose: the uid check must hold on its own
        server = AskpassServer.start(work)
        try:
            server.socket_path.chmod(0o666)
            asked: list[str] = []
            server.set_handler(_recorder(asked, "secret"))

            def ask_as(uid: int, gid: int) -> str:
                # The system python: the lab user cannot run the test's (under /root).
                done = subprocess.run(
                    ["/usr/bin/python3", "-c", PEER, str(server.socket_path)],
                    user=uid,
                    group=gid,
                    extra_groups=[],
                    capture_output=True,
                    text=True,
                    timeout=20,
                    check=True,
                    cwd="/",
                )
                return done.stdout.strip()

            assert ask_as(sshd.user.uid, sshd.user.gid) == "b''"  # closed, unanswered
            assert asked == []
            assert ask_as(os.getuid(), os.getgid()) == repr(b'{"answer": "secret"}\n')
            assert asked == ["Password: "]
        finally:
            server.close()


# A client speaking the askpass protocol, printing the reply it got (b'' for none).
PEER = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(15)
s.connect(sys.argv[1])
try:
    s.sendall(b'{"prompt": "Password: "}\\n')
    print(repr(s.recv(1000)))
except OSError:  # closed on us before we asked: as unanswered
    print(repr(b""))
"""


# -- through the installed command: the question in pinesh's own dialog -------------------

PINESH = Path(sys.executable).parent / "pinesh"


def _client_under_tmux(sshd: LabSshd, locked: LockedKey) -> TmuxScreen:
    """`pinesh -f INBOX` on the lab INBOX, its ssh logging in with the locked key."""
    config = locked.work / "config.toml"
    config.write_text(
        f'open_timeout = 30\nstate_dir = "{locked.work / "state"}"\n\n'
        f'[ssh]\ncontrol_dir = "{locked.work / "ctl"}"\npersist = 30\n'
        f'options = ["-F", "{locked.client_config}"]\n{PREAUTH_RULE}'
    )
    pinerc = locked.work / "pinerc"
    pinerc.write_text(f"inbox-path={{lab/user={sshd.user.name}}}INBOX\n")
    env = {
        "PINESH_CONFIG": str(config),
        "HOME": str(locked.work),
        "TERM": "xterm-256color",
        "SSH_AUTH_SOCK": "",
    }
    return TmuxScreen([str(PINESH), "-p", str(pinerc), "-f", "INBOX"], env=env)


def test_the_client_asks_in_its_dialog_and_opens_the_inbox(
    sshd: LabSshd, dovecot: LabDovecot, lab_maildir: Path, locked_key: LockedKey
) -> None:
    fill_maildir(lab_maildir, 4, seed=8, owner=dovecot.user)
    auths = sshd.authentications()
    screen = _client_under_tmux(sshd, locked_key)
    try:
        text = screen.wait_for("Enter passphrase for key", timeout=30)
        assert "MESSAGE INDEX" in text  # asked over the index, not on the raw terminal
        screen.send("-l", PASSPHRASE)
        text = screen.wait_for("•" * 5)  # typed, and shown masked
        assert PASSPHRASE not in text
        screen.send("Enter")
        text = screen.wait_for("4 messages", timeout=30)
        assert "via ssh lab (preauth" in text and PASSPHRASE not in text
        assert sshd.authentications() - auths == 1
    finally:
        screen.close()


def test_escape_in_the_dialog_fails_the_open(
    sshd: LabSshd, dovecot: LabDovecot, lab_maildir: Path, locked_key: LockedKey
) -> None:
    screen = _client_under_tmux(sshd, locked_key)
    try:
        screen.wait_for("Enter passphrase for key", timeout=30)
        screen.send("Escape")
        # The index says the open failed (ssh's own reason, "Permission denied", is in the
        # error: test_a_cancelled_question_fails_at_once).
        text = screen.wait_for("cannot reach imap on lab", timeout=30)
        assert "Enter passphrase" not in text  # asked once: Escape is final
    finally:
        screen.close()
