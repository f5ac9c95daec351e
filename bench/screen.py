"""Launching a terminal client under tmux and reading its screen until the index is up:
the machinery the launch benchmarks share (bench_ui_launch on loopback, bench_network
across the lab's link).

Each launch is a new `tmux new-session` on a 150x45 screen; `capture-pane` is read every
POLL seconds until the variant's ready() holds; the time counts from just before
`tmux new-session`.
"""

from __future__ import annotations

import re
import shlex
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
POLL = 0.005  # seconds between screen reads
TIMEOUT = 180.0  # seconds a client may take to show its index


@dataclass(frozen=True)
class Variant:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready: Callable[[str], bool]
    master: bool | None  # pinesh's master: False stopped first, True started first
    forked: bool = False  # through the fork server: the RSS is the child's
    server_down: bool = False  # the fork server stopped first: this launch starts one
    # A second moment to wait for after ready() (pinesh's index painted from its header
    # cache, then confirmed by the server): its time is Launch.confirmed.
    confirmed: Callable[[str], bool] | None = None


SERVER_LOG = "client-server.log"


@dataclass
class Launch:
    seconds: float
    rss_mb: float
    served: bool = True  # a fork-server variant: the launch was a fork of the server
    confirmed: float | None = None  # seconds to Variant.confirmed, when it has one
    early: bool = False  # ready() held before confirmed() did (pinesh: painted from cache)


_PLACEHOLDER = re.compile(r"\s*\S?\s*\d+\s+\.\.\.\s*")  # pinesh's row not read yet: "  12 ..."


def _index_lines(screen: str) -> int:
    """Lines with a number and some text: index rows (pinesh's "...", a row whose envelope
    is still being read, is not one)."""
    return sum(
        1
        for line in screen.splitlines()
        if re.search(r"\b\d+\b.*\S{3}", line) and not _PLACEHOLDER.fullmatch(line)
    )


def count_shown(count: int) -> Callable[[str], bool]:
    """pinesh and Alpine: 'of 100000' (or 'of 100,000') in the title bar, index lines."""
    forms = (f"of {count}", f"of {count:,}")

    def ready(screen: str) -> bool:
        lines = screen.splitlines()
        title = lines[0] if lines else ""
        return any(form in title for form in forms) and _index_lines(screen) >= 10

    return ready


def confirmed_shown(count: int) -> Callable[[str], bool]:
    """pinesh's index as count_shown, its status line the server's: 'N messages', and no
    longer 'cached'."""
    shown = count_shown(count)

    def ready(screen: str) -> bool:
        return (
            shown(screen)
            and (f": {count} messages," in screen or f": {count:,} messages," in screen)
            and "cached, not yet confirmed" not in screen
        )

    return ready


def mutt_ready(count: int) -> Callable[[str], bool]:
    def ready(screen: str) -> bool:
        return f"Msgs:{count}" in screen and _index_lines(screen) >= 10

    return ready


def _tmux(*args: str) -> str:
    done = subprocess.run(["tmux", *args], capture_output=True, text=True, check=False)
    return done.stdout


def _vm_hwm_mb(pid: int) -> float:
    """A process's peak RSS (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _fork_child(log: Path, client: int) -> int | None:
    """The fork server's child that served the thin client pid client, from its log."""
    text = log.read_text() if log.exists() else ""
    match = re.search(rf"client pid {client} \(\d+x\d+\) served by child (\d+)", text)
    return int(match.group(1)) if match else None


def launch(
    variant: Variant, show: bool = False, log: Path | None = None, timeout: float = TIMEOUT
) -> Launch:
    """Start variant under tmux, wait for its index, read its peak RSS, end it."""
    session = f"bench-{uuid.uuid4().hex[:8]}"
    assignments = [f"{k}={shlex.quote(v)}" for k, v in variant.env.items()]
    # Bytecode is cached (in the prefix the env names), as for an installed pinesh: the
    # test environment may say PYTHONDONTWRITEBYTECODE, which would compile every launch.
    words = ["exec", "env", "-u", "PYTHONDONTWRITEBYTECODE", *assignments]
    command = " ".join([*words, *map(shlex.quote, variant.argv)])
    began = time.perf_counter()
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "150", "-y", "45", command],
        check=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            screen = _tmux("capture-pane", "-p", "-t", session)
            if variant.ready(screen):
                seconds = time.perf_counter() - began
                break
            _check_time(variant, screen, session, deadline, timeout)
            time.sleep(POLL)
        confirmed = None
        early = variant.confirmed is not None and not variant.confirmed(screen)
        while variant.confirmed is not None:
            if variant.confirmed(screen):
                confirmed = time.perf_counter() - began
                break
            _check_time(variant, screen, session, deadline, timeout)
            time.sleep(POLL)
            screen = _tmux("capture-pane", "-p", "-t", session)
        # The pane's process is the client itself: sh and env exec it.
        pane = int(_tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())
        served = True
        if variant.forked and log is not None:
            child = _fork_child(log, pane)
            served = child is not None
            pane = child if child is not None else pane
        rss = _vm_hwm_mb(pane)
        if show:
            print(f"--- {variant.name}: {seconds:.3f} s\n{screen}", file=sys.stderr)
        return Launch(seconds, rss, served, confirmed, early)
    finally:
        _tmux("kill-session", "-t", session)
        time.sleep(0.3)  # let the client and its ssh go before the next launch


def _check_time(
    variant: Variant, screen: str, session: str, deadline: float, timeout: float
) -> None:
    """Answer Alpine's first-run greeting; raise once the deadline has passed."""
    if "Exit this greeting" in screen:
        _tmux("send-keys", "-t", session, "E")
    if time.monotonic() > deadline:
        raise RuntimeError(f"{variant.name}: no index after {timeout} s:\n{screen}")


def _ready_shown(screen: str) -> bool:
    return "READY" in screen


def tmux_overhead(rounds: int) -> float:
    """Median time to see the first output of a program that prints at once."""
    times = []
    for _ in range(rounds):
        variant = Variant("tmux", ["sh", "-c", "echo READY; sleep 30"], {}, _ready_shown, None)
        times.append(launch(variant).seconds)
    return statistics.median(times)


def messages_in(maildir: Path) -> int:
    return sum(1 for sub in ("cur", "new") for _ in (maildir / sub).iterdir())
