"""Painting an IMAP index from the header cache alone, at 1k, 100k and 1M messages: time
from launch to the first index on screen, to the "Offline" status, and pinesh's peak RSS.

    nice -n 19 .venv/bin/python -m bench.bench_cache_paint [--sizes 1000,100000,1000000]
        [--rounds 3] [--show] [--source DIR]

For each size, a cache file is filled directly through the MailboxCache API, opened the
way pinesh opens it (MailSession.header_cache of the mailbox's server, in a temporary
XDG_CACHE_HOME): reset, set_uids (UIDs 1..N, every fifth unseen), put_envelopes for the
first and the last WINDOW messages (where the index starts: the first unseen, and the
newest), set_state. Then `pinesh -f '{x/user=x}INBOX'` runs under tmux (bench/screen.py)
with a rule for host x that has no route at all (`via = "direct"`, `fallback = []`):
the server cannot be reached, so the index shown is the cache's, its status line turning
to "Offline" when the open has failed. Timed from just before `tmux new-session` to the
title's "of N" with ten index lines on screen, and to "Offline" on it; the peak RSS is
VmHWM of the pinesh process read after "Offline". No network, no lab, no root needed.
--source runs pinesh from another source tree (PYTHONPATH; e.g. an older commit's src from
`git archive`), for a before/after comparison; the cache is filled by this one.
Results go to stdout as Markdown; docs/benchmarks.md ("The header cache") quotes a run.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_header_cache import bench_envelope
from bench.screen import BIN, Launch, Variant, count_shown, launch
from pinesh.config.pine_settings import pine_settings
from pinesh.services.connections import load_connections
from pinesh.services.mail import MailSession
from pinesh.stores.base import Envelope

WINDOW = 200  # envelopes kept at each end of the mailbox (the index shows ~40 rows)
MAILBOX = "{x/user=x}INBOX"
CONFIG = """state_dir = "{work}/state"

[ssh]
control_dir = "{work}/ctl"

[[rule]]
servers = ["x"]
services = ["imap"]
via = "direct"
fallback = []
"""


def _envelope(uid: int, unseen: bool) -> Envelope:
    return bench_envelope(uid, unseen)


def fill(work: Path, count: int) -> float:
    """A cache of count messages for MAILBOX under work/cache; seconds it took."""
    os.environ["XDG_CACHE_HOME"] = str(work / "cache")  # where MailSession looks
    began = time.perf_counter()
    connections = load_connections(str(work / "config.toml"), str(work / "pinerc"))
    session = MailSession(connections, pine_settings(connections.pinerc), data_dir=work / "data")
    mailbox = session.parse(MAILBOX)
    assert mailbox.server is not None
    cache = session.header_cache(mailbox.server)
    if cache is None:
        raise RuntimeError(f"no header cache: {session.cache_problem}")
    box = cache.mailbox(mailbox.mailbox)
    box.reset(1)
    uids = range(1, count + 1)
    box.set_uids(uids, (u for u in uids if u % 5 == 0))
    ends = sorted(
        {*range(1, min(WINDOW, count) + 1), *range(max(1, count - WINDOW + 1), count + 1)}
    )
    box.put_envelopes(_envelope(u, u % 5 == 0) for u in ends)
    box.set_state(uidnext=count + 1, highestmodseq=count + 1)
    cache.close()
    return time.perf_counter() - began


def _offline(screen: str) -> bool:
    return "Offline" in screen


def one_size(
    count: int, rounds: int, show: bool, source: str | None
) -> tuple[float, list[Launch], float]:
    """Fill seconds, the launches, and the cache file's MB."""
    work = Path(tempfile.mkdtemp(prefix="pn-paint-", dir="/tmp"))
    try:
        (work / "config.toml").write_text(CONFIG.format(work=work))
        (work / "pinerc").write_text(f"user-domain=example.org\ninbox-path={MAILBOX}\n")
        seconds = fill(work, count)
        size = sum(p.stat().st_size for p in (work / "cache").rglob("*") if p.is_file())
        env = {
            "HOME": str(work),
            "XDG_CACHE_HOME": str(work / "cache"),
            "PINESH_CONFIG": str(work / "config.toml"),
            "PINESH_CLIENT_SERVER": "0",
            "TERM": "xterm-256color",
            "PYTHONPYCACHEPREFIX": str(work / "pycache"),
        }
        if source:
            env["PYTHONPATH"] = source
        argv = [str(BIN / "pinesh"), "-p", str(work / "pinerc"), "-f", MAILBOX]
        variant = Variant(f"{count}", argv, env, count_shown(count), None, confirmed=_offline)
        launch(variant, timeout=120)  # unmeasured: bytecode, the page cache
        launches = [launch(variant, show=show, timeout=120) for _ in range(rounds)]
        return seconds, launches, size / 2**20
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--show", action="store_true", help="print each screen to stderr")
    parser.add_argument("--source", help="run pinesh from this source tree (PYTHONPATH)")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores; "
          f"{platform.platform()}; Python {platform.python_version()}; load before "
          f"{load[0]:.2f}; {args.rounds} launches per size after one unmeasured\n")  # fmt: skip
    print("| messages | cache fill s | cache file MB | first index s (median, min-max) | "
          "Offline shown s (median) | peak RSS MB (median, max) |")  # fmt: skip
    print("|---:|---:|---:|---|---:|---|")
    for count in (int(word) for word in args.sizes.split(",")):
        filled, launches, size = one_size(count, args.rounds, args.show, args.source)
        first = [x.seconds for x in launches]
        offline = [x.confirmed for x in launches if x.confirmed is not None]
        rss = [x.rss_mb for x in launches]
        print(f"| {count:,} | {filled:.2f} | {size:.1f} | {statistics.median(first):.3f} "
              f"({min(first):.3f}-{max(first):.3f}) | {statistics.median(offline):.3f} | "
              f"{statistics.median(rss):.0f} ({max(rss):.0f}) |", flush=True)  # fmt: skip
    print(f"\nload after {os.getloadavg()[0]:.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
