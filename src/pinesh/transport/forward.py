"""Forwards for TCP-only clients (Pine's smtp-server=localhost:2025), on the shared master.

A forward is added to the running master with ``ssh -O forward``; it listens on loopback
only, or on a Unix socket (mode 0600 in a 0700 directory: other local users are kept out,
which a loopback port cannot do). Concurrent runs share one forward: a lock per listen
address, and a check that the forward already answers with the service's greeting.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pinesh.errors import PineshError
from pinesh.transport.channel import Steps
from pinesh.transport.greeting import GreetingError
from pinesh.transport.masters import MasterPool
from pinesh.transport.opener import RouteError, read_greeting
from pinesh.transport.routes import SshChannelRoute
from pinesh.transport.service import Service


@dataclass(frozen=True)
class Listen:
    """Where a forward listens: a loopback TCP address, or a Unix socket path."""

    host: str | None = None
    port: int | None = None
    path: Path | None = None

    def spec(self) -> str:
        """ssh's -L listen part."""
        if self.path is not None:
            return str(self.path)
        return (
            f"[{self.host}]:{self.port}" if ":" in (self.host or "") else f"{self.host}:{self.port}"
        )

    def describe(self) -> str:
        return str(self.path) if self.path else f"{self.host}:{self.port}"

    def connect(self, timeout: float) -> socket.socket:
        if self.path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(str(self.path))
            except OSError:
                sock.close()
                raise
            return sock
        assert self.host is not None and self.port is not None
        return socket.create_connection((self.host, self.port), timeout=timeout)


def parse_listen(text: str) -> Listen:
    """'2025', '127.0.0.1:2025', '[::1]:2025' or a path containing '/'; loopback only."""
    if "/" in text:
        if ":" in text or "\\" in text:
            # ssh's -L splits on ':' and takes a backslash as an escape.
            raise PineshError(
                f"forward socket path {text!r} holds ':' or a backslash",
                hint="choose a path without them",
            )
        return Listen(path=Path(text).expanduser())
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]") if sep else "127.0.0.1"
    port_text = port_text if sep else text
    if host == "localhost":
        host = "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise PineshError(
            f"forward listen address {text!r}: {host!r} is not an IP address",
            hint="use a port (e.g. 2025), 127.0.0.1:PORT, or a socket path",
        ) from None
    if not address.is_loopback:
        raise PineshError(
            f"refusing to listen on {host}: forwards listen on loopback only",
            hint="other machines must never reach your ssh forwards",
        )
    if not (port_text.isascii() and port_text.isdecimal()) or not 0 < int(port_text) < 65536:
        raise PineshError(f"forward listen address {text!r}: {port_text!r} is not a port")
    return Listen(host=str(address), port=int(port_text))


@dataclass(frozen=True)
class ForwardResult:
    listen: Listen
    route: SshChannelRoute
    already_up: bool


def _answers(listen: Listen, service: Service, timeout: float = 3.0) -> bool:
    """Whether something on listen greets like the service (a live forward)."""
    try:
        sock = listen.connect(timeout)
    except OSError:
        return False
    with sock:
        try:
            greeting = read_greeting(sock, service, time.monotonic() + timeout, Steps(), 0.0)
        except (OSError, TimeoutError, GreetingError):
            return False
        if service is Service.SMTP:
            with contextlib.suppress(OSError):
                sock.sendall(b"QUIT\r\n")
        return greeting is not None


@contextlib.contextmanager
def _listen_lock(masters: MasterPool, listen: Listen) -> Iterator[None]:
    name = hashlib.sha256(listen.describe().encode()).hexdigest()[:16]
    with open(masters.directory / f"f-{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_master(masters: MasterPool, route: SshChannelRoute, deadline: float) -> None:
    """Start route's master if none is up (``ssh -f -N`` becomes it), or say why not."""
    target = route.target
    if masters.is_up(target):
        return
    argv = masters.ssh_argv(target, ["-f", "-N", "--", target.host])

    def start(args: list[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

    child, launch = masters.launch(target, argv, deadline, start, lambda p: p.poll() is None)
    if launch.reused_master:
        child.kill()
        child.wait()
        return
    try:
        _, err = child.communicate(timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        raise RouteError(route, "timed out starting the ssh master", timed_out=True) from None
    if child.returncode != 0 or not masters.is_up(target):
        said = err.decode(errors="replace").strip()
        raise RouteError(route, f"ssh could not start the master: {said or child.returncode}")


def ensure_forward(
    masters: MasterPool, route: SshChannelRoute, service: Service, listen: Listen, timeout: float
) -> ForwardResult:
    """Make sure a forward from listen to the route's host:port is up; share an existing one."""
    deadline = time.monotonic() + timeout
    if listen.path is not None:
        listen.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(listen.path.parent, 0o700)
    with _listen_lock(masters, listen):
        if _answers(listen, service):
            return ForwardResult(listen, route, already_up=True)
        ensure_master(masters, route, deadline)
        if listen.path is not None:
            with contextlib.suppress(FileNotFoundError):
                listen.path.unlink()  # stale: it did not answer above
        host = f"[{route.host}]" if ":" in route.host else route.host
        argv = [
            *masters.ssh_argv(route.target, []),
            "-O",
            "forward",
            "-L",
            f"{listen.spec()}:{host}:{route.port}",
            "--",
            route.target.host,
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
        if done.returncode != 0:
            raise RouteError(
                route,
                f"ssh would not add the forward on {listen.describe()}: "
                f"{done.stderr.strip() or done.returncode}",
            )
        if not _answers(listen, service, timeout=max(deadline - time.monotonic(), 1.0)):
            raise RouteError(
                route,
                f"the forward on {listen.describe()} is up but "
                f"{route.host}:{route.port} does not greet like {service.value}",
            )
        return ForwardResult(listen, route, already_up=False)
