"""The client fork server itself: preload, listen, fork a child per thin client.

The thin client and the wire format are in client_server.py (read its notes first); this
is what runs in the detached server process that client_server.start_server starts.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pinesh.cli.client_server import (
    HEADER,
    HEADER_TAG,
    MAX_PAYLOAD,
    REPLY,
    SOCKET_NAME,
    Request,
    decode_request,
    package_fingerprint,
    peer_uid,
    recv_exact,
)
from pinesh.errors import PineshError
from pinesh.filelock import flock_until
from pinesh.transport.private_dir import ensure_private_dir

LOCK_NAME = "client-server.lock"
REQUEST_TIMEOUT = 3.0  # seconds the server waits for a client's request
GO_TIMEOUT = 5.0  # seconds a new child waits for the client's go-ahead
LOCK_WAIT = 3.0  # seconds a new server waits for a stale one to let go of the lock
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
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        line = f"{stamp} [{os.getpid()}] {text}\n".encode(errors="backslashreplace")
        with contextlib.suppress(OSError):
            fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def serve(self) -> int:
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
        uid = peer_uid(conn)
        if uid != os.getuid():
            self.log(f"refused a client of uid {uid}")
            conn.sendall(REPLY.pack(b"R", 0))
            return "refused"
        fds: list[int] = []
        try:
            conn.settimeout(REQUEST_TIMEOUT)
            header, fds, _flags, _addr = socket.recv_fds(conn, HEADER.size, 8)
            header += recv_exact(conn, HEADER.size - len(header)) if header else b""
            if len(header) != HEADER.size:
                raise ValueError("no request")
            tag, size = HEADER.unpack(header)
            if tag != HEADER_TAG or size > MAX_PAYLOAD:
                raise ValueError("not a pinesh fork request")
            if len(fds) != 3:
                raise ValueError(f"{len(fds)} file descriptors, not 3")
            request = decode_request(recv_exact(conn, size))
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
        os.umask(request.umask)  # the client's, not the one the server was started with
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

    try:
        while conn.recv(64):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGHUP)
