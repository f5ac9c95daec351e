"""The opt-in client fork server's thin client, and the wire format both ends speak.

`pinesh` forked from a process that has Textual loaded (the server is fork_server.py).

Importing Textual and the client's screens costs a third of a second at every launch
(docs/benchmarks.md, "Issue 4"). With ``[client] server = true`` (or
PINESH_CLIENT_SERVER=1), a server per user keeps them imported and waits on a Unix socket
in the private runtime directory (0600 in the 0700 directory; the peer's uid is checked
with SO_PEERCRED both ways). `pinesh` then does almost nothing itself (this module's thin
path imports no more than ``_socket``, ``struct`` and ``signal``): it sends its argv,
working directory, environment, terminal size, the package's fingerprint and, with
SCM_RIGHTS, its stdin/stdout/stderr; the server forks a child that takes them as 0/1/2,
applies the directory and environment and runs the ordinary client path (main.main), so
the early open of the start-up folder still overlaps the App's build. The thin client
forwards SIGWINCH, SIGTERM, SIGHUP, SIGINT and SIGCONT to the child (the terminal's
signals reach only its own foreground process group) and exits with the child's exit
status, which comes back over the socket. The child exits when the socket closes (the
thin client died).

Anything amiss before the child takes over (no server, a fingerprint mismatch, a socket
that is not ours, a refusal, a timeout) and `pinesh` runs in-process as before; with no
server, or a stale one, it first starts one in the background (double fork, setsid,
stdio on /dev/null, log in the state dir) for the next launch. The server ends after
``server_idle`` seconds without a client. One server per control directory: it holds
an flock on ``client-server.lock`` for its lifetime.

Wire format (all lengths big-endian u32): the client sends ``b"PNSH"`` + payload length,
with the three fds attached, then the payload: a count and that many length-prefixed
fields (see encode_request). The server answers with one byte and a signed i32:
``P``+child pid (the child is ready; the client answers ``G`` when its signal
forwarding is in place), ``V`` (another version: the server ends), ``R`` (refused); the
child finally sends ``X``+exit status.
"""

from __future__ import annotations

import _socket
import os
import struct
import sys

# Not typing.TYPE_CHECKING: importing typing loads re (the thin path must stay small).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Sequence

MAGIC = b"pinesh-fork-2"  # 2: the umask field
HEADER = struct.Struct(">4sI")
HEADER_TAG = b"PNSH"
REPLY = struct.Struct(">ci")
COUNT = struct.Struct(">I")
MAX_PAYLOAD = 1 << 20  # bytes: argv and environment together
MAX_FIELDS = 16384
SOCKET_NAME = "client-server.sock"
LOG_NAME = "client-server.log"
SWITCH_ENV = "PINESH_CLIENT_SERVER"  # 1: use the server, 0: don't (overrides the config)
REPLY_TIMEOUT = 3.0  # seconds the thin client waits for the server's fork
DEFAULT_IDLE = 600
FORWARDED = ("SIGWINCH", "SIGTERM", "SIGHUP", "SIGINT", "SIGCONT", "SIGQUIT")
CLIENT_OPTIONS = ("-p", "-f", "--config")


class Request:
    """What a thin client hands over (besides its three fds)."""

    __slots__ = ("argv", "columns", "cwd", "env", "fingerprint", "pid", "rows", "umask")

    def __init__(
        self,
        *,
        fingerprint: bytes,
        pid: int,
        cwd: bytes,
        columns: int,
        rows: int,
        umask: int = 0o022,
        argv: Sequence[bytes],
        env: Sequence[tuple[bytes, bytes]],
    ) -> None:
        self.fingerprint = fingerprint
        self.pid = pid
        self.cwd = cwd
        self.columns = columns
        self.rows = rows
        self.umask = umask
        self.argv = list(argv)
        self.env = list(env)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    __hash__ = None  # type: ignore[assignment]


def encode_request(request: Request) -> bytes:
    """The payload: MAGIC, fingerprint, pid, cwd, columns, rows, umask, len(argv), argv...,
    env..."""
    fields = [
        MAGIC,
        request.fingerprint,
        b"%d" % request.pid,
        request.cwd,
        b"%d" % request.columns,
        b"%d" % request.rows,
        b"%d" % request.umask,
        b"%d" % len(request.argv),
        *request.argv,
    ]
    for key, value in request.env:
        if not key or b"=" in key or b"\0" in key or b"\0" in value:
            continue  # cannot be in an environment anyway
        fields.append(key + b"=" + value)
    parts = [COUNT.pack(len(fields))]
    for field in fields:
        parts.append(COUNT.pack(len(field)))
        parts.append(field)
    payload = b"".join(parts)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError("argv and environment too large for the fork server")
    return payload


def _number(field: bytes, low: int, high: int) -> int:
    if not field.isdigit() or len(field) > 10:
        raise ValueError(f"not a number: {field[:20]!r}")
    value = int(field)
    if not low <= value <= high:
        raise ValueError(f"out of range: {value}")
    return value


def decode_request(payload: bytes) -> Request:
    """The inverse of encode_request; ValueError on anything malformed or too big."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError("request too large")
    if len(payload) < COUNT.size:
        raise ValueError("request truncated")
    (count,) = COUNT.unpack_from(payload, 0)
    if count > MAX_FIELDS:
        raise ValueError("too many fields")
    fields: list[bytes] = []
    offset = COUNT.size
    for _ in range(count):
        if offset + COUNT.size > len(payload):
            raise ValueError("request truncated")
        (length,) = COUNT.unpack_from(payload, offset)
        offset += COUNT.size
        if offset + length > len(payload):
            raise ValueError("request truncated")
        fields.append(payload[offset : offset + length])
        offset += length
    if offset != len(payload):
        raise ValueError("trailing bytes after the request")
    if len(fields) < 8 or fields[0] != MAGIC:
        raise ValueError("not a pinesh fork request")
    argc = _number(fields[7], 0, len(fields) - 8)
    env: list[tuple[bytes, bytes]] = []
    for item in fields[8 + argc :]:
        key, sep, value = item.partition(b"=")
        if not sep or not key or b"\0" in item:
            raise ValueError("malformed environment entry")
        env.append((key, value))
    for word in fields[8 : 8 + argc]:
        if b"\0" in word:
            raise ValueError("NUL in an argument")
    if b"\0" in fields[3] or not fields[3].startswith(b"/"):
        raise ValueError("bad working directory")
    return Request(
        fingerprint=fields[1],
        pid=_number(fields[2], 1, 1 << 31),
        cwd=fields[3],
        columns=_number(fields[4], 0, 1 << 16),
        rows=_number(fields[5], 0, 1 << 16),
        umask=_number(fields[6], 0, 0o777),
        argv=fields[8 : 8 + argc],
        env=env,
    )


def package_fingerprint() -> bytes:
    """The version, and the count, total size and newest mtime of the package's files, the
    interpreter, and the mtimes of the site-packages directories on the module path (pip
    changes one whenever it installs, upgrades or removes a package: a new Textual): an
    upgraded (or edited) pinesh, or one on upgraded libraries, never talks to a server
    running the old code."""
    from pinesh import __version__

    root = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(root)  # the pinesh package
    count = size = newest = 0
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        stack.append(entry.path)
                elif entry.name.endswith((".py", ".tcss")):
                    info = entry.stat(follow_symlinks=False)
                    count += 1
                    size += info.st_size
                    newest = max(newest, info.st_mtime_ns)
    libraries = 0
    for directory in sys.path:
        if directory.endswith(("site-packages", "dist-packages")):
            try:  # noqa: SIM105 - contextlib costs the thin path 3 ms
                libraries = max(libraries, os.stat(directory).st_mtime_ns)
            except OSError:
                pass
    return (
        f"{__version__}:{count}:{size}:{newest}:{sys.version_info[:3]}:{sys.executable}:{libraries}"
    ).encode()


# -- the thin client -------------------------------------------------------------------------


class ThinSettings:
    """What the thin path needs from the environment and the config file."""

    __slots__ = ("directory", "enabled", "idle", "log")

    def __init__(self, enabled: bool, directory: str, idle: int, log: str) -> None:
        self.enabled = enabled
        self.directory = directory
        self.idle = idle
        self.log = log


def client_invocation(argv: Sequence[str]) -> dict[str, str] | None:
    """The options of a plain `pinesh [-p RC] [-f FOLDER] [--config FILE]`, else None
    (a subcommand, --help, anything else: the ordinary path)."""
    options: dict[str, str] = {}
    words = list(argv)
    while words:
        word = words.pop(0)
        if word in CLIENT_OPTIONS and words:
            options[word] = words.pop(0)
        elif word.startswith("--config="):
            options["--config"] = word.partition("=")[2]
        elif word[:2] in ("-p", "-f") and len(word) > 2:
            options[word[:2]] = word[2:]
        else:
            return None
    return options


def _expand(text: str, home: str) -> str:
    return home + text[1:] if text == "~" or text.startswith("~/") else text


def _truthy(text: str) -> bool:
    return text.strip().lower() not in ("", "0", "no", "false", "off")


def thin_settings(options: dict[str, str], environ: dict[str, str] | None = None) -> ThinSettings:
    """Whether the server is on, its directory, idle time and log, read cheaply: the config
    file is parsed (tomllib) only when it mentions what matters here. Any problem with the
    config leaves the server off: the ordinary path reports it."""
    env = os.environ if environ is None else environ
    switch = env.get(SWITCH_ENV)
    if switch is not None and not _truthy(switch):
        return ThinSettings(False, "", DEFAULT_IDLE, "")  # off: not even the config is read
    # The locations of pinesh.paths, by its rules, with os.path alone (pathlib would cost
    # this path 23 ms); tests/unit/test_client_server.py checks that the two agree.
    uid = os.getuid()
    xdg = env.get("XDG_RUNTIME_DIR")
    directory = f"/tmp/pinesh-{uid}"  # noqa: S108 - checked before use, as private_dir does
    if xdg:
        try:
            info = os.stat(xdg)
        except OSError:
            info = None
        if info is not None and info.st_uid == uid:
            directory = os.path.join(xdg, "pinesh")
    home = env.get("HOME") or os.path.expanduser("~")
    state = env.get("XDG_STATE_HOME") or os.path.join(home, ".local", "state")
    state = os.path.join(state, "pinesh")
    enabled, idle = False, DEFAULT_IDLE
    explicit = options.get("--config") or env.get("PINESH_CONFIG")
    if explicit:
        path = _expand(explicit, home)
    else:
        config_home = env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
        path = os.path.join(config_home, "pinesh", "config.toml")
    try:
        with open(path, "rb") as file:
            text = file.read(1 << 20)
    except OSError:
        text = b""
    # Off unless asked for: a config that does not mention the client table costs no parse.
    if switch is None and b"client" not in text:
        return ThinSettings(False, directory, idle, os.path.join(state, LOG_NAME))
    if any(word in text for word in (b"client", b"control_dir", b"state_dir")):
        import tomllib

        try:
            data = tomllib.loads(text.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            data = {}
        client = data.get("client")
        if isinstance(client, dict):
            enabled = client.get("server") is True
            value = client.get("server_idle")
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                idle = value
        ssh = data.get("ssh")
        if isinstance(ssh, dict) and isinstance(ssh.get("control_dir"), str):
            directory = _expand(ssh["control_dir"], home)
        if isinstance(data.get("state_dir"), str):
            state = _expand(data["state_dir"], home)
    if switch is not None:
        enabled = True  # PINESH_CLIENT_SERVER=1 (a false value returned above)
    return ThinSettings(enabled, directory, idle, os.path.join(state, LOG_NAME))


def _private(path: str, kind: int) -> bool:
    """path is ours, of that kind (S_IFDIR or S_IFSOCK), and closed to others."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (
        (info.st_mode & 0o170000) == kind
        and info.st_uid == os.getuid()
        and not info.st_mode & 0o077
    )


def peer_uid(conn: _socket.socket | socket.socket) -> int:
    creds = conn.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    return int(struct.unpack("3i", creds)[1])


def recv_exact(conn: _socket.socket | socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return data


def try_server(argv: Sequence[str]) -> int | None:
    """Run this `pinesh` in a fork of the server: its exit status; None to run in-process
    (the server is off or absent, or anything failed before the child took over)."""
    options = client_invocation(argv)
    if options is None or not (os.isatty(0) and os.isatty(1)):
        return None
    settings = thin_settings(options)
    if not settings.enabled:
        return None
    path = os.path.join(settings.directory, SOCKET_NAME)
    if not _private(settings.directory, 0o040000) or not _private(path, 0o140000):
        if not os.path.lexists(path):  # no server yet (a planted file is left alone)
            start_server(settings)
        return None
    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        conn.settimeout(REPLY_TIMEOUT)
        try:
            conn.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            start_server(settings)  # a server that died; the new one replaces the socket
            return None
        if peer_uid(conn) != os.getuid():
            return None
        kind, value = _hand_over(conn, argv)
        if kind == b"V":
            start_server(settings)
        if kind != b"P" or value <= 1:
            return None
        return _wait_for_child(conn, value)
    except (OSError, EOFError, ValueError, struct.error):
        return None
    finally:
        conn.close()


def _hand_over(conn: _socket.socket, argv: Sequence[str]) -> tuple[bytes, int]:
    try:
        size = os.get_terminal_size(1)
        columns, rows = size.columns, size.lines
    except OSError:
        columns = rows = 0
    umask = os.umask(0o077)  # read by setting it: put back at once
    os.umask(umask)
    payload = encode_request(
        Request(
            fingerprint=package_fingerprint(),
            pid=os.getpid(),
            cwd=os.getcwdb(),
            columns=columns,
            rows=rows,
            umask=umask,
            argv=[os.fsencode(a) for a in argv],
            env=list(os.environb.items()),
        )
    )
    fds = struct.pack("3i", 0, 1, 2)
    header = HEADER.pack(HEADER_TAG, len(payload))
    conn.sendmsg([header], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
    conn.sendall(payload)
    kind, value = REPLY.unpack(recv_exact(conn, REPLY.size))
    return kind, value


def _wait_for_child(conn: _socket.socket, child: int) -> int:
    """Forward signals to the child until it sends its exit status (or the socket closes)."""
    import signal

    def forward(signum: int, _frame: object) -> None:
        try:  # noqa: SIM105 - contextlib costs the thin path 3 ms
            os.kill(child, signum)
        except OSError:
            pass

    for name in FORWARDED:
        number = getattr(signal, name, None)
        if number is not None:
            signal.signal(number, forward)
    conn.settimeout(None)
    conn.sendall(b"G")
    # From here on the child has the terminal: whatever happens, never run in-process too.
    try:
        kind, status = REPLY.unpack(recv_exact(conn, REPLY.size))
    except (OSError, EOFError, struct.error):
        return 1  # the child died without a word (killed)
    return status if kind == b"X" else 1


def start_server(settings: ThinSettings) -> None:
    """Start a detached server (double fork, setsid, exec); it gives up at once if another
    holds the lock. Failing to start one is not an error: the launch goes on in-process."""
    launcher = os.getpid()  # this launch: the server starts once it has run (see below)
    try:
        pid = os.fork()
    except OSError:
        return
    if pid:
        try:  # noqa: SIM105 - contextlib costs the thin path 3 ms
            os.waitpid(pid, 0)
        except OSError:
            pass
        return
    # The middle process: a new session, and out of the way. A forked copy must never
    # return into pinesh, whatever happens.
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, 256)
        let_the_launch_go_first(launcher)
        argv = server_argv(settings)
        os.chdir("/")  # a daemon holds no directory; nothing is looked up relative to it
        os.execv(argv[0], argv)  # noqa: S606 - this very Python, no shell
    finally:
        os._exit(1)


# Seconds the detached process lets the launch that started it run before it execs the
# server: on two cores the server's start and preload (0.5-0.8 s of CPU) beside that launch
# made it 27 % slower (docs/benchmarks.md, "The client's lean start"). It goes on at once
# when that launch ends.
LAUNCH_GRACE = 5.0


def let_the_launch_go_first(launcher: int) -> None:
    """Wait while the process launcher runs, LAUNCH_GRACE seconds at most (in the detached
    process, before the server's interpreter even starts)."""
    import time

    deadline = time.monotonic() + LAUNCH_GRACE
    while time.monotonic() < deadline and _running(launcher):
        time.sleep(0.05)


def _running(pid: int) -> bool:
    """pid is a live process (not one that ended and waits to be reaped)."""
    try:
        os.kill(pid, 0)
    except OSError:  # gone, or not ours to signal: another process has the pid now
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            stat = file.read()
    except OSError:
        return False
    return stat.rpartition(b")")[2].split()[:1] != [b"Z"]


# The server's program: put this pinesh's directory first only until the package is
# imported (its submodules then come from the package's own path), then start serving.
_SERVER_CODE = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); import pinesh; del sys.path[0]; "
    "from pinesh.cli.fork_server import serve_main; serve_main()"
)


def server_argv(settings: ThinSettings) -> list[str]:
    """The command that starts a server: this very Python with no current directory on
    its module path (-P), on this very pinesh, named by its absolute directory; every path
    in it absolute. start_server runs it from /."""
    # Not a plain `python -c`: that puts the current directory first on the module path,
    # so a pinesh/ (or a json.py) planted where pinesh is started would run in the server,
    # and in every client it forks after changing to the client's directory. -P and not
    # -I: PYTHONPATH is the user's own (Textual may be found through it); Python makes its
    # entries absolute at start-up, against /, so none follows a client's directory.
    python = sys.executable or "python3"
    here = os.path.abspath(__file__)  # .../pinesh/cli/client_server.py
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    return [
        python,
        "-P",
        "-c",
        _SERVER_CODE,
        package_parent,
        os.path.abspath(settings.directory),
        str(settings.idle),
        os.path.abspath(settings.log),
    ]
