"""Helpers for integration tests: pinesh configs for the lab, and tiny protocol exchanges."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from pinesh.config.pinerc import Pinerc, parse_pinerc
from pinesh.config.pinesh_toml import parse_settings
from pinesh.config.settings import Settings
from pinesh.services.connections import Connections
from pinesh.transport.environment import Environment
from pinesh.transport.masters import MasterPool
from tests.lab.sshd import LabSshd


@contextlib.contextmanager
def short_dir(prefix: str = "pn-") -> Iterator[Path]:
    """A private directory with a short path (a control socket path must stay < 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o700)
    yield path


def lab_config_text(sshd: LabSshd, work: Path, body: str, *, timeout: float = 5) -> str:
    """A pinesh config whose ssh masters reach the lab sshd, with the given rules."""
    return f"""open_timeout = {timeout}
state_dir = "{work / "state"}"

[ssh]
control_dir = "{work / "ctl"}"
persist = 60
options = ["-F", "{sshd.client_config}"]

{body}
"""


def write_config(sshd: LabSshd, work: Path, body: str, *, timeout: float = 5) -> Path:
    path = work / "config.toml"
    path.write_text(lab_config_text(sshd, work, body, timeout=timeout))
    return path


def connections(
    sshd: LabSshd,
    work: Path,
    body: str,
    *,
    pinerc: str = "",
    timeout: float = 5,
    network: str = "lab-net",
) -> Connections:
    """Connections for a config written to work/, on a fixed network id."""
    path = write_config(sshd, work, body, timeout=timeout)
    settings: Settings = parse_settings(path.read_text(), str(path))
    rc: Pinerc = parse_pinerc(pinerc, str(work / "pinerc"))
    return Connections(settings, rc, Environment(network_override=network))


def stop_masters(conns: Connections) -> None:
    MasterPool(conns.settings.ssh).stop()


def fault_rounds(default: int) -> int:
    """How many times a fault test injects its fault: PINESH_FAULT_ROUNDS, else default
    (the CI form; the recorded runs in docs/security.md set 100)."""
    rounds = int(os.environ.get("PINESH_FAULT_ROUNDS", default))
    if rounds < 1:
        raise ValueError(f"PINESH_FAULT_ROUNDS must be at least 1, not {rounds}")
    return rounds


def kill_masters(conns: Connections) -> int:
    """kill -9 every running ssh master of conns (as a crash or the OOM killer would);
    how many were killed. Their control sockets stay behind, stale."""
    killed = 0
    for info in MasterPool(conns.settings.ssh).status():
        if info.running and info.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(info.pid, signal.SIGKILL)
                killed += 1
    return killed


def exchange(sock: socket.socket, command: bytes, until: bytes, timeout: float = 10) -> bytes:
    """Send command, read until a line starting with until (e.g. b'a1 ') has arrived."""
    sock.settimeout(timeout)
    sock.sendall(command)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        lines = data.split(b"\r\n")
        if any(line.startswith(until) for line in lines[:-1]):
            return data
    raise AssertionError(f"no {until!r} line in reply to {command!r}: {data!r}")


# The lab user's Dovecot, preauthenticated over ssh to the lab host.
def imap_command_rule(command: list[str]) -> str:
    """A rule: the lab host's IMAP is command run over ssh (a preauth imapd, or a relay in
    front of one), with no fallback. Words with a double quote or backslash are refused
    here (none of the lab's need them)."""
    assert not any('"' in w or "\\" in w for w in command)
    words = ", ".join(f'"{w}"' for w in command)
    return f"""
[[rule]]
servers = ["lab"]
services = ["imap"]
imap_command = [{words}]
fallback = []
"""


PREAUTH_RULE = imap_command_rule(["/usr/lib/dovecot/imap"])


def isp_rules(smtp_host: str, smtp_port: int, nntp_host: str, nntp_port: int) -> str:
    """The case study's ISP: its servers take mail and posts only from inside, so pinesh
    reaches them through the shell server ("lab") over ssh channels."""
    return f"""
[[rule]]
servers = ["smtp.isp.test"]
services = ["smtp"]
login = "lab"
target = "{smtp_host}"
ports = {{ smtp = {smtp_port} }}
fallback = []

[[rule]]
servers = ["news.isp.test"]
services = ["nntp"]
login = "lab"
target = "{nntp_host}"
ports = {{ nntp = {nntp_port} }}
fallback = []
"""
