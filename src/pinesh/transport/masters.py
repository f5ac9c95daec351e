"""Managed OpenSSH masters: one authenticated connection per (user, host, port).

Every channel runs ``ssh -o ControlMaster=auto -o ControlPersist=N``. When no master is
up, the first channel becomes the master itself (ssh forks it into the background after
authentication), so a cold open costs no more than a plain ssh spawn. A per-target lock
makes concurrent cold opens wait for that one master instead of each logging in.

ssh runs with BatchMode=yes, so it never prompts, unless the pool has an askpass server
(the terminal client sets one): then ssh asks its passphrase and password questions
through SSH_ASKPASS, in pinesh's own dialog, and the time spent answering does not count
against the open's deadline.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import socket
import stat
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, TypeVar

from pinesh.config.settings import SshSettings
from pinesh.errors import PineshError
from pinesh.filelock import flock_until
from pinesh.paths import runtime_dir
from pinesh.transport.askpass import AskpassServer
from pinesh.transport.private_dir import ensure_private_dir
from pinesh.transport.routes import SshTarget, bracketed


@dataclass(frozen=True)
class Launch:
    """A started ssh client, and whether it rode on a master that was already up."""

    reused_master: bool
    handshake_seconds: float | None  # time until the new master was up; None when reused
    # Seconds spent waiting for a person to answer ssh's questions; add to the deadline.
    user_wait_seconds: float = 0.0


@dataclass(frozen=True)
class MasterInfo:
    """One master socket in the control directory, for `pinesh ssh status` and `stop`."""

    control_path: Path
    running: bool
    pid: int | None
    detail: str
    # From the note beside the socket; None when there is none (or it is unreadable).
    target: SshTarget | None = None

    def label(self) -> str:
        """user@host:port from the note, else the socket's own name."""
        return self.target.label() if self.target is not None else self.control_path.name


class Spawned(Protocol):
    """A started ssh client, as launch() needs it."""

    def alive(self) -> bool: ...

    def kill(self) -> None: ...


SpawnedT = TypeVar("SpawnedT", bound=Spawned)


@contextlib.contextmanager
def lock_until(path: Path, deadline: float, what: str) -> Iterator[None]:
    """Hold an exclusive flock on path, waiting no later than deadline (time.monotonic()).

    Lock files are never deleted: a process that opened the old file would hold a lock
    nobody else sees.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        # Polled often: a waiting open rides on the new master the moment it is up.
        if not flock_until(fd, deadline, pauses=(0.01,)):
            raise TimeoutError(f"timed out waiting for {what}")
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


class MasterPool:
    """Finds, starts (through the first channel), lists and stops the shared masters."""

    def __init__(self, settings: SshSettings, askpass: AskpassServer | None = None) -> None:
        self.settings = settings
        self.directory = ensure_private_dir(settings.control_dir or runtime_dir())
        # Set by the terminal client only: CLI commands keep BatchMode, never prompting.
        self.askpass = askpass

    # -- names --------------------------------------------------------------------------

    def _stem(self, target: SshTarget) -> str:
        # Hashed: a Unix socket path must stay under ~100 bytes, and ssh appends a suffix
        # while it creates the socket.
        # Options are part of the identity: two rules that reach one host name through
        # different -F files or ProxyJumps must not share a connection.
        key = "\0".join(
            [
                target.login_user or "",
                target.host,
                str(target.port or ""),
                *self.settings.options,
                *target.options,
            ]
        )
        return "m-" + hashlib.sha256(key.encode()).hexdigest()[:16]

    def control_path(self, target: SshTarget) -> Path:
        """Where the master socket for target lives."""
        return self.directory / self._stem(target)

    # -- argv ---------------------------------------------------------------------------

    def ssh_argv(self, target: SshTarget, tail: Sequence[str]) -> list[str]:
        """The ssh argv for one channel through target's master; tail follows the options.

        tail is either ``["--", host, "exec", ...]`` or ``["-W", "h:p", "--", host]``:
        built by remote_command_tail / stdio_forward_tail below.
        """
        s = self.settings
        argv = [s.path]
        askpass = self.askpass if "=" not in s.path else None  # env(1) would take it as NAME=
        if askpass is not None:
            # Through env(1), which execs ssh in its place: only this ssh (and the master
            # it becomes) asks pinesh, not every child pinesh starts ($EDITOR's git...).
            env = [f"{name}={value}" for name, value in askpass.ssh_env().items()]
            argv = ["env", *env, s.path]
        if s.quiet:
            # Not -q: it hides why a login failed. LogLevel=ERROR drops banners and
            # warnings but keeps fatal reasons, which we capture from stderr.
            argv += ["-o", "LogLevel=ERROR"]
        argv += ["-A" if s.forward_agent else "-a", "-X" if s.forward_x11 else "-x"]
        if askpass is None:
            argv += ["-o", "BatchMode=yes"]  # BatchMode=yes would also turn askpass off
        argv += [
            "-o", "ControlMaster=auto",
            "-o", f"ControlPath={control_path_option(self.control_path(target))}",
            "-o", f"ControlPersist={max(1, s.persist)}",
        ]  # fmt: skip
        argv += list(s.options) + list(target.options)
        if target.login_user:
            argv += ["-l", target.login_user]
        if target.port:
            argv += ["-p", str(target.port)]
        return argv + list(tail)

    # -- state --------------------------------------------------------------------------

    def is_up(self, target: SshTarget) -> bool:
        """Whether a master answers on target's control socket (cheap: one connect)."""
        path = self.control_path(target)
        return path.exists() and _answers(path)

    def _lock_path(self, target: SshTarget) -> Path:
        return self.directory / f"{self._stem(target)}.lock"

    def _remember(self, target: SshTarget) -> None:
        info = {
            "host": target.host,
            "user": target.login_user,  # the note's key, as running masters' notes have it
            "port": target.port,
            "options": list(target.options),
            "control_path": str(self.control_path(target)),
            "started": time.time(),
        }
        meta = self.directory / f"{self._stem(target)}.json"
        tmp = meta.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(info))
        tmp.replace(meta)

    def launch(
        self,
        target: SshTarget,
        argv: list[str],
        deadline: float,
        start: Callable[[list[str]], SpawnedT],
    ) -> tuple[SpawnedT, Launch]:
        """Start argv (built by ssh_argv) so that it uses, or becomes, target's master.

        When no master is up, hold the per-target lock until the new one answers (or the
        child exits, or the deadline passes), so concurrent opens share one login.
        """
        if self.is_up(target):
            return start(argv), Launch(reused_master=True, handshake_seconds=None)
        with lock_until(
            self._lock_path(target),
            deadline,
            f"the ssh connection to {target.label()} that another pinesh is starting",
        ):
            if self.is_up(target):
                return start(argv), Launch(reused_master=True, handshake_seconds=None)
            began = time.monotonic()
            asked = self._user_seconds()
            child = start(argv)
            try:
                while not self.is_up(target):
                    waited = self._user_seconds() - asked
                    if not child.alive() or time.monotonic() > deadline + waited:
                        return child, Launch(False, None, waited)
                    time.sleep(0.003)
            except BaseException:
                child.kill()
                raise
            with contextlib.suppress(OSError):
                self._remember(target)  # only for `pinesh ssh status`
            waited = self._user_seconds() - asked
            return child, Launch(False, time.monotonic() - began, waited)

    def _user_seconds(self) -> float:
        return self.askpass.user_seconds() if self.askpass is not None else 0.0

    # -- status and stop ----------------------------------------------------------------

    def _control(self, path: Path, op: str) -> subprocess.CompletedProcess[str]:
        """`ssh -O op` on the socket at path, whatever config or options started it.

        ``-F /dev/null`` and an explicit ControlPath: the user's ssh config (or this
        pinesh config's options) cannot redirect the command to another socket, and the
        host argument is then only a placeholder ssh insists on.
        """
        argv = [
            self.settings.path, "-F", "/dev/null",
            "-o", f"ControlPath={control_path_option(path)}",
            "-O", op, "--", CONTROL_HOST_PLACEHOLDER,
        ]  # fmt: skip
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(argv, 255, "", f"ssh -O {op} did not answer")

    def sockets(self) -> list[Path]:
        """The master sockets in the control directory, whoever's config started them."""
        found = []
        for path in sorted(self.directory.iterdir()):
            if not MASTER_SOCKET_NAME.match(path.name):
                continue  # locks, notes, ssh's temporary names, askpass and client sockets
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(path.lstat().st_mode):
                    found.append(path)
        return found

    def _note(self, path: Path) -> SshTarget | None:
        """The target the note beside socket path names (only used as its label)."""
        try:
            info = json.loads(path.with_name(f"{path.name}.json").read_text())
            return SshTarget(
                info["host"], info.get("user"), info.get("port"),
                tuple(info.get("options") or ()),
            )  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError, AttributeError, PineshError):
            return None

    def _drop_stale_notes(self) -> None:
        """Remove the notes whose socket is gone (its master ended)."""
        for meta in self.directory.glob("m-*.json"):
            if not meta.with_suffix("").exists():
                with contextlib.suppress(OSError):
                    meta.unlink()

    def _check(self, path: Path) -> MasterInfo:
        done = self._control(path, "check")
        match = re.search(r"pid=(\d+)", done.stderr)
        pid = int(match.group(1)) if match else None
        detail = done.stderr.strip() or done.stdout.strip()
        running = done.returncode == 0
        return MasterInfo(path, running, pid if running else None, detail, self._note(path))

    def status(self) -> list[MasterInfo]:
        """Every master socket in the control directory, each checked with `ssh -O check`."""
        self._drop_stale_notes()
        return [self._check(path) for path in self.sockets()]

    def stop(self, host: str | None = None) -> list[MasterInfo]:
        """End the masters (of one host, by their notes, or all) with `ssh -O exit`.

        Returns what was found; ``running`` says whether it was running when asked. A
        socket no master answers on any more is removed with its note.
        """
        ended = []
        for path in self.sockets():
            info = self._check(path)
            if host is not None and (info.target is None or info.target.host != host):
                continue
            if info.running:
                self._control(path, "exit")
                _wait_gone(path, STOP_WAIT_SECONDS)
            if path.exists() and not _answers(path):
                with contextlib.suppress(OSError):
                    path.unlink()  # stale: ssh would remove it too on its next connect
            with contextlib.suppress(OSError):
                path.with_name(f"{path.name}.json").unlink()
            ended.append(replace(info, detail="stopped" if info.running else "not running"))
        self._drop_stale_notes()
        return ended


# A master socket's name: "m-" and 16 hex digits (MasterPool._stem); ssh's own temporary
# names while it binds one have a suffix after a dot.
MASTER_SOCKET_NAME = re.compile(r"^m-[0-9a-f]{16}$")
CONTROL_HOST_PLACEHOLDER = "pinesh-master"  # ssh -O needs a host; with -F /dev/null unused
STOP_WAIT_SECONDS = 2.0  # how long a master told to exit gets to remove its socket


def control_path_option(path: Path) -> str:
    """path as a ControlPath value: ssh expands %-tokens there, so a literal % is doubled."""
    return str(path).replace("%", "%%")


def _answers(path: Path) -> bool:
    """Whether something accepts connections on the Unix socket at path."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def _wait_gone(path: Path, seconds: float) -> None:
    """Wait (at most seconds) until path is gone: a master removes its socket as it exits."""
    deadline = time.monotonic() + seconds
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def remote_command_tail(host: str, command: Sequence[str]) -> list[str]:
    """ssh argv tail that runs command on host, each word quoted for the remote shell.

    ssh hands the remote command to the user's login shell as one string; quoting each
    word keeps metacharacters literal there. ``exec`` leaves no shell in between.
    """
    return ["--", host, "exec", *(shlex.quote(word) for word in command)]


def stdio_forward_tail(login_host: str, host: str, port: int) -> list[str]:
    """ssh argv tail for a stdio channel to host:port (ssh -W), IPv6 literals bracketed."""
    return ["-W", f"{bracketed(host)}:{port}", "--", login_host]
