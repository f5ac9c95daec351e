"""ssh's passphrase and password questions, answered by the running pinesh (SSH_ASKPASS).

While the client runs, an AskpassServer listens on a Unix socket in the private runtime
directory (0700; the socket 0600) and only same-uid peers are served (SO_PEERCRED). The
ssh children it is given to get SSH_ASKPASS (a small script that runs askpass_client.py
by its absolute path in an isolated Python, ``python -I FILE``),
SSH_ASKPASS_REQUIRE=force and PINESH_ASKPASS_SOCKET; the client sends ssh's prompt
here and prints the answer a handler gives (the UI's dialog). Nothing is kept: an
answer passes through once.

A request that comes before a handler is installed (the ssh login starts before the UI is
built) waits for one, up to HANDLER_WAIT seconds. A request whose client went away (ssh
gave up or was killed) is marked cancelled, so the handler can take its dialog down.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shlex
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pinesh import askpass_client
from pinesh.askpass_client import SOCKET_ENV

MAX_REQUEST = 8192  # bytes of one request (ssh's prompts are a few lines)
REQUEST_TIMEOUT = 5.0  # seconds a connected client may take to send its request
HANDLER_WAIT = 60.0  # seconds a request waits for a handler to be installed


@dataclass(eq=False)  # compared and hashed by identity: one question, one object
class AskpassRequest:
    """One question from ssh.

    kind is ssh's SSH_ASKPASS_PROMPT: "" for a secret or a question answered with text,
    "confirm" for yes/no (an empty answer means yes, None no), "none" for a notice that
    needs no answer.
    """

    prompt: str
    kind: str = ""
    cancelled: threading.Event = field(default_factory=threading.Event)


AskpassHandler = Callable[[AskpassRequest], str | None]


def peer_uid(conn: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket (SO_PEERCRED)."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def _peer_gone(conn: socket.socket) -> bool:
    """Whether the client closed its end (it sends nothing after its request)."""
    readable, _, _ = select.select([conn], [], [], 0)
    if not readable:
        return False
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _read_request(conn: socket.socket) -> AskpassRequest | None:
    """The client's one JSON line, or None when it is missing, too long or malformed."""
    conn.settimeout(REQUEST_TIMEOUT)
    data = b""
    while b"\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        data += chunk
        if len(data) > MAX_REQUEST:
            return None
    try:
        message = json.loads(data.split(b"\n", 1)[0])
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    prompt, kind = message.get("prompt"), message.get("kind", "")
    if not isinstance(prompt, str) or not isinstance(kind, str):
        return None
    return AskpassRequest(prompt, kind)


class AskpassServer:
    """The listening socket, the handler (the UI's dialog), and the env for ssh."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.socket_path = directory / f"askpass-{os.getpid()}.sock"
        self.script_path = directory / f"askpass-{os.getpid()}"
        self._handler: AskpassHandler | None = None
        self._changed = threading.Condition()
        self._pending: set[AskpassRequest] = set()
        self._user_seconds = 0.0  # time spent waiting for answers (finished requests)
        self._asking_since: dict[AskpassRequest, float] = {}
        self._closed = False
        self._listener: socket.socket | None = None

    # -- life -----------------------------------------------------------------------------

    @classmethod
    def start(cls, directory: Path) -> AskpassServer:
        """Listen in directory (a private directory: ensure_private_dir) and write the script.

        Raises OSError when the socket cannot be made (e.g. its path is too long).
        """
        server = cls(directory)
        server._write_script()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with contextlib.suppress(FileNotFoundError):
                server.socket_path.unlink()  # left by a process that had our pid
            listener.bind(str(server.socket_path))
            os.chmod(server.socket_path, 0o600)
            listener.listen(8)
        except OSError:
            listener.close()
            server._remove_files()
            raise
        server._listener = listener
        threading.Thread(target=server._accept_loop, name="askpass", daemon=True).start()
        return server

    def _write_script(self) -> None:
        python = shlex.quote(sys.executable or "python3")
        # -I and the client's absolute file, not `-m pinesh.askpass_client`: -m looks the
        # module up on a path that starts with the current directory, so a pinesh/ planted
        # where pinesh (and so ssh) was started would run and be handed the passphrase.
        # -I keeps the current directory, the script's own directory (whose modules would
        # shadow the standard library's) and PYTHON* variables off the module path.
        program = shlex.quote(os.path.abspath(askpass_client.__file__))
        text = f'#!/bin/sh\nexec {python} -I {program} "$@"\n'
        tmp = self.script_path.with_name(self.script_path.name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o700)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        tmp.replace(self.script_path)

    def _remove_files(self) -> None:
        for path in (self.socket_path, self.script_path):
            with contextlib.suppress(OSError):
                path.unlink()

    def close(self) -> None:
        """Stop listening, cancel open questions, remove the socket and the script."""
        with self._changed:
            self._closed = True
            for request in self._pending:
                request.cancelled.set()
            self._changed.notify_all()
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            listener.close()
        self._remove_files()

    # -- what ssh gets -----------------------------------------------------------------------

    def ssh_env(self) -> dict[str, str]:
        """The environment variables that point an ssh's questions at this server."""
        return {
            "SSH_ASKPASS": str(self.script_path),
            "SSH_ASKPASS_REQUIRE": "force",
            SOCKET_ENV: str(self.socket_path),
        }

    def user_seconds(self) -> float:
        """Seconds spent so far waiting for people to answer (for extending deadlines)."""
        now = time.monotonic()
        with self._changed:
            return self._user_seconds + sum(now - t for t in self._asking_since.values())

    # -- handlers and questions ---------------------------------------------------------------

    def set_handler(self, handler: AskpassHandler | None) -> None:
        """Install the handler (the UI's dialog), or remove it (None)."""
        with self._changed:
            self._handler = handler
            self._changed.notify_all()

    @contextlib.contextmanager
    def handler(self, handler: AskpassHandler) -> Iterator[None]:
        """handler installed for the duration of the with block."""
        self.set_handler(handler)
        try:
            yield
        finally:
            self.set_handler(None)

    def _wait_for_handler(self, request: AskpassRequest, wait: float) -> AskpassHandler | None:
        deadline = time.monotonic() + wait
        with self._changed:
            while self._handler is None and not self._closed and not request.cancelled.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(min(remaining, 0.1))
            return None if self._closed else self._handler

    def ask(self, request: AskpassRequest, wait: float = HANDLER_WAIT) -> str | None:
        """The handler's answer to request; None when cancelled or nobody can answer."""
        with self._changed:
            if self._closed:
                return None
            self._pending.add(request)
        try:
            handler = self._wait_for_handler(request, wait)
            if handler is None or request.cancelled.is_set():
                return None
            with self._changed:
                self._asking_since[request] = time.monotonic()
            try:
                return handler(request)
            finally:
                with self._changed:
                    self._user_seconds += time.monotonic() - self._asking_since.pop(request)
        finally:
            with self._changed:
                self._pending.discard(request)

    def ask_password(self, prompt: str) -> str | None:
        """In-process question (an IMAP or NNTP password): the same dialog as ssh's."""
        return self.ask(AskpassRequest(prompt))

    # -- the socket -------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while True:
            listener = self._listener
            if listener is None:
                return
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(
                target=self._serve, args=(conn,), name="askpass-client", daemon=True
            ).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                if peer_uid(conn) != os.getuid():
                    return
                request = _read_request(conn)
            except OSError:
                return
            if request is None:
                return
            answer = self._answer_while_connected(conn, request)
            reply = json.dumps({"answer": answer}) + "\n"
            with contextlib.suppress(OSError):
                conn.settimeout(REQUEST_TIMEOUT)
                conn.sendall(reply.encode())

    def _answer_while_connected(self, conn: socket.socket, request: AskpassRequest) -> str | None:
        """ask(request) in a thread; cancel it if the client hangs up meanwhile."""
        result: list[str | None] = []
        done = threading.Event()

        def run() -> None:
            try:
                result.append(self.ask(request))
            finally:
                done.set()

        threading.Thread(target=run, name="askpass-ask", daemon=True).start()
        while not done.wait(0.1):
            if not request.cancelled.is_set() and _peer_gone(conn):
                request.cancelled.set()
        return result[0] if result else None
