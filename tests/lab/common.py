"""Shared pieces of the test lab: the lab user, free ports, and server processes.

The lab starts real servers (sshd, Dovecot, Postfix, INN) on loopback. It needs root,
because it creates a system user and runs daemons that switch users. A server that cannot
start raises LabError carrying the server's own output, and the tests that need it fail
(never skip).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

LAB_USER = "pineshlab"
LAB_PASSWORD = "lab-password-7"
LAB_DOMAIN = "pinesh.test"


class LabError(RuntimeError):
    """A lab server could not be set up or started; the message carries its own output."""


def require_root() -> None:
    """Fail with a clear message unless we run as root (the lab creates users, runs daemons)."""
    if os.geteuid() != 0:
        raise LabError("the test lab needs root: it creates a user and runs sshd, dovecot, ...")


def run(argv: Sequence[str], *, what: str, input: str | None = None, timeout: float = 60) -> str:
    """Run a set-up command; raise LabError with its output when it fails."""
    try:
        done = subprocess.run(
            list(argv), input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"{what}: {' '.join(argv)}: {exc}") from exc
    if done.returncode != 0:
        raise LabError(
            f"{what}: {' '.join(argv)} exited {done.returncode}\n{done.stdout}{done.stderr}"
        )
    return done.stdout


@dataclass(frozen=True)
class LabUser:
    """The system account the lab's servers serve (ssh logins, the Maildir owner)."""

    name: str
    uid: int
    gid: int
    home: Path
    password: str

    @property
    def maildir(self) -> Path:
        return self.home / "Maildir"


def ensure_lab_user(name: str = LAB_USER) -> LabUser:
    """Create the lab user if needed (with a password: sshd refuses locked accounts).

    Another name gives a user of its own, whose ~/Maildir no test session resets (the
    benchmarks run beside the test suites of other worktrees)."""
    require_root()
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        run(["useradd", "-m", "-s", "/bin/sh", name], what="create the lab user")
        entry = pwd.getpwnam(name)
    run(["chpasswd"], input=f"{name}:{LAB_PASSWORD}\n", what="set the lab user's password")
    home = Path(entry.pw_dir)
    home.mkdir(mode=0o755, exist_ok=True)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    return LabUser(name, entry.pw_uid, entry.pw_gid, home, LAB_PASSWORD)


def chown_tree(path: Path, user: LabUser) -> None:
    """Give a whole tree to the lab user."""
    chown_tree_to(path, user.uid, user.gid)


def chown_tree_to(path: Path, uid: int, gid: int) -> None:
    """Give a whole tree to uid:gid."""
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def make_lab_dir(prefix: str) -> Path:
    """A fresh directory that the lab user may traverse (pytest's tmp dirs are 0700 root)."""
    path = Path(tempfile.mkdtemp(prefix=f"pinesh-lab-{prefix}-"))
    path.chmod(0o755)
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on host right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    host: str,
    port: int,
    *,
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
    namespace: str | None = None,
) -> None:
    """Wait until something accepts TCP connections on host:port (seen from namespace)."""
    from tests.lab.netns import socket_in  # netns imports this module

    deadline = time.monotonic() + timeout
    while True:
        try:
            if namespace is None:
                socket.create_connection((host, port), timeout=0.5).close()
            else:
                socket_in(namespace, host, port, timeout=0.5).close()
            return
        except OSError as exc:
            last = exc
        if process is not None and process.poll() is not None:
            raise LabError(f"the server exited with {process.returncode} before {host}:{port}")
        if time.monotonic() > deadline:
            raise LabError(f"nothing listens on {host}:{port} after {timeout:.0f} s ({last})")
        time.sleep(0.05)


class ServerProcess:
    """A server started in the foreground as our child, its output in a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        namespace: str | None = None,
        **popen: object,
    ) -> None:
        self.name = name
        # `ip netns exec` execs the program in its place: our child is the server itself.
        self.namespace = namespace
        self.argv = list(argv) if namespace is None else ["ip", "netns", "exec", namespace, *argv]
        self.log = log
        self._log_file = open(log, "ab")  # noqa: SIM115 - lives as long as the process
        try:
            self.process: subprocess.Popen[bytes] = subprocess.Popen(  # type: ignore[call-overload]
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **popen,
            )
        except OSError as exc:
            self._log_file.close()
            raise LabError(f"{name}: cannot run {self.argv[0]}: {exc}") from exc

    def output(self) -> str:
        """What the server has written to its log so far."""
        return self.log.read_text(errors="replace")

    def fail(self, why: str) -> LabError:
        """A LabError that carries the server's own output."""
        return LabError(f"{self.name} did not start: {why}\n--- its output ---\n{self.output()}")

    def wait_for_port(self, host: str, port: int, timeout: float = 20) -> None:
        try:
            wait_for_port(
                host, port, timeout=timeout, process=self.process, namespace=self.namespace
            )
        except LabError as exc:
            self.stop()
            raise self.fail(str(exc)) from exc

    def stop(self) -> None:
        """Stop the server by its pid (and its process group), then reap it."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=10)
        self._log_file.close()


def live_program(pid: int, program: str | None = None) -> bool:
    """Whether pid is a live (not zombie) process, running program (by its kernel name)
    when one is given.

    A pid read from a pid file may be stale: after a reboot or a killed session the number
    can belong to anything, our own sshd included. Check before signalling it.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    name, _, rest = stat.partition(" (")[2].rpartition(")")
    return (program is None or name == program[:15]) and rest.split()[0] != "Z"


def which(program: str, package: str) -> str:
    """The path of a program the lab needs, or a LabError naming the Debian package."""
    found = shutil.which(program) or (
        program if os.path.isabs(program) and os.access(program, os.X_OK) else None
    )
    if found is None:
        raise LabError(
            f"{program} is not installed (Debian package {package}); "
            "run scripts/install-test-deps.sh"
        )
    return found


def lab_failure(exc: LabError) -> None:
    """Fail the test (never skip): a lab test whose server cannot start is a failing test."""
    import pytest

    pytest.fail(f"test lab: {exc}", pytrace=False)
