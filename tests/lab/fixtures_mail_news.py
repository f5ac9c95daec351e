"""Session fixtures for the lab's Postfix (SMTP) and INN (NNTP) servers.

Also `ssh_channel`: opens `ssh -W host:port` stdio channels through the lab sshd, the way
pinesh reaches a server behind the shell host, and hands each back as a socket.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable, Iterator

import pytest

from tests.lab.common import LabError, LabUser, lab_failure, make_lab_dir
from tests.lab.inn import LabInn, start_inn
from tests.lab.postfix import LabPostfix, start_postfix
from tests.lab.sshd import LabSshd

SshChannel = Callable[[str, int], socket.socket]


@pytest.fixture(scope="session")
def postfix(lab_user: LabUser) -> Iterator[LabPostfix]:
    """A private Postfix on 127.0.0.1 and [::1] that relays only for ::1."""
    try:
        lab = start_postfix(lab_user, make_lab_dir("postfix"))
    except LabError as exc:
        lab_failure(exc)
        raise
    yield lab
    lab.stop()


@pytest.fixture(scope="session")
def inn() -> Iterator[LabInn]:
    """The system INN on a free port on 127.0.0.1, with the groups local.test, local.other."""
    try:
        lab = start_inn()
    except LabError as exc:
        lab_failure(exc)
        raise
    yield lab
    lab.stop()


def forward_target(host: str, port: int) -> str:
    """The host:port argument of `ssh -W`; an IPv6 address needs brackets ([::1]:25)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@pytest.fixture
def ssh_channel(sshd: LabSshd) -> Iterator[SshChannel]:
    """A factory of sockets, each the near end of an `ssh -W host:port lab` channel."""
    opened: list[tuple[str, socket.socket, subprocess.Popen[bytes]]] = []

    def open_channel(host: str, port: int) -> socket.socket:
        target = forward_target(host, port)
        near, far = socket.socketpair()
        try:
            process = subprocess.Popen(
                ["ssh", *sshd.ssh_options(), "-W", target, sshd.alias],
                stdin=far.fileno(),
                stdout=far.fileno(),
                stderr=subprocess.PIPE,
            )
        finally:
            far.close()
        opened.append((target, near, process))
        near.settimeout(20)
        return near

    yield open_channel
    for target, near, process in opened:
        near.close()
        try:
            _, errors = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            _, errors = process.communicate()
        if errors.strip():
            # Shown by pytest when the test failed: why a channel broke, in ssh's own words.
            print(f"ssh -W {target}: {errors.decode(errors='replace')}")
