"""Read an OpenSSH command line (Pine's expanded ssh-command) as a target and a remote command.

So that a pinerc's ``ssh-path=/usr/bin/ssh`` can run through pinesh's shared master
instead of one ssh login per connection: the template's own ssh options become part of
the master's identity, its destination the target, and what follows the remote command.
A command line that cannot run through a master sensibly (a port forward, a master of
its own, no remote command) is not read: the reason says why, and the caller runs the
command as it is.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from pinesh.errors import PineshError
from pinesh.transport.routes import SshTarget

# OpenSSH 9's options that take an argument (ssh.c's getopt string).
WITH_ARGUMENT = frozenset("BbcDEeFIiJLlmOoPpQRSWw")
# Options and what they mean, when they make a channel through a master the wrong thing.
NOT_THROUGH_A_MASTER = {
    "L": "a local port forward (-L)",
    "R": "a remote port forward (-R)",
    "D": "a dynamic forward (-D)",
    "W": "a stdio forward of its own (-W)",
    "w": "a tunnel device (-w)",
    "N": "no remote command (-N)",
    "n": "stdin from /dev/null (-n)",
    "f": "going to the background (-f)",
    "M": "a master of its own (-M)",
    "S": "a control socket of its own (-S)",
    "O": "a master control command (-O)",
    "s": "a subsystem (-s)",
    "G": "printing its configuration (-G)",
    "Q": "a query (-Q)",
    "V": "printing its version (-V)",
}
# The same through -o Key=Value (keys are case-insensitive).
NOT_THROUGH_A_MASTER_KEYS = {
    "localforward": "a local port forward (LocalForward)",
    "remoteforward": "a remote port forward (RemoteForward)",
    "dynamicforward": "a dynamic forward (DynamicForward)",
    "tunnel": "a tunnel device (Tunnel)",
    "controlmaster": "a master of its own (ControlMaster)",
    "controlpath": "a control socket of its own (ControlPath)",
    "controlpersist": "a master of its own (ControlPersist)",
    "sessiontype": "a session type of its own (SessionType)",
    "stdinnull": "stdin from /dev/null (StdinNull)",
    "forkafterauthentication": "going to the background (ForkAfterAuthentication)",
    "remotecommand": "a remote command in its options (RemoteCommand)",
}
# Dropped: pinesh runs ssh with LogLevel=ERROR instead, which keeps failure reasons.
DROPPED = frozenset("q")


@dataclass(frozen=True)
class SshCommand:
    """An ssh command line read as what a master needs: the login and the remote command."""

    target: SshTarget
    command: tuple[str, ...]  # the remote command, without a leading "exec"


class NotForMasterError(ValueError):
    """The command line cannot run through a shared master; the message says why."""


@dataclass
class _Reading:
    """What has been read of the command line so far."""

    login_user: str | None = None
    port: int | None = None
    options: list[str] = field(default_factory=list)


def _option_key(value: str) -> str:
    """The keyword of an -o argument: 'Key=Value' or 'Key Value'."""
    return value.replace("=", " ", 1).split(maxsplit=1)[0].lower() if value.strip() else ""


def _take(reading: _Reading, letter: str, value: str | None) -> None:
    """Apply one option (value is its argument, for those that take one)."""
    if letter in NOT_THROUGH_A_MASTER:
        raise NotForMasterError(f"it asks for {NOT_THROUGH_A_MASTER[letter]}")
    if letter in DROPPED:
        return
    if value is None:
        reading.options.append(f"-{letter}")
        return
    if letter == "l":
        # OpenSSH keeps the first user it is given (from -l or user@host).
        reading.login_user = reading.login_user or value
    elif letter == "p":
        if not value.isdigit():
            raise NotForMasterError(f"its port {value!r} is not a number")
        reading.port = reading.port or int(value)
    else:
        if letter == "o" and _option_key(value) in NOT_THROUGH_A_MASTER_KEYS:
            raise NotForMasterError(f"it asks for {NOT_THROUGH_A_MASTER_KEYS[_option_key(value)]}")
        reading.options += [f"-{letter}", value]


def _options(reading: _Reading, words: Sequence[str], i: int) -> int:
    """Read options from words[i:], getopt style; return the index of the first non-option."""
    while i < len(words):
        word = words[i]
        if word == "--":
            return i + 1
        if not word.startswith("-") or word == "-":
            return i
        i += 1
        j = 1
        while j < len(word):
            letter = word[j]
            if letter in WITH_ARGUMENT:
                value = word[j + 1 :]
                if not value:
                    if i >= len(words):
                        raise NotForMasterError(f"-{letter} has no argument")
                    value, i = words[i], i + 1
                _take(reading, letter, value)
                break
            if not letter.isalnum():
                raise NotForMasterError(f"-{letter} is not an ssh option")
            _take(reading, letter, None)
            j += 1
    return i


def read_ssh_command(argv: Sequence[str]) -> SshCommand:
    """Read ssh's argv (argv[0] the program) as a target and a remote command.

    Options may come before and after the destination, as OpenSSH allows (Pine's default
    ``%s %s -l %s exec /etc/r%sd`` puts -l after the host). A leading ``exec`` of the
    remote command is dropped (the master's tail adds its own). Raises NotForMasterError
    with the reason when the command line is not one a master should run.
    """
    reading = _Reading()
    words = list(argv[1:])
    i = _options(reading, words, 0)
    if i >= len(words):
        raise NotForMasterError("it names no host")
    destination = words[i]
    if destination.startswith("ssh://"):
        raise NotForMasterError("it names its host as an ssh:// address")
    user, at, host = destination.rpartition("@")
    if at:
        reading.login_user = reading.login_user or user
    i = _options(reading, words, i + 1)
    command = words[i:]
    if command[:1] == ["exec"]:
        command = command[1:]
    if not command:
        raise NotForMasterError("it runs no remote command")
    shelled = [word for word in command if shlex.quote(word) != word]
    if shelled:
        # The remote shell would read these words; a master's channel quotes each word.
        raise NotForMasterError(f"its remote command uses the remote shell ({shelled[0]!r})")
    try:
        target = SshTarget(host, reading.login_user, reading.port, tuple(reading.options))
    except PineshError as exc:
        raise NotForMasterError(str(exc)) from exc
    return SshCommand(target, tuple(command))
