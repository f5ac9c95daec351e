"""Forwards for TCP-only clients (Pine's smtp-server=localhost:2025), on the shared master.

A forward is added to the running master with ``ssh -O forward``; it listens on loopback
only, or on a Unix socket (mode 0600 in a 0700 directory: other local users are kept out,
which a loopback port cannot do). Concurrent runs share one forward: a lock per listen
address, and a check that the forward already answers with the service's greeting.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from pinesh.errors import PineshError
from pinesh.transport.channel import Steps
from pinesh.transport.greeting import GreetingError
from pinesh.transport.masters import MasterPool, lock_until
from pinesh.transport.opener import RouteError, read_greeting
from pinesh.transport.routes import SshChannelRoute, bracketed
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


# The most of a server name a default socket's file name keeps as it is (sun_path is
# 108 bytes with the directory); longer names, or names with other characters, are hashed.
_NAME_IN_PATH = 40
_PLAIN_NAME = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_")

# What `pinesh forward` says when it listens on a TCP port (docs/transport.md#forwards).
TCP_WARNING = (
    "{listen} is a loopback TCP port: every local user can connect to it and use the "
    "forward as you. A Unix socket (the default: leave out --listen or listen) keeps them out."
)


def default_socket(directory: Path, server: str, service: Service) -> Listen:
    """The default listen place: a Unix socket in the runtime directory (mode 0700, so no
    other local user can reach it), named for the service and the server."""
    name = server.lower()
    if len(name) > _NAME_IN_PATH or not set(name) <= _PLAIN_NAME or name.startswith("."):
        name = hashlib.sha256(server.encode()).hexdigest()[:16]
    return Listen(path=directory / f"forward-{service.value}-{name}.sock")


def parse_listen(text: str) -> Listen:
    """'2025', '127.0.0.1:2025', '[::1]:2025' or a path containing '/'; loopback only."""
    if "/" in text:
        if ":" in text or "\\" in text:
            # ssh's -L splits on ':' and takes a backslash as an escape.
            raise PineshError(
                f"forward socket path {text!r} holds ':' or a backslash",
                hint="choose a path without them",
            )
        # Absolute: the master (started elsewhere) resolves relative paths from its cwd.
        return Listen(path=Path(text).expanduser().absolute())
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


class _Started:
    """`ssh -f -N` as launch() needs it."""

    def __init__(self, argv: list[str]) -> None:
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        # Only this process: once ssh -f has forked, the master is not ours to kill.
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()


def ensure_master(masters: MasterPool, route: SshChannelRoute, deadline: float) -> None:
    """Start route's master if none is up (``ssh -f -N`` becomes it), or say why not."""
    target = route.target
    if masters.is_up(target):
        return
    argv = masters.ssh_argv(target, ["-f", "-N", "--", target.host])
    try:
        started, launch = masters.launch(target, argv, deadline, _Started)
    except TimeoutError as exc:
        raise RouteError(route, str(exc), timed_out=True) from exc
    if launch.reused_master:
        started.kill()
        return
    try:
        _, err = started.process.communicate(timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        started.kill()
        raise RouteError(route, "timed out starting the ssh master", timed_out=True) from None
    if started.process.returncode != 0 or not masters.is_up(target):
        said = err.decode(errors="replace").strip()
        raise RouteError(route, f"ssh could not start the master: {said or 'no reason given'}")


def _tcp_listener_uids(listen: Listen) -> list[int]:
    """The uids of the sockets listening on listen's port (from /proc/net/tcp*)."""
    uids = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 7 and fields[3] == "0A":
                port = int(fields[1].rsplit(":", 1)[1], 16)
                if port == listen.port:
                    uids.append(int(fields[7]))
    return uids


def _check_socket_place(path: Path) -> None:
    """A Unix-socket forward's directory: made 0700 by us, or already ours and 0700.

    An existing directory is never chmod-ed, and nothing but our own stale socket is
    ever removed from it.
    """
    parent = path.parent
    if not parent.exists():
        parent.mkdir(mode=0o700, parents=True)
    info = os.lstat(parent)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PineshError(
            f"refusing to put a forward socket in {parent}: it must be a directory of "
            "yours that only you can enter (mode 0700)",
            hint=f"use a path in a new directory, or: chmod 700 {parent}",
        )
    if path.exists() or path.is_symlink():
        here = os.lstat(path)
        if not stat.S_ISSOCK(here.st_mode) or here.st_uid != os.getuid():
            raise PineshError(f"refusing to replace {path}: it is not a socket of yours")


def _state(listen: Listen, service: Service, timeout: float) -> str:
    """'up' (greets like service), 'mute' (accepts, no greeting), 'free' (nobody listens)."""
    try:
        sock = listen.connect(timeout)
    except OSError:  # refused, no such socket, timed out connecting
        return "free"
    with sock:
        try:
            read_greeting(sock, service, time.monotonic() + timeout, Steps(), time.monotonic())
        except (OSError, TimeoutError, GreetingError):
            return "mute"
        if service is Service.SMTP:
            with contextlib.suppress(OSError):
                sock.sendall(b"QUIT\r\n")
    return "up"


def ensure_forward(
    masters: MasterPool, route: SshChannelRoute, service: Service, listen: Listen, timeout: float
) -> ForwardResult:
    """Make sure a forward from listen to the route's host:port is up; share an existing one."""
    deadline = time.monotonic() + timeout
    name = hashlib.sha256(listen.describe().encode()).hexdigest()[:16]
    with lock_until(
        masters.directory / f"f-{name}.lock",
        deadline,
        f"another pinesh setting up the forward on {listen.describe()}",
    ):
        if listen.path is not None:
            _check_socket_place(listen.path)
        else:
            strangers = [uid for uid in _tcp_listener_uids(listen) if uid != os.getuid()]
            if strangers:
                raise RouteError(
                    route,
                    f"{listen.describe()} is held by another user "
                    f"(uid {strangers[0]}); it is not your forward",
                )
        state = _state(listen, service, min(3.0, max(deadline - time.monotonic(), 0.1)))
        if state == "up":
            return ForwardResult(listen, route, already_up=True)
        if state == "mute":
            raise RouteError(
                route,
                f"something of yours listens on {listen.describe()} but "
                f"does not greet like {service.value}: is {route.host}:"
                f"{route.port} down as seen from {route.target.host}?",
            )
        ensure_master(masters, route, deadline)
        if listen.path is not None:
            with contextlib.suppress(FileNotFoundError):
                listen.path.unlink()  # our own stale socket: nothing answered on it
        argv = [*masters.ssh_argv(route.target, []), "-O", "forward",
                "-L", f"{listen.spec()}:{bracketed(route.host)}:{route.port}",
                "--", route.target.host]  # fmt: skip
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                check=False,
                timeout=max(deadline - time.monotonic(), 1.0),
            )
        except subprocess.TimeoutExpired:
            raise RouteError(route, "ssh -O forward did not answer", timed_out=True) from None
        if done.returncode != 0:
            raise RouteError(
                route,
                f"ssh would not add the forward on {listen.describe()}: "
                f"{done.stderr.strip() or done.returncode}",
            )
        if _state(listen, service, max(deadline - time.monotonic(), 1.0)) != "up":
            raise RouteError(
                route,
                f"the forward on {listen.describe()} is up but "
                f"{route.host}:{route.port} does not greet like {service.value}",
            )
        return ForwardResult(listen, route, already_up=False)
