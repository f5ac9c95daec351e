"""Time to a verified PREAUTH greeting: cold (no master), warm (master up), and plain ssh.

Starts the test lab's sshd and prepares Dovecot's preauth (needs root, as the test suite),
then measures N rounds of each and counts sshd authentications for ten warm opens.

    .venv/bin/python -m bench.bench_preauth [--rounds 20]

Results go to stdout as a Markdown table; docs/benchmarks.md quotes a run.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.lab.common import ensure_lab_user, make_lab_dir
from tests.lab.dovecot import prepare_preauth
from tests.lab.sshd import start_sshd

from pinesh.config.server_spec import ServerSpec
from pinesh.config.settings import SshSettings
from pinesh.transport.channel import Steps
from pinesh.transport.greeting import GreetingState
from pinesh.transport.masters import MasterPool
from pinesh.transport.opener import open_route, read_greeting
from pinesh.transport.process import spawn_on_socketpair
from pinesh.transport.routes import SshPreauthRoute, SshTarget
from pinesh.transport.service import Service

COMMAND = ("/usr/lib/dovecot/imap",)


def _pool() -> MasterPool:
    return MasterPool(
        SshSettings(control_dir=Path(tempfile.mkdtemp(prefix="pb-", dir="/tmp")), persist=60)
    )


def _pinesh_open(pool: MasterPool, target: SshTarget) -> float:
    began = time.perf_counter()
    channel = open_route(
        SshPreauthRoute(target, COMMAND),
        Service.IMAP,
        server=ServerSpec("lab"),
        deadline=time.monotonic() + 15,
        masters=pool,
    )
    elapsed = time.perf_counter() - began
    assert channel.preauthenticated
    channel.close()
    return elapsed


def _plain_spawn(options: list[str]) -> float:
    """What every other client does: a fresh `ssh host exec imapd` per connection."""
    began = time.perf_counter()
    child = spawn_on_socketpair(["ssh", "-q", *options, "lab", "exec", *COMMAND])
    greeting = read_greeting(child.sock, Service.IMAP, time.monotonic() + 15, Steps(), 0.0)
    elapsed = time.perf_counter() - began
    assert greeting.state is GreetingState.PREAUTH
    child.close()
    return elapsed


def _stats(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    return (
        f"{statistics.median(ms):7.1f} | {ms[0]:7.1f} | "
        f"{ms[int(len(ms) * 0.9) - 1 if len(ms) >= 10 else -1]:7.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    user = ensure_lab_user()
    prepare_preauth(user)
    lab = start_sshd(user, make_lab_dir("bench"))
    options = lab.ssh_options()
    target = SshTarget("lab", options=tuple(options))
    try:
        cold, warm, plain = [], [], []
        for _ in range(args.rounds):
            pool = _pool()
            cold.append(_pinesh_open(pool, target))
            warm.append(_pinesh_open(pool, target))
            pool.stop()
            plain.append(_plain_spawn(options))
        pool = _pool()
        before = lab.authentications()
        for _ in range(10):
            _pinesh_open(pool, target)
        ten_auths = lab.authentications() - before
        pool.stop()
        before = lab.authentications()
        for _ in range(10):
            _plain_spawn(options)
        ten_plain = lab.authentications() - before
    finally:
        lab.stop()
    ssh_version = subprocess.run(
        ["ssh", "-V"], capture_output=True, text=True, check=False
    ).stderr.strip()
    runs: list[tuple[str, Callable[[], str]]] = [
        ("pinesh cold (no master)", lambda: _stats(cold)),
        ("pinesh warm (master up)", lambda: _stats(warm)),
        ("plain `ssh lab exec imap`", lambda: _stats(plain)),
    ]
    print(f"machine: {platform.node()} {platform.machine()}, {ssh_version}, {args.rounds} rounds\n")
    print("| open to verified PREAUTH | median ms | min ms | p90 ms |")
    print("|---|---:|---:|---:|")
    for name, row in runs:
        print(f"| {name} | {row()} |")
    print(f"\nssh authentications for ten opens: pinesh {ten_auths}, plain ssh {ten_plain}")


if __name__ == "__main__":
    main()
