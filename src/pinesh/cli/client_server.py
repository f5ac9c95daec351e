"""The opt-in client fork server: `pinesh` forked from a process that has Textual loaded.

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
    from collections.abc import Callable, Sequence

MAGIC = b"pinesh-fork-1"
HEADER = struct.Struct(">4sI")
HEADER_TAG = b"PNSH"
REPLY = struct.Struct(">ci")
COUNT = struct.Struct(">I")
MAX_PAYLOAD = 1 << 20  # bytes: argv and environment together
MAX_FIELDS = 16384
SOCKET_NAME = "client-server.sock"
LOCK_NAME = "client-server.lock"
LOG_NAME = "client-server.log"
SWITCH_ENV = "PINESH_CLIENT_SERVER"  # 1: use the server, 0: don't (overrides the config)
REPLY_TIMEOUT = 3.0  # seconds the thin client waits for the server's fork
REQUEST_TIMEOUT = 3.0  # seconds the server waits for a client's request
GO_TIMEOUT = 5.0  # seconds a new child waits for the client's go-ahead
LOCK_WAIT = 3.0  # seconds a new server waits for a stale one to let go of the lock
DEFAULT_IDLE = 600
# What the server imports before it waits (the rest of a launch's imports hang off these).
PRELOAD = (
    "textual.app",
    "textual.drivers.linux_driver",
    "pinesh.cli.main",
    "pinesh.services.prewarm",
    "pinesh.transport.askpass",
    "pinesh.transport.masters",
    "pinesh.stores.imap.store",
    "imapclient",
    "pinesh.ui.app",
    "pinesh.ui.index_screen",
)
FORWARDED = ("SIGWINCH", "SIGTERM", "SIGHUP", "SIGINT", "SIGCONT", "SIGQUIT")
CLIENT_OPTIONS = ("-p", "-f", "--config")


class Request:
    """What a thin client hands over (besides its three fds)."""

    __slots__ = ("argv", "columns", "cwd", "env", "fingerprint", "pid", "rows")

    def __init__(
        self,
        *,
        fingerprint: bytes,
        pid: int,
        cwd: bytes,
        columns: int,
        rows: int,
        argv: Sequence[bytes],
        env: Sequence[tuple[bytes, bytes]],
    ) -> None:
        self.fingerprint = fingerprint
        self.pid = pid
        self.cwd = cwd
        self.columns = columns
        self.rows = rows
        self.argv = list(argv)
        self.env = list(env)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    __hash__ = None  # type: ignore[assignment]


def encode_request(request: Request) -> bytes:
    """The payload: MAGIC, fingerprint, pid, cwd, columns, rows, len(argv), argv..., env..."""
    fields = [
        MAGIC,
        request.fingerprint,
        b"%d" % request.pid,
        request.cwd,
        b"%d" % request.columns,
        b"%d" % request.rows,
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
    if len(fields) < 7 or fields[0] != MAGIC:
        raise ValueError("not a pinesh fork request")
    argc = _number(fields[6], 0, len(fields) - 7)
    env: list[tuple[bytes, bytes]] = []
    for item in fields[7 + argc :]:
        key, sep, value = item.partition(b"=")
        if not sep or not key or b"\0" in item:
            raise ValueError("malformed environment entry")
        env.append((key, value))
    for word in fields[7 : 7 + argc]:
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
        argv=fields[7 : 7 + argc],
        env=env,
    )


def package_fingerprint() -> bytes:
    """The version, and the count, total size and newest mtime of the package's files:
    an upgraded (or edited) pinesh never talks to a server running the old code."""
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
    return f"{__version__}:{count}:{size}:{newest}:{sys.version_info[:3]}".encode()


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


def _peer_uid(conn: _socket.socket | socket.socket) -> int:
    creds = conn.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    return int(struct.unpack("3i", creds)[1])


def _recv_exact(conn: _socket.socket | socket.socket, size: int) -> bytes:
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
        if _peer_uid(conn) != os.getuid():
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
    payload = encode_request(
        Request(
            fingerprint=package_fingerprint(),
            pid=os.getpid(),
            cwd=os.getcwdb(),
            columns=columns,
            rows=rows,
            argv=[os.fsencode(a) for a in argv],
            env=list(os.environb.items()),
        )
    )
    fds = struct.pack("3i", 0, 1, 2)
    header = HEADER.pack(HEADER_TAG, len(payload))
    conn.sendmsg([header], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
    conn.sendall(payload)
    kind, value = REPLY.unpack(_recv_exact(conn, REPLY.size))
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
        kind, status = REPLY.unpack(_recv_exact(conn, REPLY.size))
    except (OSError, EOFError, struct.error):
        return 1  # the child died without a word (killed)
    return status if kind == b"X" else 1


def start_server(settings: ThinSettings) -> None:
    """Start a detached server (double fork, setsid, exec); it gives up at once if another
    holds the lock. Failing to start one is not an error: the launch goes on in-process."""
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
        python = sys.executable or "python3"
        code = "from pinesh.cli.client_server import serve_main; serve_main()"
        os.execv(  # noqa: S606 - this very Python, no shell
            python,
            [python, "-c", code, settings.directory, str(settings.idle), settings.log],
        )
    finally:
        os._exit(1)


# -- the server ------------------------------------------------------------------------------


def serve_main() -> None:
    """Entry of the detached server: argv is DIRECTORY IDLE LOGFILE."""
    directory, idle, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    from pinesh.cli.main import main

    raise SystemExit(ForkServer(directory, idle, log, lambda argv: main(list(argv))).serve())


class ForkServer:
    """Listen, check, fork a child per client; end when idle (or replaced, or stale)."""

    def __init__(
        self, directory: str, idle: float, log: str, run: Callable[[list[str]], int]
    ) -> None:
        self.directory = directory
        self.path = os.path.join(directory, SOCKET_NAME)
        self.idle = idle
        self.log_path = log
        self.run = run
        self.fingerprint = b""
        self._lock_fd = -1
        self._listener: socket.socket | None = None
        self._inode = 0
        self._children: set[int] = set()

    def log(self, text: str) -> None:
        import contextlib
        import time

        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        line = f"{stamp} [{os.getpid()}] {text}\n".encode(errors="backslashreplace")
        with contextlib.suppress(OSError):
            fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def serve(self) -> int:
        import socket
        import time
        from pathlib import Path

        from pinesh.errors import PineshError
        from pinesh.filelock import flock_until
        from pinesh.transport.private_dir import ensure_private_dir

        try:
            os.makedirs(os.path.dirname(self.log_path), mode=0o700, exist_ok=True)
            ensure_private_dir(Path(self.directory))
        except (OSError, PineshError) as exc:
            self.log(f"cannot start: {exc}")
            return 1
        self._lock_fd = os.open(
            os.path.join(self.directory, LOCK_NAME), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600
        )
        if not flock_until(self._lock_fd, time.monotonic() + LOCK_WAIT):
            self.log("another server holds the lock; not starting")
            return 0
        began = time.monotonic()
        self.fingerprint = package_fingerprint()
        try:
            self._preload()
        except RuntimeError as exc:
            self.log(f"cannot serve: {exc}")
            return 1
        self.log(
            f"preloaded in {time.monotonic() - began:.3f} s; "
            f"fingerprint {self.fingerprint.decode()}"
        )
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if os.path.lexists(self.path):
                os.unlink(self.path)
            old = os.umask(0o177)
            try:
                listener.bind(self.path)
            finally:
                os.umask(old)
            os.chmod(self.path, 0o600)
            listener.listen(16)
            self._inode = os.lstat(self.path).st_ino
        except OSError as exc:
            self.log(f"cannot listen on {self.path}: {exc}")
            listener.close()
            return 1
        self._listener = listener
        self.log(f"listening on {self.path}, idle {self.idle} s")
        try:
            return self._loop(listener)
        finally:
            self._shutdown()

    def _preload(self) -> None:
        import gc
        import importlib

        for name in PRELOAD:
            try:
                importlib.import_module(name)
            except Exception as exc:
                self.log(f"preload {name}: {exc!r}")
        try:
            self._warm_up()
        except Exception as exc:  # a child builds everything anew
            self.log(f"warm-up: {exc!r}")
        import threading

        if threading.active_count() != 1:
            raise RuntimeError("not single-threaded after the preload: cannot fork safely")
        gc.collect()
        gc.freeze()  # what is loaded now stays out of the children's collections

    def _warm_up(self) -> None:
        """Run the client once, headless, on an empty local Maildir: what Textual imports
        and caches at run time (widget modules, parsed selectors, rendering caches) is
        then in the server, and so in every child. Threads it leaves are waited for: the
        server must be single-threaded when it forks."""
        import asyncio
        import tempfile
        import threading
        from pathlib import Path

        from pinesh.config.pine_settings import pine_settings
        from pinesh.config.pinerc import parse_pinerc
        from pinesh.config.settings import Settings
        from pinesh.services.connections import Connections
        from pinesh.services.mail import MailSession
        from pinesh.ui.app import PineshApp

        with tempfile.TemporaryDirectory(prefix="pinesh-warm-") as tmp:
            maildir = Path(tmp) / "Maildir"
            for sub in ("cur", "new", "tmp"):
                (maildir / sub).mkdir(parents=True)
            rc = parse_pinerc(f"inbox-path=#md/{maildir}\n", str(Path(tmp) / "pinerc"))
            session = MailSession(
                Connections(Settings(), rc), pine_settings(rc), data_dir=Path(tmp) / "data"
            )
            app = PineshApp(session, "INBOX", start_in_index=True)

            async def run() -> None:
                async with app.run_test(size=(150, 45)) as pilot:
                    await app.workers.wait_for_complete()
                    await pilot.pause()

            try:
                asyncio.run(run())
            finally:
                session.close()
        for thread in threading.enumerate():
            if thread is not threading.main_thread():
                thread.join(5.0)
        left = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
        if left:
            raise RuntimeError(f"threads left after the warm-up: {left}")

    def _still_ours(self) -> bool:
        try:
            return os.lstat(self.path).st_ino == self._inode
        except OSError:
            return False

    def _loop(self, listener: socket.socket) -> int:
        import select
        import time

        last = time.monotonic()
        while True:
            self._reap()
            left = self.idle - (time.monotonic() - last)
            if left <= 0:
                self.log(f"idle {self.idle} s: ending")
                return 0
            readable, _, _ = select.select([listener], [], [], min(left, 5.0))
            if not self._still_ours():
                self.log("the socket was removed or replaced: ending")
                return 0
            if not readable:
                continue
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            last = time.monotonic()
            try:
                if self._serve_one(conn) == "stale":
                    return 0
            finally:
                conn.close()

    def _reap(self) -> None:
        for pid in list(self._children):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self._children.discard(pid)

    def _serve_one(self, conn: socket.socket) -> str:
        import contextlib
        import socket

        uid = _peer_uid(conn)
        if uid != os.getuid():
            self.log(f"refused a client of uid {uid}")
            conn.sendall(REPLY.pack(b"R", 0))
            return "refused"
        fds: list[int] = []
        try:
            conn.settimeout(REQUEST_TIMEOUT)
            header, fds, _flags, _addr = socket.recv_fds(conn, HEADER.size, 8)
            header += _recv_exact(conn, HEADER.size - len(header)) if header else b""
            if len(header) != HEADER.size:
                raise ValueError("no request")
            tag, size = HEADER.unpack(header)
            if tag != HEADER_TAG or size > MAX_PAYLOAD:
                raise ValueError("not a pinesh fork request")
            if len(fds) != 3:
                raise ValueError(f"{len(fds)} file descriptors, not 3")
            request = decode_request(_recv_exact(conn, size))
            if request.fingerprint != self.fingerprint:
                self.log(
                    f"client pid {request.pid} runs another pinesh "
                    f"({request.fingerprint.decode(errors='replace')}): ending"
                )
                conn.sendall(REPLY.pack(b"V", 0))
                return "stale"
            child = os.fork()
            if child == 0:
                self._child(conn, fds, request)  # never returns
            self._children.add(child)
            conn.sendall(REPLY.pack(b"P", child))
            self.log(
                f"client pid {request.pid} ({request.columns}x{request.rows}) "
                f"served by child {child}"
            )
            return "forked"
        except (OSError, EOFError, ValueError, struct.error) as exc:
            self.log(f"bad request: {exc}")
            with contextlib.suppress(OSError):
                conn.sendall(REPLY.pack(b"R", 0))
            return "refused"
        finally:
            for fd in fds:
                os.close(fd)

    def _shutdown(self) -> None:
        import contextlib

        if self._listener is not None:
            self._listener.close()
        if self._still_ours():
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        if self._lock_fd >= 0:
            os.close(self._lock_fd)

    # -- in the child ---------------------------------------------------------------------

    def _child(self, conn: socket.socket, fds: list[int], request: Request) -> None:
        """Become the client's process: its terminal, directory, environment; run; exit."""
        import contextlib

        code = 1
        try:
            code = self._child_run(conn, fds, request)
        except BaseException:  # a forked copy must never return into the server's loop
            with contextlib.suppress(BaseException):
                import traceback

                traceback.print_exc()
        with contextlib.suppress(BaseException):
            conn.sendall(REPLY.pack(b"X", code))
        os._exit(code & 0xFF)

    def _child_run(self, conn: socket.socket, fds: list[int], request: Request) -> int:
        import contextlib
        import signal
        import threading

        if self._listener is not None:
            self._listener.close()
        os.close(self._lock_fd)  # the lock is the server's alone (a new server may start)
        for number in (signal.SIGCHLD, signal.SIGHUP, signal.SIGTERM, signal.SIGWINCH):
            signal.signal(number, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.setsid()  # out of the server's process group
        conn.settimeout(GO_TIMEOUT)
        if conn.recv(1) != b"G":
            os._exit(1)
        conn.settimeout(None)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        fds.clear()
        os.chdir(request.cwd)
        os.environ.clear()
        for key, value in request.env:
            os.environb[key] = value
        self._child_streams()
        if "textual.constants" in sys.modules:  # read from the environment at import
            import importlib

            importlib.reload(sys.modules["textual.constants"])
        if "random" in sys.modules:
            import random

            random.seed()
        threading.Thread(target=_exit_with_client, args=(conn,), daemon=True).start()
        argv = [os.fsdecode(word) for word in request.argv]
        sys.argv = ["pinesh", *argv]
        try:
            return self.run(argv)
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 1
        finally:
            import atexit

            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError, ValueError):
                    stream.flush()
            atexit._run_exitfuncs()

    @staticmethod
    def _child_streams() -> None:
        """sys.std* and sys.__std*__ on the new 0/1/2, in the client's locale."""
        import contextlib
        import locale

        with contextlib.suppress(locale.Error):
            locale.setlocale(locale.LC_CTYPE, "")
        encoding = locale.getpreferredencoding(False)
        stdin = open(0, encoding=encoding, errors="surrogateescape", closefd=False)  # noqa: SIM115
        stdout = open(  # noqa: SIM115
            1, "w", encoding=encoding, errors="backslashreplace", closefd=False, buffering=1
        )
        stderr = open(  # noqa: SIM115
            2, "w", encoding=encoding, errors="backslashreplace", closefd=False, buffering=1
        )
        for name, stream in (("stdin", stdin), ("stdout", stdout), ("stderr", stderr)):
            setattr(sys, name, stream)
            setattr(sys, f"__{name}__", stream)


def _exit_with_client(conn: socket.socket) -> None:
    """In the child: when the thin client goes (the socket closes), go too."""
    import signal

    try:
        while conn.recv(64):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGHUP)
