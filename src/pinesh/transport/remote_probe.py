"""Which of some programs exist on an ssh host: one remote command through the shared master.

Each candidate path is a separate argument of ``sh -c SCRIPT sh PATH...``, every word
quoted for the remote login shell (remote_command_tail), so a path is never read as shell
text; the script prints the ones that are executable files, and only lines equal to a
candidate are believed.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Sequence

from pinesh.config.names import check_word
from pinesh.errors import PineshError
from pinesh.transport.masters import MasterPool, remote_command_tail
from pinesh.transport.process import spawn_on_socketpair
from pinesh.transport.routes import SshTarget

PROBE_SCRIPT = 'for p in "$@"; do if [ -f "$p" ] && [ -x "$p" ]; then echo "$p"; fi; done'
MAX_REPLY = 65536  # bytes of the probe's output we read; the real answer is a few lines


class ProbeError(PineshError):
    """The probe could not run, or did not finish, on the host."""


def probe_command(paths: Sequence[str]) -> list[str]:
    """The remote command (words, before quoting) that prints which of paths exist."""
    for path in paths:
        check_word(path, "probe path")
        if not path.startswith("/"):
            raise ValueError(f"probe paths must be absolute: {path!r}")
    return ["sh", "-c", PROBE_SCRIPT, "sh", *paths]


def executables_found(output: bytes, paths: Sequence[str]) -> tuple[str, ...]:
    """The candidates the probe printed, in the order of paths (other lines ignored)."""
    lines = set(output.decode("utf-8", "replace").splitlines())
    return tuple(path for path in paths if path in lines)


def probe_executables(
    masters: MasterPool, target: SshTarget, paths: Sequence[str], timeout: float
) -> tuple[str, ...]:
    """Which of paths are executable files on target, in the order given: one channel.

    Rides on target's master (or becomes it); raises ProbeError with ssh's own words when
    the command fails or takes longer than timeout seconds.
    """
    argv = masters.ssh_argv(target, remote_command_tail(target.host, probe_command(paths)))
    deadline = time.monotonic() + timeout
    try:
        child, launch = masters.launch(
            target, argv, deadline, lambda a: spawn_on_socketpair(a, kill_group=False)
        )
    except TimeoutError as exc:
        raise ProbeError(f"probing {target.label()}: {exc}") from exc
    except OSError as exc:
        raise ProbeError(f"probing {target.label()}: cannot start ssh: {exc}") from exc
    deadline += launch.user_wait_seconds
    output = b""
    try:
        with contextlib.suppress(OSError):
            child.sock.shutdown(socket.SHUT_WR)  # the script reads nothing
        while len(output) < MAX_REPLY:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            child.sock.settimeout(remaining)
            chunk = child.sock.recv(4096)
            if not chunk:
                break
            output += chunk
        code = child.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
    except (TimeoutError, subprocess.TimeoutExpired, OSError) as exc:
        child.kill()
        timed_out = isinstance(exc, TimeoutError | subprocess.TimeoutExpired)
        reason = "timed out" if timed_out else str(exc)
        said = child.stderr.text(wait=0.2)
        if said:
            reason += f"; ssh said: {said}"
        raise ProbeError(f"probing {target.label()}: {reason}") from exc
    except BaseException:
        child.kill()
        raise
    child.close()
    if code != 0:
        said = child.stderr.text(wait=0.2) or "no reason given"
        raise ProbeError(f"probing {target.label()}: {said} (exit status {code})")
    return executables_found(output, paths)
