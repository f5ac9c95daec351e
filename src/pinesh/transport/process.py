"""Child processes whose stdin/stdout are one end of a socketpair, stderr captured apart.

The protocol side gets a real socket (so timeouts, select and IMAP IDLE work), and what
the child says on stderr never mixes into the protocol: it is kept for error messages.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Sequence
from typing import IO

STDERR_KEEP = 16384  # bytes of a child's stderr we keep (the tail)


class StderrCapture:
    """Reads a child's stderr in a thread and keeps the last STDERR_KEEP bytes."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._data = bytearray()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._pump, name="ssh-stderr", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            while chunk := os.read(self._stream.fileno(), 4096):
                with self._lock:
                    self._data += chunk
                    del self._data[:-STDERR_KEEP]
        with contextlib.suppress(OSError):
            self._stream.close()

    def text(self, wait: float = 0.0) -> str:
        """What the child said, decoded, control characters removed, lines joined by '; '."""
        if wait:
            self._thread.join(wait)
        with self._lock:
            raw = bytes(self._data)
        lines = raw.decode("utf-8", "replace").splitlines()
        clean = ("".join(c for c in line if c.isprintable()).strip() for line in lines)
        return "; ".join(line for line in clean if line)


class ChildChannel:
    """A running child process connected to us by a socketpair."""

    def __init__(
        self, sock: socket.socket, process: subprocess.Popen[bytes], *, kill_group: bool = True
    ) -> None:
        self.sock = sock
        self.process = process
        self.kill_group = kill_group
        assert process.stderr is not None
        self.stderr = StderrCapture(process.stderr)

    def alive(self) -> bool:
        return self.process.poll() is None

    def _signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if self.kill_group:
                os.killpg(self.process.pid, signum)
            else:
                self.process.send_signal(signum)

    def kill(self) -> None:
        """End the child (and its process group, when kill_group), reap it, close our end."""
        with contextlib.suppress(OSError):
            self.sock.close()
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait()

    def close(self) -> None:
        """Close our end; the child sees EOF and should exit; kill it if it does not."""
        with contextlib.suppress(OSError):
            self.sock.close()
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()


def spawn_on_socketpair(
    argv: Sequence[str], env: dict[str, str] | None = None, *, kill_group: bool = True
) -> ChildChannel:
    """Start argv (no shell) with stdin/stdout on a socketpair; stderr piped apart.

    The child gets its own session so a timeout can kill it and its children together
    (a ControlPersist master daemonizes into a session of its own and is not touched).
    """
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        process = subprocess.Popen(
            list(argv),
            stdin=theirs.fileno(),
            stdout=theirs.fileno(),
            stderr=subprocess.PIPE,
            start_new_session=True,
            env=env,
            close_fds=True,
        )
    except OSError:
        ours.close()
        raise
    finally:
        theirs.close()
    return ChildChannel(ours, process, kill_group=kill_group)
