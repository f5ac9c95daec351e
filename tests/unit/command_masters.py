"""A stand-in for MasterPool in unit tests: every ssh channel runs one local command on a
socketpair, as a real `ssh -W` would hand the opener its stdio, so the opener's
ssh-channel code runs as it is without sshd (the lab's tests use the real one)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from pinesh.transport.masters import Launch
from pinesh.transport.routes import SshTarget

SpawnedT = TypeVar("SpawnedT")


class CommandMasters:
    """Every channel is argv (a fake server, or a relay to one), on a reused 'master'."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv

    def ssh_argv(self, target: SshTarget, tail: Sequence[str]) -> list[str]:
        return self.argv

    def launch(
        self,
        target: SshTarget,
        argv: list[str],
        deadline: float,
        start: Callable[[list[str]], SpawnedT],
    ) -> tuple[SpawnedT, Launch]:
        return start(argv), Launch(reused_master=True, handshake_seconds=None)
