"""A slow link in user space: two TUN devices joined by a relay that delays every packet.

The kernel here has no netem, so the lab's link between home and the rest of its network
is this process. It creates two TUN devices (layer 3, no packet information header) in the
namespace it starts in; the lab then moves each into its namespace, where they stand as the
two ends of a point-to-point link. Every packet read from one end is written to the other
after the one-way delay, and, when a rate is set, after the time it takes to send at that
rate; a direction's packets keep their order. A direction's queue holds at most
QUEUE_BYTES, as a router's buffer does; a packet arriving at a full queue is dropped.

Run as ``python -m tests.lab.delay_link END_A END_B --one-way-ms N [--rate-kbit R]``. It
prints ``ready`` once both devices exist, then reads commands on stdin, one a line:
``delay MS`` (a new one-way delay), ``rate KBIT`` (0: unlimited). It answers each with
``ok`` and ends when stdin closes.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import fcntl
import os
import selectors
import struct
import sys
import time
from dataclasses import dataclass, field

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
QUEUE_BYTES = 4 * 1024 * 1024
READ_SIZE = 65536


class LinkGoneError(Exception):
    """An end of the link no longer exists."""


def open_tun(name: str) -> int:
    """Create the TUN device name in this namespace and return its descriptor."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    os.set_blocking(fd, False)
    return fd


@dataclass
class Shaping:
    """The link's one-way delay (seconds) and rate (bits per second; 0 is unlimited)."""

    delay: float
    rate: float = 0.0


@dataclass
class Direction:
    """One direction of the link: packets waiting to come out at the far end."""

    source: int
    sink: int
    queue: collections.deque[tuple[float, bytes]] = field(default_factory=collections.deque)
    queued_bytes: int = 0
    line_free_at: float = 0.0  # when the last queued packet has been "sent" at the rate
    dropped: int = 0

    def take(self, shaping: Shaping, now: float) -> None:
        """Read every packet waiting at the source and queue it for its time."""
        while True:
            try:
                packet = os.read(self.source, READ_SIZE)
            except BlockingIOError:
                return
            except OSError as exc:
                # The device went away with its namespace: the link is being torn down.
                raise LinkGoneError from exc
            if self.queued_bytes + len(packet) > QUEUE_BYTES:
                self.dropped += 1
                continue
            sent = now
            if shaping.rate > 0:
                sent = max(now, self.line_free_at) + len(packet) * 8 / shaping.rate
                self.line_free_at = sent
            # Order is kept even when the delay shrinks while packets wait.
            due = sent + shaping.delay
            if self.queue and due < self.queue[-1][0]:
                due = self.queue[-1][0]
            self.queue.append((due, packet))
            self.queued_bytes += len(packet)

    def give(self, now: float) -> float | None:
        """Write every packet that is due; return when the next one is, or None."""
        while self.queue and self.queue[0][0] <= now:
            _, packet = self.queue.popleft()
            self.queued_bytes -= len(packet)
            try:
                os.write(self.sink, packet)
            except BlockingIOError:
                self.dropped += 1  # the far end's queue is full: a real link drops too
            except OSError:
                pass  # the far device is down (namespace going away)
        return self.queue[0][0] if self.queue else None


def _command(line: str, shaping: Shaping) -> str:
    words = line.split()
    try:
        if len(words) == 2 and words[0] == "delay":
            shaping.delay = float(words[1]) / 1000
            return "ok"
        if len(words) == 2 and words[0] == "rate":
            shaping.rate = float(words[1]) * 1000
            return "ok"
    except ValueError:
        pass
    return f"error: unknown command {line.strip()!r}"


def relay(end_a: int, end_b: int, shaping: Shaping) -> None:
    """Relay between the two TUN descriptors until stdin closes."""
    directions = {end_a: Direction(end_a, end_b), end_b: Direction(end_b, end_a)}
    selector = selectors.DefaultSelector()
    for fd in directions:
        selector.register(fd, selectors.EVENT_READ)
    selector.register(sys.stdin, selectors.EVENT_READ)
    next_due: float | None = None
    while True:
        timeout = None if next_due is None else max(0.0, next_due - time.monotonic())
        for key, _ in selector.select(timeout):
            if key.fd == sys.stdin.fileno():
                line = sys.stdin.readline()
                if not line:
                    return
                print(_command(line, shaping), flush=True)
            else:
                directions[key.fd].take(shaping, time.monotonic())
        now = time.monotonic()
        dues = [d for d in (x.give(now) for x in directions.values()) if d is not None]
        next_due = min(dues) if dues else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("end_a")
    parser.add_argument("end_b")
    parser.add_argument("--one-way-ms", type=float, default=0.0)
    parser.add_argument("--rate-kbit", type=float, default=0.0)
    args = parser.parse_args(argv)
    end_a, end_b = open_tun(args.end_a), open_tun(args.end_b)
    print("ready", flush=True)
    with contextlib.suppress(LinkGoneError):
        relay(end_a, end_b, Shaping(args.one_way_ms / 1000, args.rate_kbit * 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
