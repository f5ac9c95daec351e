"""The opt-in client fork server (cli/client_server.py) under tmux, against the lab.

Each test runs the installed `pinesh` command on a snapshot of pinesh's source (copied to
the test's directory and put first on PYTHONPATH): the fork server refuses a client whose
package files differ from its own, and other work may edit the tree while a test runs.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import PREAUTH_RULE, lab_config_text, short_dir
from tests.lab.common import LabError, LabUser
from tests.lab.dovecot import LabDovecot
from tests.lab.maildir_fill import fill_maildir
from tests.lab.sshd import LabSshd
from tests.lab.tmux import TmuxScreen

PINESH = Path(sys.executable).parent / "pinesh"
SOURCE = Path(__file__).resolve().parents[2] / "src" / "pinesh"
CLIENT = "\n[client]\nserver = true\nserver_idle = 60\n"


@pytest.fixture
def work(sshd: LabSshd) -> Iterator[Path]:
    with short_dir("pf-") as path:
        snapshot = path / "src" / "pinesh"
        shutil.copytree(SOURCE, snapshot, ignore=shutil.ignore_patterns("__pycache__"))
        (path / "config.toml").write_text(lab_config_text(sshd, path, PREAUTH_RULE) + CLIENT)
        yield path
        _stop_server(path)
        subprocess.run(
            [str(PINESH), "--config", str(path / "config.toml"), "ssh", "stop"],
            capture_output=True,
            timeout=30,
            check=False,
            env={**os.environ, "PYTHONPATH": str(path / "src")},
        )
        shutil.rmtree(path, ignore_errors=True)


def _log(work: Path) -> str:
    path = work / "state" / "client-server.log"
    return path.read_text() if path.exists() else ""


def _server_pids(work: Path) -> set[int]:
    """The pids of the servers of this directory that still run."""
    pids = {int(p) for p in re.findall(r"\[(\d+)\] listening on", _log(work))}
    return {pid for pid in pids if Path(f"/proc/{pid}").exists() and _is_server(pid)}


def _is_server(pid: int) -> bool:
    try:
        return b"serve_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _stop_server(work: Path) -> None:
    for pid in _server_pids(work):
        os.kill(pid, signal.SIGTERM)


def _wait(predicate: Callable[[], object], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise LabError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _pinesh(sshd: LabSshd, work: Path, umask: str = "022") -> TmuxScreen:
    """pinesh under tmux, in a shell (with that umask) that prints its exit status
    (STATUS=N), writes it to work/pinesh.status, and stays: a pane whose process ends may
    keep it as a zombie, without a status, in tmux."""
    (work / "pinesh.status").unlink(missing_ok=True)  # a launch before this one's
    pinerc = work / "pinerc"
    pinerc.write_text(f"user-domain=pinesh.test\ninbox-path={{lab/user={sshd.user.name}}}INBOX\n")
    env = {
        "PINESH_CONFIG": str(work / "config.toml"),
        "HOME": str(work),
        "TERM": "xterm-256color",
        "SSH_AUTH_SOCK": "",
        "PYTHONPATH": str(work / "src"),
    }
    argv = [str(PINESH), "-p", str(pinerc), "-f", "INBOX"]
    # COLUMNS/LINES from the tmux server's environment would fix the size (shutil's rule).
    # The status also goes to a file: a forked child still drawing for a moment after its
    # thin client was killed can paint over the shell's line on the screen.
    script = f'umask {umask}; "$@"; s=$?; echo "STATUS=$s."; echo "$s" > "$0.status"; sleep 60'
    shell = ["env", "-u", "COLUMNS", "-u", "LINES", "sh", "-c", script]
    shell = [*shell, str(work / "pinesh"), *argv]
    return TmuxScreen(shell, env=env)


def _tmux(screen: TmuxScreen, *args: str) -> str:
    done = subprocess.run(
        [screen.tmux, *args], capture_output=True, text=True, timeout=10, check=False
    )
    return done.stdout


def _client_pid(screen: TmuxScreen) -> int:
    """The thin client: the pane runs a shell (which reports the status), pinesh under it."""
    shell = int(_tmux(screen, "display-message", "-p", "-t", screen.name, "#{pane_pid}"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for task in Path(f"/proc/{shell}/task").iterdir():
            for child in (task / "children").read_text().split():
                if b"pinesh" in Path(f"/proc/{child}/cmdline").read_bytes():
                    return int(child)
        time.sleep(0.05)
    raise LabError(f"no pinesh under the pane's shell:\n{screen.text()}")


def _exit_status(screen: TmuxScreen, work: Path, timeout: float = 15) -> int:
    """pinesh's exit status, as the shell around it wrote it (work/pinesh.status)."""
    status = work / "pinesh.status"
    _wait(lambda: status.exists() and status.read_text().strip() != "", "STATUS", timeout)
    return int(status.read_text())


def _served_by(work: Path, client: int) -> int | None:
    match = re.search(rf"client pid {client} \(\d+x\d+\) served by child (\d+)", _log(work))
    return int(match.group(1)) if match else None


def _menu_row(text: str) -> int | None:
    """The row of the index's key menu (its last line), if it is on the screen."""
    rows = [n for n, line in enumerate(text.splitlines()) if "NextMsg" in line]
    return rows[-1] if rows else None


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rpartition(")")[2].split()[1])


def _first_run(sshd: LabSshd, work: Path, count: int = 7) -> int:
    """A first launch: served in-process, it starts the server; quit; the server's pid."""
    screen = _pinesh(sshd, work)
    try:
        screen.wait_for(f"of {count}", timeout=30)
        _wait(lambda: _server_pids(work), "the fork server to listen")
        client = _client_pid(screen)
        assert _served_by(work, client) is None
        screen.send("q")
        screen.wait_for("Really quit")
        screen.send("y")
        assert _exit_status(screen, work) == 0
    finally:
        screen.close()
    (server,) = _server_pids(work)
    return server


def test_second_run_is_forked_resizes_and_exits_with_its_status(
    sshd: LabSshd, dovecot: LabDovecot, lab_maildir: Path, work: Path
) -> None:
    fill_maildir(lab_maildir, 80, seed=31, owner=dovecot.user)  # more than fit
    server = _first_run(sshd, work, 80)  # started from a shell with umask 022
    screen = _pinesh(sshd, work, umask="027")
    try:
        text = screen.wait_for("of 80", timeout=30)
        assert "MESSAGE INDEX" in text
        client = _client_pid(screen)
        child = _served_by(work, client)
        assert child is not None, _log(work)
        assert _parent(child) == server  # a fork of the server, not a process of the pane
        assert b"serve_main" in Path(f"/proc/{child}/cmdline").read_bytes()
        assert _parent(client) != server and not _is_server(client)
        assert "Umask:\t0027" in Path(f"/proc/{child}/status").read_text()  # the client's
        assert _menu_row(text) == 44, text  # the index fills the screen: the menu is last
        _tmux(screen, "resize-window", "-t", screen.name, "-x", "160", "-y", "60")
        # SIGWINCH went to the thin client (the pane's process group) and on to the child,
        # which redrew on 60 rows: the menu moved down (tmux alone leaves rows 46-60 empty).
        _wait(lambda: _menu_row(screen.text()) == 59, "the screen redrawn on 60 rows")
        screen.send("q")
        screen.wait_for("Really quit")
        screen.send("y")
        assert _exit_status(screen, work) == 0
        _wait(lambda: not Path(f"/proc/{child}").exists(), "the child to be reaped", 10)
    finally:
        screen.close()
    # A failing start: the child's status and its message reach the terminal. The config
    # is valid TOML (the thin path reads it) but not a valid pinesh config.
    config = work / "config.toml"
    config.write_text(config.read_text().replace("open_timeout = 5", "open_timeout = -1"))
    served = _log(work).count("served by child")
    screen = _pinesh(sshd, work)
    try:
        text = screen.wait_for("STATUS=", timeout=30)
        assert "STATUS=2" in text and "open_timeout: must be more than 0" in text, text
        assert _log(work).count("served by child") == served + 1, _log(work)
    finally:
        screen.close()


def test_killing_the_thin_client_ends_the_child(
    sshd: LabSshd, dovecot: LabDovecot, lab_maildir: Path, work: Path
) -> None:
    fill_maildir(lab_maildir, 7, seed=32, owner=dovecot.user)
    server = _first_run(sshd, work)
    screen = _pinesh(sshd, work)
    try:
        screen.wait_for("of 7", timeout=30)
        client = _client_pid(screen)
        child = _served_by(work, client)
        assert child is not None and Path(f"/proc/{child}").exists()
        os.kill(client, signal.SIGKILL)  # nothing to forward: only the socket says so
        _wait(lambda: not Path(f"/proc/{child}").exists(), "the child to exit", 10)
        assert _exit_status(screen, work) == 128 + signal.SIGKILL
        assert _server_pids(work) == {server}  # the server itself goes on
    finally:
        screen.close()


def test_a_stale_server_is_replaced_and_the_launch_runs_in_process(
    sshd: LabSshd, dovecot: LabDovecot, lab_maildir: Path, work: Path
) -> None:
    fill_maildir(lab_maildir, 7, seed=33, owner=dovecot.user)
    old = _first_run(sshd, work)
    upgraded = work / "src" / "pinesh" / "textsafe.py"
    upgraded.write_text(upgraded.read_text() + "\n# upgraded\n")  # another pinesh now
    screen = _pinesh(sshd, work)
    try:
        screen.wait_for("of 7", timeout=30)
        client = _client_pid(screen)
        assert _served_by(work, client) is None
        assert f"client pid {client} runs another pinesh" in _log(work)
        _wait(lambda: old not in _server_pids(work) and _server_pids(work), "a new server")
        screen.send("q")
        screen.wait_for("Really quit")
        screen.send("y")
        assert _exit_status(screen, work) == 0
    finally:
        screen.close()
    screen = _pinesh(sshd, work)  # and the new server serves the new code
    try:
        screen.wait_for("of 7", timeout=30)
        assert _served_by(work, _client_pid(screen)) is not None, _log(work)
    finally:
        screen.close()


def _planted(work: Path, user: LabUser, kind: str) -> Path:
    control = work / "ctl"
    control.mkdir(mode=0o700, exist_ok=True)
    path = control / "client-server.sock"
    if kind == "file":
        path.write_text("not a socket\n")
        os.chmod(path, 0o600)
    else:
        planted = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        planted.bind(str(path))
        planted.close()
        os.chmod(path, 0o600)
        os.chown(path, user.uid, user.gid)
    return path


@pytest.mark.parametrize("kind", ["file", "socket of another uid"])
def test_a_planted_socket_is_refused(
    sshd: LabSshd, dovecot: LabDovecot, lab_maildir: Path, work: Path, kind: str
) -> None:
    fill_maildir(lab_maildir, 7, seed=34, owner=dovecot.user)
    path = _planted(work, dovecot.user, kind)
    before = os.lstat(path)
    screen = _pinesh(sshd, work)
    try:
        screen.wait_for("of 7", timeout=30)  # in-process, as without a server
        assert _served_by(work, _client_pid(screen)) is None
        after = os.lstat(path)
        assert (after.st_ino, after.st_uid) == (before.st_ino, before.st_uid)  # left alone
        assert not _server_pids(work)  # and no server was started over it
    finally:
        screen.close()


def test_a_server_of_another_uid_is_not_used(
    sshd: LabSshd, dovecot: LabDovecot, lab_maildir: Path, work: Path
) -> None:
    """A socket file of ours whose listener runs as someone else (SO_PEERCRED)."""
    fill_maildir(lab_maildir, 7, seed=35, owner=dovecot.user)
    user = dovecot.user
    control = work / "ctl"
    control.mkdir(mode=0o700, exist_ok=True)
    path = control / "client-server.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    os.chmod(path, 0o600)
    said, told = os.pipe()
    pid = os.fork()
    if pid == 0:  # the impostor: listens (and so is the peer) as the lab user
        try:
            os.setgid(user.gid)
            os.setuid(user.uid)
            listener.listen(4)
            listener.settimeout(30)
            conn, _ = listener.accept()
            conn.settimeout(2)
            got = b""
            try:
                while chunk := conn.recv(65536):
                    got += chunk
            except OSError:
                pass
            os.write(told, b"%d" % len(got))
        finally:
            os._exit(0)
    listener.close()
    os.close(told)
    screen = _pinesh(sshd, work)
    try:
        screen.wait_for("of 7", timeout=30)
        assert _served_by(work, _client_pid(screen)) is None
        readable, _, _ = select.select([said], [], [], 10)
        assert readable, "the impostor saw no connection"
        assert os.read(said, 64) == b"0"  # connected, checked the peer, and sent nothing
    finally:
        os.close(said)
        screen.close()
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
