"""The fork server's handshake, the thin path's choices, and the [client] config table."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pinesh import paths
from pinesh.cli import client_server as cs
from pinesh.cli.fork_server import ForkServer
from pinesh.config.pinesh_toml import parse_settings
from pinesh.errors import ConfigError


def _request(**changes: object) -> cs.Request:
    fields: dict[str, object] = {
        "fingerprint": b"0.1.0:1:2:3",
        "pid": 4242,
        "cwd": b"/home/a/\xffdir",
        "columns": 150,
        "rows": 45,
        "argv": [b"-p", b"/x/pinerc", b"-f", b"INBOX", b""],
        "env": [(b"TERM", b"xterm-256color"), (b"EMPTY", b""), (b"EQ", b"a=b=c")],
    }
    fields.update(changes)
    return cs.Request(**fields)  # type: ignore[arg-type]


def _fields(payload: bytes) -> list[bytes]:
    (count,) = struct.unpack_from(">I", payload)
    out, offset = [], 4
    for _ in range(count):
        (size,) = struct.unpack_from(">I", payload, offset)
        out.append(payload[offset + 4 : offset + 4 + size])
        offset += 4 + size
    return out


def _pack(fields: list[bytes]) -> bytes:
    return struct.pack(">I", len(fields)) + b"".join(struct.pack(">I", len(f)) + f for f in fields)


def test_a_request_survives_the_round_trip_byte_for_byte() -> None:
    request = _request()
    assert cs.decode_request(cs.encode_request(request)) == request
    assert cs.decode_request(cs.encode_request(_request(argv=[], env=[]))).argv == []


def test_environment_entries_that_cannot_exist_are_left_out() -> None:
    request = _request(env=[(b"A=B", b"1"), (b"", b"2"), (b"NUL", b"x\0y"), (b"OK", b"3")])
    assert cs.decode_request(cs.encode_request(request)).env == [(b"OK", b"3")]


def test_the_payload_starts_with_the_magic_and_the_fingerprint() -> None:
    fields = _fields(cs.encode_request(_request()))
    assert fields[:3] == [cs.MAGIC, b"0.1.0:1:2:3", b"4242"]
    assert fields[6] == b"18"  # the umask, 0o022
    assert fields[7] == b"5" and fields[8:13] == [b"-p", b"/x/pinerc", b"-f", b"INBOX", b""]


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda f: [b"pinesh-fork-0", *f[1:]], "not a pinesh fork request"),
        (lambda f: f[:5], "not a pinesh fork request"),
        (lambda f: [*f[:7], b"99", *f[8:]], "out of range"),
        (lambda f: [*f[:7], b"-1", *f[8:]], "not a number"),
        (lambda f: [*f[:2], b"0", *f[3:]], "out of range"),
        (lambda f: [*f[:3], b"relative/dir", *f[4:]], "bad working directory"),
        (lambda f: [*f, b"NOEQUALS"], "malformed environment"),
        (lambda f: [*f[:8], b"a\0b", *f[9:]], "NUL in an argument"),
    ],
)
def test_a_malformed_request_is_refused(mangle: object, reason: str) -> None:
    assert callable(mangle)
    payload = _pack(mangle(_fields(cs.encode_request(_request()))))
    with pytest.raises(ValueError, match=reason):
        cs.decode_request(payload)


def test_truncated_oversized_and_trailing_payloads_are_refused() -> None:
    payload = cs.encode_request(_request())
    for cut in (0, 3, 10, len(payload) - 1):
        with pytest.raises(ValueError, match="truncated"):
            cs.decode_request(payload[:cut])
    with pytest.raises(ValueError, match="trailing"):
        cs.decode_request(payload + b"x")
    with pytest.raises(ValueError, match="too many fields"):
        cs.decode_request(struct.pack(">I", cs.MAX_FIELDS + 1))
    with pytest.raises(ValueError, match="too large"):
        cs.encode_request(_request(env=[(b"BIG", b"x" * cs.MAX_PAYLOAD)]))


@pytest.mark.parametrize(
    ("argv", "options"),
    [
        ([], {}),
        (["-p", "rc", "-f", "INBOX"], {"-p": "rc", "-f": "INBOX"}),
        (["--config=c.toml", "-prc"], {"--config": "c.toml", "-p": "rc"}),
        (["--config", "c.toml"], {"--config": "c.toml"}),
        (["index", "INBOX"], None),
        (["-p", "rc", "folders"], None),
        (["--help"], None),
        (["--version"], None),
        (["-f"], None),
    ],
)
def test_only_a_plain_client_launch_takes_the_thin_path(
    argv: list[str], options: dict[str, str] | None
) -> None:
    assert cs.client_invocation(argv) == options


def _env(tmp_path: Path, **more: str) -> dict[str, str]:
    return {"HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path / "nonexistent"), **more}


def test_the_server_is_off_unless_asked_for(tmp_path: Path) -> None:
    settings = cs.thin_settings({}, _env(tmp_path))
    assert not settings.enabled
    assert settings.directory == f"/tmp/pinesh-{os.getuid()}"
    assert settings.log == str(tmp_path / ".local/state/pinesh/client-server.log")
    assert settings.idle == cs.DEFAULT_IDLE


def test_the_thin_path_finds_the_files_where_paths_puts_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "run").mkdir(mode=0o700)
    for env in (
        _env(tmp_path),
        _env(tmp_path, XDG_RUNTIME_DIR=str(tmp_path / "run"), XDG_STATE_HOME=str(tmp_path / "s")),
    ):
        for key in ("HOME", "XDG_RUNTIME_DIR", "XDG_STATE_HOME"):
            monkeypatch.delenv(key, raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = cs.thin_settings({}, env)
        assert settings.directory == str(paths.runtime_dir())
        assert settings.log == str(paths.state_dir() / cs.LOG_NAME)


def test_the_client_table_and_the_switch(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        'state_dir = "~/st"\n[ssh]\ncontrol_dir = "/run/x"\n'
        "[client]\nserver = true\nserver_idle = 30\n"
    )
    settings = cs.thin_settings({"--config": str(config)}, _env(tmp_path))
    assert settings.enabled and settings.idle == 30
    assert settings.directory == "/run/x"
    assert settings.log == str(tmp_path / "st" / "client-server.log")
    off = cs.thin_settings({}, _env(tmp_path, PINESH_CONFIG=str(config), PINESH_CLIENT_SERVER="0"))
    assert not off.enabled
    on = cs.thin_settings({}, _env(tmp_path, PINESH_CLIENT_SERVER="1"))
    assert on.enabled


def test_a_config_without_the_client_table_is_not_parsed(tmp_path: Path) -> None:
    """tomllib costs the thin path 13 ms: only a config that mentions `client` is parsed."""
    config = tmp_path / "c.toml"
    config.write_text('state_dir = "~/st"\n[ssh]\ncontrol_dir = "/run/x"\n')
    code = (
        "import sys; from pinesh.cli import client_server as cs; "
        f"s = cs.thin_settings({{'--config': {str(config)!r}}}, {{'HOME': '/h'}}); "
        "print(s.enabled, 'tomllib' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_a_broken_config_leaves_the_server_off(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[client]\nserver = tru\n")
    assert not cs.thin_settings({"--config": str(config)}, _env(tmp_path)).enabled
    config.write_text('[client]\nserver = "yes"\n')  # only a real true turns it on
    assert not cs.thin_settings({"--config": str(config)}, _env(tmp_path)).enabled


def test_the_client_table_is_validated() -> None:
    settings = parse_settings("[client]\nserver = true\nserver_idle = 5\n", "c.toml")
    assert settings.client.server and settings.client.server_idle == 5
    assert not parse_settings("", "c.toml").client.server
    with pytest.raises(ConfigError, match="server_idle"):
        parse_settings("[client]\nserver_idle = 0\n", "c.toml")
    with pytest.raises(ConfigError, match="true or false"):
        parse_settings('[client]\nserver = "yes"\n', "c.toml")
    with pytest.raises(ConfigError, match="unknown setting"):
        parse_settings("[client]\nserve = true\n", "c.toml")


def test_the_fingerprint_names_the_version_and_follows_the_files() -> None:
    from pinesh import __version__

    first = cs.package_fingerprint()
    assert first == cs.package_fingerprint()
    assert first.startswith(__version__.encode() + b":")


def _server(tmp_path: Path) -> ForkServer:
    server = ForkServer(str(tmp_path), 60, str(tmp_path / "log"), lambda argv: 0)
    server.fingerprint = b"0.1.0:1:2:3"
    return server


def test_the_server_refuses_garbage_and_reports_a_version_mismatch(tmp_path: Path) -> None:
    server = _server(tmp_path)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with ours, theirs:
        theirs.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert server._serve_one(ours) == "refused"
        assert theirs.recv(5) == cs.REPLY.pack(b"R", 0)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with ours, theirs, open(os.devnull) as null:
        payload = cs.encode_request(_request(fingerprint=b"0.2.0:9:9:9"))
        fds = [null.fileno()] * 3
        socket.send_fds(theirs, [cs.HEADER.pack(cs.HEADER_TAG, len(payload))], fds)
        theirs.sendall(payload)
        assert server._serve_one(ours) == "stale"
        assert theirs.recv(5) == cs.REPLY.pack(b"V", 0)
    assert "runs another pinesh (0.2.0:9:9:9)" in (tmp_path / "log").read_text()


def test_a_request_without_the_terminal_fds_is_refused(tmp_path: Path) -> None:
    server = _server(tmp_path)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with ours, theirs:
        payload = cs.encode_request(_request())
        theirs.sendall(cs.HEADER.pack(cs.HEADER_TAG, len(payload)) + payload)
        assert server._serve_one(ours) == "refused"
        assert theirs.recv(5) == cs.REPLY.pack(b"R", 0)
    assert "0 file descriptors, not 3" in (tmp_path / "log").read_text()


def test_a_server_started_from_a_directory_imports_nothing_from_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server, and so every client it forks (they change to the client's directory),
    imports nothing planted where pinesh was started: neither a pinesh/ nor a module with
    a standard library name. Its control directory is unusable, so it ends at once."""
    planted, marker = tmp_path / "planted", tmp_path / "ran"
    code = f"open({str(marker)!r}, 'a').write(__name__ + '\\n')\n"
    for module in ("pinesh/__init__.py", "pinesh/cli/__init__.py", "json.py", "locale.py"):
        (planted / module).parent.mkdir(parents=True, exist_ok=True)
        (planted / module).write_text(code)
    (tmp_path / "file").write_text("")
    log = tmp_path / "state" / cs.LOG_NAME
    monkeypatch.chdir(planted)
    cs.start_server(cs.ThinSettings(True, str(tmp_path / "file" / "rt"), 60, str(log)))
    for _ in range(600):  # the server imports pinesh.cli.main, then fails to start
        if marker.exists() or (log.exists() and "cannot start" in log.read_text()):
            break
        time.sleep(0.1)
    assert not marker.exists(), marker.read_text()
    assert "cannot start" in log.read_text()


def test_the_thin_path_imports_next_to_nothing() -> None:
    """What `pinesh` loads before it tries the socket: no argparse, Textual or tomllib
    (with the server off and no config) and no pinesh module but the entry point's."""
    code = (
        "import sys; from pinesh.cli import client_server as cs; "
        "cs.try_server(['-f', 'INBOX']); "
        "print(' '.join(sorted(m for m in sys.modules)))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINESH")}
    env["HOME"] = "/nonexistent"
    code = code.replace("from pinesh.cli", "import pinesh.cli.main; from pinesh.cli")
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    loaded = set(done.stdout.split())
    for heavy in ("argparse", "textual", "rich", "tomllib", "json", "socket", "re"):
        assert heavy not in loaded, heavy
    assert {m for m in loaded if m.startswith("pinesh")} <= {
        "pinesh",
        "pinesh.cli",
        "pinesh.cli.main",
        "pinesh.cli.client_server",
    }


def test_the_request_carries_the_clients_umask() -> None:
    request = _request(umask=0o027)
    assert cs.decode_request(cs.encode_request(request)).umask == 0o027
    fields = _fields(cs.encode_request(request))
    fields[6] = b"%d" % 0o1777  # more than permission bits
    with pytest.raises(ValueError, match="out of range"):
        cs.decode_request(_pack(fields))


def test_the_fingerprint_follows_the_interpreter_and_the_installed_libraries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A library upgraded under a waiting server (pip adds and removes entries in
    site-packages, which changes its mtime) makes the server stale, as pinesh's own files do."""
    site = tmp_path / "lib" / "site-packages"
    site.mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [str(site)])
    before = cs.package_fingerprint()
    assert sys.executable.encode() in before
    (site / "textual-9.0.0.dist-info").mkdir()
    os.utime(site, ns=(0, os.stat(site).st_mtime_ns + 1_000_000))
    assert cs.package_fingerprint() != before


def test_a_new_server_starts_only_once_the_launch_that_started_it_has_ended(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cs, "LAUNCH_GRACE", float("inf"))
    naps: list[float] = []
    real_sleep = time.sleep

    def nap(seconds: float) -> None:
        naps.append(seconds)
        assert len(naps) < 400, "still waiting for a launch that has ended"
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", nap)  # the time module the wait imports
    # Not reaped while it waits: a zombie must count as ended.
    launch = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        cs.let_the_launch_go_first(launch.pid)  # returns
    finally:
        launch.kill()
        launch.wait()


def test_a_launch_that_runs_on_delays_the_server_no_longer_than_the_grace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cs, "LAUNCH_GRACE", 0.2)
    launch = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        cs.let_the_launch_go_first(launch.pid)
        assert launch.poll() is None  # still running: the server went on without it
    finally:
        launch.kill()
        launch.wait()
