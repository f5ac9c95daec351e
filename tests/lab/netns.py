"""Network namespaces for the lab: create, run inside, open sockets from inside, remove.

Each namespace is a host of the lab's network. ``ip netns exec NS`` runs a command there
and bind-mounts the files of ``/etc/netns/NS/`` over ``/etc`` (its own hosts and
resolv.conf), so a program inside resolves the lab's names and knows its DNS domain.
Python code of the test itself opens sockets inside a namespace from a short-lived thread
that joins it (setns moves only the calling thread), see ``socket_in``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from tests.lab.common import LabError, run

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")
NETNS_ETC = Path("/etc/netns")

T = TypeVar("T")


def ns_argv(namespace: str, argv: Sequence[str]) -> list[str]:
    """argv run inside namespace (with its own /etc/hosts and resolv.conf)."""
    return ["ip", "netns", "exec", namespace, *argv]


def ns_run(namespace: str, argv: Sequence[str], *, what: str, timeout: float = 60) -> str:
    """Run a set-up command inside namespace; LabError with its output when it fails."""
    return run(ns_argv(namespace, argv), what=what, timeout=timeout)


def add_namespace(namespace: str, hosts: str, domain: str) -> None:
    """Create namespace with loopback up, its own /etc/hosts and DNS search domain."""
    run(["ip", "netns", "add", namespace], what=f"create the namespace {namespace}")
    etc = NETNS_ETC / namespace
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "hosts").write_text(f"127.0.0.1 localhost\n::1 localhost\n{hosts}")
    # No nameserver: nothing inside may ask DNS; the search line names the network.
    (etc / "resolv.conf").write_text(f"search {domain}\n")
    ns_run(namespace, ["ip", "link", "set", "lo", "up"], what="bring loopback up")


def remove_namespace(namespace: str) -> None:
    """Kill every process inside namespace, then remove it and its /etc files (no errors)."""
    with contextlib.suppress(LabError):
        pids = run(["ip", "netns", "pids", namespace], what="list a namespace's processes")
        for pid in pids.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), 9)
    subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)
    shutil.rmtree(NETNS_ETC / namespace, ignore_errors=True)


def namespaces() -> list[str]:
    """The names of every network namespace `ip netns` knows."""
    try:
        return sorted(path.name for path in NETNS_DIR.iterdir())
    except OSError:
        return []


def _setns(path: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    with open(path) as handle:
        if libc.setns(handle.fileno(), CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns {path}: {os.strerror(errno)}")


def call_in(namespace: str, function: Callable[[], T]) -> T:
    """function's result, called in a thread that joined namespace's network.

    Sockets keep the namespace they were made in, so a socket made here can be used from
    any thread afterwards.
    """
    result: list[T] = []
    error: list[BaseException] = []

    def body() -> None:
        try:
            _setns(NETNS_DIR / namespace)
            result.append(function())
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=body, name=f"netns-{namespace}")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def socket_in(namespace: str, host: str, port: int, timeout: float = 10) -> socket.socket:
    """A TCP connection to host:port made from inside namespace."""
    return call_in(namespace, lambda: socket.create_connection((host, port), timeout=timeout))


def can_connect(namespace: str, host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether host:port accepts a connection from inside namespace."""
    try:
        socket_in(namespace, host, port, timeout).close()
    except OSError:
        return False
    return True
