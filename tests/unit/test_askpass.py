"""The askpass server and client (a real client process on a real socket), ssh's argv with
and without askpass, and the dialog that answers through Textual's Pilot."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Input, Static

from pinesh.config.settings import SshSettings
from pinesh.transport.askpass import AskpassRequest, AskpassServer, peer_uid
from pinesh.transport.masters import MasterPool, remote_command_tail
from pinesh.transport.routes import SshTarget
from pinesh.ui.askpass_dialog import install_askpass
from pinesh.ui.prompts import ConfirmScreen, PromptScreen


@pytest.fixture
def server(tmp_path: Path) -> Iterator[AskpassServer]:
    directory = tmp_path / "rt"
    directory.mkdir(mode=0o700)
    started = AskpassServer.start(directory)
    yield started
    started.close()


def _client(server: AskpassServer, prompt: str, kind: str = "") -> subprocess.Popen[str]:
    """The askpass program as ssh runs it: the script, the prompt as argv[1]."""
    env = {**os.environ, **server.ssh_env()}
    if kind:
        env["SSH_ASKPASS_PROMPT"] = kind
    return subprocess.Popen(
        [server.ssh_env()["SSH_ASKPASS"], prompt],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_files_are_private_and_removed_at_close(tmp_path: Path) -> None:
    directory = tmp_path / "rt"
    directory.mkdir(mode=0o700)
    server = AskpassServer.start(directory)
    assert server.socket_path.stat().st_mode & 0o777 == 0o600
    assert server.script_path.stat().st_mode & 0o777 == 0o700
    server.close()
    assert not server.socket_path.exists() and not server.script_path.exists()


def test_the_client_prints_the_handlers_answer(server: AskpassServer) -> None:
    asked: list[AskpassRequest] = []

    def handler(request: AskpassRequest) -> str:
        asked.append(request)
        return "correct horse"

    server.set_handler(handler)
    client = _client(server, "Enter passphrase for key '/k': ")
    out, err = client.communicate(timeout=20)
    assert (client.returncode, out, err) == (0, "correct horse\n", "")
    assert [(r.prompt, r.kind) for r in asked] == [("Enter passphrase for key '/k': ", "")]


def _plant(directory: Path, marker: Path, *modules: str) -> None:
    """Modules in directory that write marker when imported (what another user could leave
    in a shared /tmp or an unpacked archive)."""
    code = f"open({str(marker)!r}, 'a').write(__name__ + '\\n')\n"
    for module in modules:
        path = directory / module
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)


def test_a_package_planted_in_the_current_directory_never_runs(
    server: AskpassServer, tmp_path: Path
) -> None:
    planted, marker = tmp_path / "planted", tmp_path / "ran"
    _plant(planted, marker, "pinesh/__init__.py", "pinesh/askpass_client.py", "json.py")
    server.set_handler(lambda request: "correct horse")
    env = {**os.environ, **server.ssh_env()}
    client = subprocess.Popen(
        [server.ssh_env()["SSH_ASKPASS"], "Enter passphrase for key '/k': "],
        env=env,
        cwd=planted,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, _err = client.communicate(timeout=20)
    assert not marker.exists(), marker.read_text()
    assert (client.returncode, out) == (0, "correct horse\n")


def test_cancel_exits_1_and_prints_nothing(server: AskpassServer) -> None:
    server.set_handler(lambda request: None)
    client = _client(server, "Password: ")
    out, _ = client.communicate(timeout=20)
    assert client.returncode == 1 and out == ""


def test_a_request_waits_for_a_handler_installed_later(server: AskpassServer) -> None:
    client = _client(server, "Password: ")
    time.sleep(0.5)  # ssh asked before the UI was up
    assert client.poll() is None
    server.set_handler(lambda request: "late")
    out, _ = client.communicate(timeout=20)
    assert client.returncode == 0 and out == "late\n"


def test_a_client_that_goes_away_cancels_the_question(server: AskpassServer) -> None:
    seen = threading.Event()
    cancelled = threading.Event()

    def handler(request: AskpassRequest) -> str | None:
        seen.set()
        if request.cancelled.wait(10):
            cancelled.set()
        return None

    server.set_handler(handler)
    client = _client(server, "Password: ")
    assert seen.wait(10)
    client.kill()  # ssh gave up (or was killed at its deadline) and took its askpass along
    client.wait()
    assert cancelled.wait(5)


def test_close_cancels_open_questions_and_the_client_fails(server: AskpassServer) -> None:
    seen = threading.Event()

    def handler(request: AskpassRequest) -> str | None:
        seen.set()
        request.cancelled.wait(10)
        return None if request.cancelled.is_set() else "too late"

    server.set_handler(handler)
    client = _client(server, "Password: ")
    assert seen.wait(10)
    server.close()
    out, _ = client.communicate(timeout=20)
    assert client.returncode == 1 and out == ""


def test_time_spent_answering_is_counted(server: AskpassServer) -> None:
    def handler(request: AskpassRequest) -> str:
        time.sleep(0.3)
        return "x"

    server.set_handler(handler)
    before = server.user_seconds()
    assert server.ask(AskpassRequest("Password: ")) == "x"
    assert server.user_seconds() - before >= 0.3


def test_malformed_requests_get_no_answer(server: AskpassServer) -> None:
    server.set_handler(lambda request: "secret")
    for junk in (b"not json\n", b"[1, 2]\n", b'{"prompt": 5}\n', b"x" * 9000):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(10)
            conn.connect(str(server.socket_path))
            conn.sendall(junk)
            conn.shutdown(socket.SHUT_WR)
            assert conn.recv(100) == b""


def test_peer_uid_is_the_peers() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with ours, theirs:
        assert peer_uid(ours) == os.getuid()


def test_ssh_argv_keeps_batchmode_without_askpass(tmp_path: Path) -> None:
    pool = MasterPool(SshSettings(control_dir=tmp_path / "ctl"))
    argv = pool.ssh_argv(SshTarget("mail"), remote_command_tail("mail", ["imapd"]))
    assert argv[0] == "ssh" and "BatchMode=yes" in argv
    assert not any("SSH_ASKPASS" in word for word in argv)


def test_ssh_argv_with_askpass_drops_batchmode_and_sets_the_env(
    tmp_path: Path, server: AskpassServer
) -> None:
    pool = MasterPool(SshSettings(control_dir=tmp_path / "ctl"), askpass=server)
    argv = pool.ssh_argv(SshTarget("mail"), remote_command_tail("mail", ["imapd"]))
    ssh_at = argv.index("ssh")
    assert argv[0] == "env"
    assert sorted(argv[1:ssh_at]) == sorted(f"{k}={v}" for k, v in server.ssh_env().items())
    assert "SSH_ASKPASS_REQUIRE=force" in argv[1:ssh_at]
    assert not any("BatchMode" in word for word in argv)
    # env(1) runs it: the assignments reach ssh, and ssh's argv is otherwise unchanged.
    done = subprocess.run(
        [*argv[:ssh_at], "sh", "-c", 'echo "$SSH_ASKPASS $SSH_ASKPASS_REQUIRE"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == [str(server.script_path), "force"]


# -- the dialog ----------------------------------------------------------------------------


class DialogApp(App[None]):
    """A bare app that installs the askpass dialog on mount, as PineshApp does."""

    def __init__(self, server: AskpassServer) -> None:
        super().__init__()
        self.server = server

    def compose(self) -> ComposeResult:
        yield Static("main")

    def on_mount(self) -> None:
        self._askpass = install_askpass(self, self.server)
        self._askpass.__enter__()

    def on_unmount(self) -> None:
        self._askpass.__exit__(None, None, None)


def _ask_in_thread(server: AskpassServer, request: AskpassRequest) -> list[str | None]:
    answers: list[str | None] = []
    threading.Thread(target=lambda: answers.append(server.ask(request)), daemon=True).start()
    return answers


async def _until(pilot: Pilot[None], condition: Callable[[], object], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_the_dialog_asks_masked_and_returns_what_was_typed(server: AskpassServer) -> None:
    app = DialogApp(server)

    async def scenario() -> None:
        async with app.run_test(size=(100, 20)) as pilot:
            answers = _ask_in_thread(server, AskpassRequest("Enter passphrase for key 'k': "))
            await _until(pilot, lambda: isinstance(app.screen, PromptScreen))
            assert app.screen.query_one(Input).password
            await pilot.press(*"hunter2", "enter")
            await _until(pilot, lambda: answers)
            assert answers == ["hunter2"]
            assert not isinstance(app.screen, PromptScreen)

    asyncio.run(scenario())


def test_escape_cancels_and_a_host_key_question_is_not_masked(server: AskpassServer) -> None:
    app = DialogApp(server)
    question = "Are you sure you want to continue connecting (yes/no/[fingerprint])? "

    async def scenario() -> None:
        async with app.run_test(size=(100, 20)) as pilot:
            answers = _ask_in_thread(server, AskpassRequest(question))
            await _until(pilot, lambda: isinstance(app.screen, PromptScreen))
            assert not app.screen.query_one(Input).password
            await pilot.press("escape")
            await _until(pilot, lambda: answers)
            assert answers == [None]

    asyncio.run(scenario())


def test_confirm_is_yes_or_no(server: AskpassServer) -> None:
    app = DialogApp(server)

    async def scenario() -> None:
        async with app.run_test(size=(100, 20)) as pilot:
            answers = _ask_in_thread(server, AskpassRequest("Allow use of key k?", "confirm"))
            await _until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await _until(pilot, lambda: answers)
            no = _ask_in_thread(server, AskpassRequest("Allow use of key k?", "confirm"))
            await _until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("n")
            await _until(pilot, lambda: no)
            assert answers == [""] and no == [None]

    asyncio.run(scenario())


def test_a_cancelled_question_takes_its_dialog_down(server: AskpassServer) -> None:
    app = DialogApp(server)

    async def scenario() -> None:
        async with app.run_test(size=(100, 20)) as pilot:
            request = AskpassRequest("Password: ")
            answers = _ask_in_thread(server, request)
            await _until(pilot, lambda: isinstance(app.screen, PromptScreen))
            request.cancelled.set()  # ssh stopped waiting
            await _until(pilot, lambda: answers)
            await _until(pilot, lambda: not isinstance(app.screen, PromptScreen))
            assert answers == [None]

    asyncio.run(scenario())
