"""`pinesh ssh status|stop` find masters by the sockets in the control directory.

ssh itself is replaced by a small script here (one that answers `-O check` and removes the
socket on `-O exit`, as a master does); the real masters are tested in
tests/integration/test_cli.py.
"""

from __future__ import annotations

import json
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pinesh.config.settings import SshSettings
from pinesh.transport.masters import MasterPool, control_path_option
from pinesh.transport.routes import SshTarget

FAKE_SSH = """#!/bin/sh
echo "$*" >> "$(dirname "$0")/calls"
for word in "$@"; do
    case "$word" in ControlPath=*) path="${word#ControlPath=}" ;; esac
done
case "$*" in
    *"-O check"*) echo "Master running (pid=4242)" >&2 ;;
    *"-O exit"*) rm -f "$path"; echo "Exit request sent." >&2 ;;
esac
"""


@pytest.fixture
def pool(tmp_path: Path) -> MasterPool:
    ssh = tmp_path / "bin" / "ssh"
    ssh.parent.mkdir()
    ssh.write_text(FAKE_SSH)
    ssh.chmod(0o755)
    control = Path(tempfile.mkdtemp(prefix="pn-ut-", dir="/tmp"))  # short: socket paths
    return MasterPool(SshSettings(path=str(ssh), control_dir=control, options=("-F", "/x")))


@pytest.fixture
def listening(pool: MasterPool) -> Iterator[list[socket.socket]]:
    made: list[socket.socket] = []
    yield made
    for sock in made:
        sock.close()
    for path in pool.directory.iterdir():
        path.unlink()
    pool.directory.rmdir()


def _master(pool: MasterPool, made: list[socket.socket], name: str, host: str | None) -> Path:
    path = pool.directory / name
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen()
    made.append(sock)
    if host is not None:
        note = {"host": host, "user": "jane", "port": None, "options": ["-F", "/other"]}
        (pool.directory / f"{name}.json").write_text(json.dumps(note))
    return path


def _calls(pool: MasterPool) -> list[str]:
    calls = Path(pool.settings.path).parent / "calls"
    return calls.read_text().splitlines() if calls.exists() else []


def test_status_lists_every_socket_whatever_options_started_it(
    pool: MasterPool, listening: list[socket.socket]
) -> None:
    a = _master(pool, listening, "m-0123456789abcdef", "mail.example.org")
    b = _master(pool, listening, "m-fedcba9876543210", None)
    for junk in ("m-0123456789abcdef.lock", "m-0123456789abcdef.json.tmp", "askpass-1.sock"):
        (pool.directory / junk).write_text("")
    infos = pool.status()
    assert [i.control_path for i in infos] == [a, b]
    assert [i.label() for i in infos] == ["jane@mail.example.org", "m-fedcba9876543210"]
    assert all(i.running and i.pid == 4242 for i in infos)
    # Checked at the socket itself, with no config or options of this pinesh or the user.
    for call, path in zip(_calls(pool), (a, b), strict=True):
        assert call == f"-F /dev/null -o ControlPath={path} -O check -- pinesh-master"


def test_stop_host_matches_the_note_and_removes_socket_and_note(
    pool: MasterPool, listening: list[socket.socket]
) -> None:
    a = _master(pool, listening, "m-0123456789abcdef", "mail.example.org")
    b = _master(pool, listening, "m-fedcba9876543210", "news.example.org")
    [ended] = pool.stop("mail.example.org")
    assert ended.control_path == a and ended.running
    assert not a.exists() and not (pool.directory / "m-0123456789abcdef.json").exists()
    assert b.exists() and [i.control_path for i in pool.status()] == [b]


def test_status_drops_notes_whose_socket_is_gone(
    pool: MasterPool, listening: list[socket.socket]
) -> None:
    note = pool.directory / "m-00000000000000aa.json"
    note.write_text(json.dumps({"host": "gone.example.org"}))
    assert pool.status() == []
    assert not note.exists()


def test_stop_removes_a_socket_nobody_answers_on(
    pool: MasterPool, listening: list[socket.socket]
) -> None:
    dead = _master(pool, listening, "m-00000000000000bb", "dead.example.org")
    listening.pop().close()  # the master died without removing its socket
    Path(pool.settings.path).write_text("#!/bin/sh\necho 'Connection refused' >&2\nexit 255\n")
    [ended] = pool.stop()
    assert not ended.running
    assert not dead.exists()


def test_control_path_option_doubles_percent_signs() -> None:
    assert control_path_option(Path("/tmp/a%h/m-1")) == "/tmp/a%%h/m-1"
    assert SshTarget("x").label() == "x"
