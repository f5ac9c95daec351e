"""The header cache (stores/cache) at 1k, 100k and 1M messages in one mailbox: set_uids
(first fill, unchanged, and a typical reopening: 100 new, 100 expunged, 1% SEEN changed),
uids(), unseen_count(), envelopes() of a 50-row window, and peak RSS.

    nice -n 19 .venv/bin/python -m bench.bench_header_cache [--sizes 1000,100000,1000000]

Each size runs in a fresh child process (its peak RSS is its own) on a cache file in a
temporary directory. put_envelopes fills every message's envelope in batches of 10,000
first (the window then reads from a table of N envelopes). Results go to stdout as a
Markdown table; docs/stores.md ("The header cache") quotes a run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pinesh.stores.base import Address, Envelope, Flag
from pinesh.stores.cache.header_cache import HeaderCache

BATCH = 10_000


def _seconds(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def bench_envelope(uid: int, unseen: bool) -> Envelope:
    """A plausible envelope for message uid (bench_cache_paint fills its cache with these)."""
    return Envelope(
        uid=uid,
        date=datetime(2026, 1, 1, tzinfo=UTC),
        sender=(Address("Some Sender", f"sender{uid % 977}@example.org"),),
        to=(Address("", "me@example.org"),),
        cc=(),
        subject=f"Message number {uid} about something or other",
        message_id=f"<{uid}.bench@example.org>",
        in_reply_to=None,
        references=(),
        size=4000 + uid % 5000,
        flags=frozenset() if unseen else frozenset({Flag.SEEN}),
    )


def _envelope(uid: int) -> Envelope:
    return bench_envelope(uid, unseen=not uid % 10)


def _one(size: int) -> dict[str, float]:
    """The figures of one size, measured in this process."""
    with tempfile.TemporaryDirectory() as tmp:
        cache = HeaderCache.open(Path(tmp), "imap://bench@example.org:993")
        box = cache.mailbox("INBOX")
        box.reset(1)
        uids = list(range(1, size + 1))
        unseen = uids[::10]
        figures = {"fill": _seconds(lambda: box.set_uids(uids, unseen))}
        figures["same"] = _seconds(lambda: box.set_uids(uids, unseen))
        # Reopening after a day: 100 expunged in the middle, 100 new, 1% read elsewhere.
        middle = size // 2
        gone = set(range(middle, middle + min(100, size // 10)))
        later = [uid for uid in uids if uid not in gone] + list(range(size + 1, size + 101))
        later_unseen = [uid for uid in later[::10] if uid % 1000 >= 10]
        figures["reopen"] = _seconds(lambda: box.set_uids(later, later_unseen))
        listed: list[int] = []
        figures["uids"] = _seconds(lambda: listed.extend(box.uids()))
        assert len(listed) == len(later)
        figures["unseen_count"] = _seconds(box.unseen_count)
        put = 0.0
        for start in range(1, size + 1, BATCH):
            batch = [_envelope(uid) for uid in range(start, min(start + BATCH, size + 1))]
            put += _seconds(lambda batch=batch: box.put_envelopes(batch))  # type: ignore[misc]
        figures["put_10k"] = put / max(1, size / BATCH)
        window = later[middle - 25 : middle + 25]
        figures["window"] = _seconds(lambda: box.envelopes(window))
        assert cache.problem is None, cache.problem
        cache.close()
        figures["file_mb"] = (
            sum(path.stat().st_size for path in Path(tmp).rglob("*") if path.is_file()) / 2**20
        )
    figures["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_one(args.one)))
        return
    print(
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version},"
        f" {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}\n"
    )
    print(
        "| messages | set_uids first fill | set_uids unchanged | set_uids reopen"
        " | uids() | unseen_count() | envelopes() of 50 | put_envelopes per 10k"
        " | file | peak RSS |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in (int(text) for text in args.sizes.split(",")):
        child = subprocess.run(
            [sys.executable, "-m", "bench.bench_header_cache", "--one", str(size)],
            check=True,
            capture_output=True,
            text=True,
        )
        f = json.loads(child.stdout)
        ms = {key: f"{value * 1000:.1f} ms" for key, value in f.items()}
        print(
            f"| {size:,} | {ms['fill']} | {ms['same']} | {ms['reopen']} | {ms['uids']}"
            f" | {ms['unseen_count']} | {ms['window']} | {ms['put_10k']}"
            f" | {f['file_mb']:.1f} MB | {f['rss_mb']:.0f} MB |",
            flush=True,
        )


if __name__ == "__main__":
    main()
