"""Packet captures with tcpdump: what crossed an interface while a test ran, as bytes.

A capture is ended only after a sentinel datagram, sent once the test's traffic is over,
is in the file: everything sent before it has been written too, so a count of zero in
the file means the bytes were not on the wire, not that tcpdump had not written them yet.
tcpdump runs as root (``-Z root``: Debian's tcpdump otherwise drops to its own user, which
cannot write into a private test directory). A capture that cannot start, or that dropped
packets, raises LabError: the tests that need it fail, never skip.
"""

from __future__ import annotations

import base64
import os
import re
import select
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab.common import LabError, which
from tests.lab.netns import call_in, ns_argv

TCPDUMP = "/usr/bin/tcpdump"
SENTINEL_PORT = 9  # discard: nothing listens, the datagram is seen on the wire all the same


@dataclass
class Capture:
    """One finished capture: the pcap file's bytes and tcpdump's own counts."""

    path: Path
    interface: str
    bpf: str
    packets: int = 0
    dropped: int = 0
    data: bytes = field(default=b"", repr=False)

    def count(self, needle: bytes) -> int:
        """How many times needle occurs in the captured packets (headers and payloads)."""
        return self.data.count(needle)


def base64_forms(secret: bytes) -> list[bytes]:
    """The base64 text that holds secret wherever it sits in a longer base64 string.

    base64 maps each 3 bytes to 4 characters, so a secret encodes in one of three ways,
    by its offset modulo 3; the characters that depend only on the secret are kept (the
    first group of an offset encoding and the last, partial group are dropped).
    """
    forms = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret)
        whole = (offset + len(secret)) // 3 * 4
        forms.append(encoded[4 if offset else 0 : whole])
    return forms


def _read_until(process: subprocess.Popen[bytes], pattern: bytes, timeout: float) -> bytes:
    """tcpdump's stderr until pattern appears (or it exits, or the timeout)."""
    assert process.stderr is not None
    seen = b""
    deadline = time.monotonic() + timeout
    while pattern not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([process.stderr], [], [], left)
        if not ready:
            break
        chunk = os.read(process.stderr.fileno(), 4096)
        if not chunk:
            break
        seen += chunk
    return seen


def _send_sentinel(token: bytes, namespace: str | None, to: str) -> None:
    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(token, (to, SENTINEL_PORT))

    if namespace is None:
        send()
    else:
        call_in(namespace, send)


@contextmanager
def capture(
    directory: Path,
    *,
    interface: str = "lo",
    bpf: str = "",
    namespace: str | None = None,
    name: str = "capture",
    sentinel_to: str = "127.0.0.1",
) -> Iterator[Capture]:
    """Capture on interface (in namespace) while the block runs; the result is filled in at
    its end. bpf narrows what is kept; the sentinel's datagrams are always kept. They go
    to sentinel_to, an address reached through interface (from namespace)."""
    which(TCPDUMP, "tcpdump")
    path = directory / f"{name}.pcap"
    sentinel = f"udp port {SENTINEL_PORT}"
    expression = f"({bpf}) or ({sentinel})" if bpf else ""
    argv = [TCPDUMP, "-i", interface, "-n", "-s", "0", "-U", "-Z", "root", "-w", str(path)]
    argv += [expression] if expression else []
    if namespace is not None:
        argv = ns_argv(namespace, argv)
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError as exc:
        raise LabError(f"cannot run tcpdump: {exc}") from exc
    started = _read_until(process, b"listening on", 10)
    if b"listening on" not in started:
        process.kill()
        process.wait()
        raise LabError(f"tcpdump did not start on {interface}: {started.decode(errors='replace')}")
    result = Capture(path, interface, bpf)
    try:
        yield result
        token = f"pinesh-capture-sentinel-{uuid.uuid4().hex}".encode()
        deadline = time.monotonic() + 10
        while token not in path.read_bytes():
            if time.monotonic() > deadline:
                raise LabError(f"the capture on {interface} never saw its sentinel datagram")
            _send_sentinel(token, namespace, sentinel_to)
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, errors = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            _, errors = process.communicate()
    text = (started + errors).decode(errors="replace")
    captured = re.search(r"(\d+) packets? captured", text)
    dropped = re.search(r"(\d+) packets? dropped by kernel", text)
    if captured is None or dropped is None:
        raise LabError(f"tcpdump on {interface} gave no counts:\n{text}")
    result.packets, result.dropped = int(captured.group(1)), int(dropped.group(1))
    result.data = path.read_bytes()
    if result.dropped:
        raise LabError(f"tcpdump on {interface} dropped {result.dropped} packets:\n{text}")
