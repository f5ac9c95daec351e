"""`pinesh connect` start-up: time to the IMAP greeting with a master up, and to exit 1.

In one run, on the lab (loopback, RTT 0), N interleaved rounds of:

- a raw `ssh -S SOCKET -o ControlMaster=no lab exec /usr/lib/dovecot/imap` channel;
- `pinesh-connect lab USER imap` served by the lean start (pinesh/connect_fast.py);
- the same with PINESH_CONNECT_FAST=0 (the full path, as before the lean start);
- `pinesh-connect elsewhere USER imap` for a server without a route, lean and full.

Starts the test lab's sshd and Dovecot's preauth (needs root, as the test suite); run it
under the lab lock:

    flock /tmp/pinesh-lab.lock nice -n 5 .venv/bin/python -m bench.bench_connect [--rounds 20]

Results go to stdout as a Markdown table; docs/benchmarks.md quotes a run.
"""

from __future__ import annotations

import argparse
import os
import platform
import select
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.helpers import PREAUTH_RULE, short_dir, write_config
from tests.lab.common import ensure_lab_user, make_lab_dir
from tests.lab.dovecot import prepare_preauth
from tests.lab.sshd import LabSshd, start_sshd

from pinesh.config.pinesh_toml import load_settings
from pinesh.transport.masters import MasterPool, control_path_option
from pinesh.transport.routes import SshTarget

BIN = Path(sys.executable).parent
IMAP = "/usr/lib/dovecot/imap"


def _to_greeting(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning argv to the first CRLF line on its stdout (checked PREAUTH)."""
    began = time.perf_counter()
    child = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert child.stdout is not None and child.stdin is not None
    data = b""
    fd = child.stdout.fileno()
    while b"\r\n" not in data:
        ready, _, _ = select.select([fd], [], [], 15)
        chunk = os.read(fd, 4096) if ready else b""
        if not chunk:
            child.kill()
            raise RuntimeError(f"{argv[0]}: no greeting; {child.communicate()[1]!r}")
        data += chunk
    elapsed = time.perf_counter() - began
    assert data.startswith(b"* PREAUTH"), data
    child.communicate(b"a1 LOGOUT\r\n", timeout=15)
    return elapsed


def _to_exit(argv: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env, timeout=30, check=False)
    elapsed = time.perf_counter() - began
    assert done.returncode == 1 and b"no ssh route" in done.stderr, done.stderr
    return elapsed


def _to_exit_0(argv: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run(argv, env=env, timeout=30, check=True)
    return time.perf_counter() - began


def _stats(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p90 = ms[int(len(ms) * 0.9) - 1 if len(ms) >= 10 else -1]
    return f"{statistics.median(ms):7.1f} | {ms[0]:7.1f} | {p90:7.1f}"


def _measure(lab: LabSshd, work: Path, rounds: int) -> dict[str, list[float]]:
    config = write_config(lab, work, PREAUTH_RULE)
    pinerc = work / "pinerc"
    pinerc.write_text("")
    (work / "run").mkdir(mode=0o700)
    # Byte-compiled, as an installed pinesh is: without .pyc files every start compiles
    # the sources again (this lab sets PYTHONDONTWRITEBYTECODE=1).
    inherited = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env = {
        **inherited,
        "PINESH_CONFIG": str(config),
        "PINERC": str(pinerc),
        "XDG_RUNTIME_DIR": str(work / "run"),
    }
    full = {**env, "PINESH_CONNECT_FAST": "0"}
    connect = [str(BIN / "pinesh-connect"), "lab", lab.user.name, "imap"]
    elsewhere = [str(BIN / "pinesh-connect"), "elsewhere.invalid", lab.user.name, "imap"]
    _to_greeting(connect, env)  # starts the master, writes the plan cache
    _to_exit(elsewhere, env)  # remembers that there is no route
    _to_greeting(connect, full)  # and compiles the full path's modules once
    pool = MasterPool(load_settings(str(config)).ssh)
    socket_path = pool.control_path(SshTarget("lab", lab.user.name, None, ()))
    assert pool.is_up(SshTarget("lab", lab.user.name, None, ())), "no master up for the raw channel"
    raw = [
        "ssh", *lab.ssh_options(), "-o", "BatchMode=yes", "-o", "ControlMaster=no",
        "-S", control_path_option(socket_path), "lab", "exec", IMAP,
    ]  # fmt: skip
    # The floor for any entry point written in Python: the interpreter's start, then ssh.
    exec_raw = [sys.executable, "-c", f"import os; os.execvp('ssh', {raw!r})"]
    # The same lean start without pip's console-script wrapper (which imports re first).
    unwrapped = [
        sys.executable, "-c",
        "import sys\nfrom pinesh.cli.main import connect_main\n"
        f"sys.argv[1:] = {connect[1:]!r}\nsys.exit(connect_main())",
    ]  # fmt: skip
    samples: dict[str, list[float]] = {
        "python": [],
        "unwrapped": [],
        "exec": [],
        "raw": [],
        "lean": [],
        "full": [],
        "none-lean": [],
        "none-full": [],
    }
    try:
        for _ in range(rounds):
            samples["python"].append(_to_exit_0([sys.executable, "-c", "pass"], env))
            samples["exec"].append(_to_greeting(exec_raw, env))
            samples["raw"].append(_to_greeting(raw, env))
            samples["lean"].append(_to_greeting(connect, env))
            samples["unwrapped"].append(_to_greeting(unwrapped, env))
            samples["full"].append(_to_greeting(connect, full))
            samples["none-lean"].append(_to_exit(elsewhere, env))
            samples["none-full"].append(_to_exit(elsewhere, full))
    finally:
        pool.stop()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    user = ensure_lab_user()
    prepare_preauth(user)
    lab = start_sshd(user, make_lab_dir("bench"))
    try:
        with short_dir("pc-") as work:
            try:
                samples = _measure(lab, work, args.rounds)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    finally:
        lab.stop()
    ssh_version = subprocess.run(
        ["ssh", "-V"], capture_output=True, text=True, check=False
    ).stderr.strip()
    rows = [
        ("`python -c pass` (the interpreter's start alone), to exit 0", "python"),
        ("`python -c 'os.execvp(\"ssh\", raw)'`, to the greeting", "exec"),
        ("raw `ssh -S SOCKET lab exec imap`, to the greeting", "raw"),
        ("`pinesh-connect lab USER imap`, lean start, to the greeting", "lean"),
        ("the same lean start without pip's script wrapper (`python -c`)", "unwrapped"),
        ("`pinesh-connect lab USER imap`, full path (PINESH_CONNECT_FAST=0)", "full"),
        ("no route: `pinesh-connect elsewhere ...`, lean start, to exit 1", "none-lean"),
        ("no route: `pinesh-connect elsewhere ...`, full path, to exit 1", "none-full"),
    ]
    raw_median = statistics.median(samples["raw"])
    print(f"machine: {platform.node()} {platform.machine()}, {ssh_version}, {args.rounds} rounds")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}\n")
    print("| what (master up, loopback) | median ms | min ms | p90 ms | median / raw median |")
    print("|---|---:|---:|---:|---:|")
    for name, key in rows:
        ratio = statistics.median(samples[key]) / raw_median
        print(f"| {name} | {_stats(samples[key])} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
