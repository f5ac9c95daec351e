"""Another local user against everything pinesh keeps in its runtime directory.

pinesh (here as root) runs a real ssh master, the askpass server, the client fork server
and a `pinesh forward` Unix socket, all in its runtime directory (ssh.control_dir). A second
user (uid 65534, nobody, through setpriv) then tries to list and enter the directory, to
connect to every socket in it, and to talk to each ssh master with `ssh -S SOCKET -O check`.
Every attempt must fail. The parent of the runtime directory is left open (0755), so the
runtime directory's own mode is what is tested; a second round opens the runtime directory
to search (0711) and checks that each socket's own mode refuses too.

Controls, so that a 0 means something: the same harness as the other user reaches a socket
left open on purpose and reads a file in the open parent; root's `ssh -O check` on the same
master answers; the other user reaches a TCP forward on loopback (open to every local user
by design, which `pinesh forward` says when it makes one).
"""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pinesh.cli.client_server import SOCKET_NAME, ThinSettings, server_argv
from pinesh.config.server_spec import ServerSpec
from pinesh.services.connections import Connections
from pinesh.transport.askpass import AskpassServer
from pinesh.transport.service import Service
from tests.integration.helpers import connections, short_dir, stop_masters
from tests.lab.common import free_port
from tests.lab.dovecot import LabDovecot
from tests.lab.sshd import LabSshd

PINESH = str(Path(sys.executable).parent / "pinesh")
NOBODY = 65534
SETPRIV = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]

# Run by /usr/bin/python3 -I as the other user: standard library only, nothing of ours.
# argv[1] is a JSON list of [kind, path] attempts; prints a JSON list of [kind, path, ok, why].
ATTACKER = r"""
import json, os, socket, subprocess, sys
results = []
for kind, path in json.loads(sys.argv[1]):
    try:
        if kind == "list":
            os.listdir(path)
        elif kind == "stat":
            os.lstat(path)
        elif kind == "read":
            open(path, "rb").close()
        elif kind == "connect":
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(5)
                s.connect(path)
        elif kind == "tcp":
            host, port = path.rsplit(":", 1)
            socket.create_connection((host, int(port)), timeout=5).close()
        elif kind == "ssh-check":
            done = subprocess.run(
                ["ssh", "-F", "/dev/null", "-S", path, "-O", "check", "lab"],
                capture_output=True, text=True, timeout=20, env={"PATH": "/usr/bin:/bin"},
            )
            if done.returncode != 0:
                raise OSError(done.stderr.strip().splitlines()[-1:] or done.returncode)
        results.append([kind, path, True, ""])
    except Exception as exc:
        results.append([kind, path, False, f"{type(exc).__name__}: {exc}"])
print(json.dumps(results))
"""


def as_other_user(attempts: list[tuple[str, str]]) -> list[tuple[str, str, bool, str]]:
    """Run the attempts as uid 65534; fails the test if setpriv itself cannot run."""
    done = subprocess.run(
        [*SETPRIV, "/usr/bin/python3", "-I", "-c", ATTACKER, json.dumps(attempts)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd="/",
    )
    assert done.returncode == 0, f"setpriv as uid {NOBODY} failed: {done.stderr}"
    return [(str(k), str(p), bool(ok), str(why)) for k, p, ok, why in json.loads(done.stdout)]


def _wait_for(path: Path, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{what}: {path} did not appear in {timeout:.0f} s"
        time.sleep(0.05)


def _imap_rule(dovecot: LabDovecot) -> str:
    # IMAP through the lab's ssh master to the daemon's STARTTLS port: a greeting the
    # forward's check can read.
    return f"""
[[rule]]
servers = ["lab"]
services = ["imap"]
target = "{dovecot.host}"
ports = {{ imap = {dovecot.imap_port} }}
fallback = []
"""


class Running:
    """pinesh's runtime directory with everything in it up: master, askpass, fork server,
    forward."""

    def __init__(self, work: Path, conns: Connections) -> None:
        self.work = work
        self.conns = conns
        self.ctl = work / "ctl"
        self.forward_stdout = ""
        self.fork_server: subprocess.Popen[bytes] | None = None
        self.askpass: AskpassServer | None = None

    def sockets(self) -> list[Path]:
        return sorted(p for p in self.ctl.iterdir() if stat.S_ISSOCK(p.lstat().st_mode))

    def masters(self) -> list[Path]:
        names = (SOCKET_NAME, "askpass-", "forward-")
        return [p for p in self.sockets() if not p.name.startswith(names)]


@pytest.fixture
def running(sshd: LabSshd, dovecot: LabDovecot) -> Iterator[Running]:
    with short_dir("pu-") as work:
        # The parent is open to everyone: only the runtime directory's own mode keeps the
        # other user out (short_dir makes it 0700, which would hide a fault below it).
        work.chmod(0o755)
        conns = connections(sshd, work, _imap_rule(dovecot))
        run = Running(work, conns)
        try:
            # A real master: an IMAP channel through it.
            conns.open(ServerSpec("lab"), Service.IMAP).channel.close()
            run.askpass = AskpassServer.start(conns.masters().directory)
            argv = server_argv(ThinSettings(True, str(run.ctl), 60, str(work / "server.log")))
            run.fork_server = subprocess.Popen(argv, cwd="/")
            _wait_for(run.ctl / SOCKET_NAME, "the fork server's socket")
            done = subprocess.run(
                [PINESH, "--config", str(work / "config.toml"), "forward", "lab", "imap"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            run.forward_stdout = done.stdout
            assert "warning" not in done.stderr  # a Unix socket: nothing to warn about
            yield run
        finally:
            if run.askpass is not None:
                run.askpass.close()
            if run.fork_server is not None:
                run.fork_server.terminate()
                run.fork_server.wait(timeout=10)
            stop_masters(conns)


def test_another_user_reaches_nothing_in_the_runtime_directory(running: Running) -> None:
    ctl = running.ctl
    # What is there: the default forward is a Unix socket in the runtime directory.
    default_forward = ctl / "forward-imap-lab.sock"
    assert running.forward_stdout.startswith(f"{default_forward} -> ")
    sockets = running.sockets()
    masters = running.masters()
    assert len(masters) == 1, sockets
    assert {ctl / SOCKET_NAME, default_forward} <= set(sockets)
    assert running.askpass is not None and running.askpass.socket_path in sockets
    assert len(sockets) == 4

    # Root's own check answers: the master the other user tries is up.
    own = subprocess.run(
        ["ssh", "-F", "/dev/null", "-S", str(masters[0]), "-O", "check", "lab"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert own.returncode == 0, own.stderr

    attempts = [("list", str(ctl)), ("stat", str(ctl / SOCKET_NAME))]
    attempts += [("connect", str(path)) for path in sockets]
    attempts += [("ssh-check", str(path)) for path in masters]
    results = as_other_user(attempts)
    assert len(results) == len(attempts) == 7
    assert [row for row in results if row[2]] == []
    assert all("Permission denied" in row[3] or "EACCES" in row[3] for row in results), results


def test_each_socket_refuses_another_user_on_its_own(running: Running) -> None:
    ctl = running.ctl
    sockets = running.sockets()
    modes = {path.name: stat.S_IMODE(path.lstat().st_mode) for path in sockets}
    assert all(mode & 0o077 == 0 for mode in modes.values()), modes
    ctl.chmod(0o711)  # searchable by anyone: only each socket's mode is left
    try:
        attempts = [("connect", str(path)) for path in sockets]
        attempts += [("ssh-check", str(path)) for path in running.masters()]
        results = as_other_user(attempts)
    finally:
        ctl.chmod(0o700)
    assert len(results) == 5
    assert [row for row in results if row[2]] == []


def test_the_harness_reaches_what_is_open(running: Running, tmp_path: Path) -> None:
    """The control: the same attempts succeed where nothing keeps the other user out."""
    open_dir = running.work / "open"
    open_dir.mkdir(mode=0o755)
    open_dir.chmod(0o755)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path = open_dir / "open.sock"
    listener.bind(str(path))
    path.chmod(0o777)
    listener.listen(1)
    try:
        results = as_other_user(
            [
                ("list", str(open_dir)),
                ("read", str(running.work / "config.toml")),
                ("connect", str(path)),
            ]
        )
    finally:
        listener.close()
    assert [row[2] for row in results] == [True, True, True], results


def test_a_tcp_forward_is_open_to_every_local_user_and_pinesh_says_so(
    running: Running,
) -> None:
    port = free_port()
    done = subprocess.run(
        [
            PINESH,
            "--config",
            str(running.work / "config.toml"),
            "forward",
            "lab",
            "imap",
            "--listen",
            f"127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"127.0.0.1:{port} is a loopback TCP port" in done.stderr
    assert "every local user can connect to it" in done.stderr
    assert "A Unix socket (the default" in done.stderr
    results = as_other_user([("tcp", f"127.0.0.1:{port}")])
    assert results[0][2], results  # by design: what the warning and the docs say


def test_the_docs_and_help_say_a_tcp_forward_is_open_to_local_users() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs"
    transport = " ".join((docs / "transport.md").read_text().split())
    assert "any local user can connect to it and send or post as you" in transport
    helped = subprocess.run(
        [PINESH, "forward", "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    help_text = " ".join(helped.stdout.split())
    assert "default: one in the runtime directory" in help_text
    assert "a loopback port every local user can reach" in help_text
