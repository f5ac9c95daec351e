"""The header cache's own costs at 100,000 and 1,000,000 messages, without a server.

    .venv/bin/python -m bench.bench_cache_reads [--sizes 100000,1000000]

For each size, in a fresh cache file under a temporary directory: the first fill
(`MailboxCache.set_uids` of UIDs 1..N, every fifth unseen, into an empty mailbox, as the
first opening of a mailbox does), the same call again (an unchanged mailbox's resync), then,
with the file closed and opened again, what painting the index reads first: `uids()`,
their conversion to C ints (`cache_folder._compact`), `unseen()` and `unseen_count()`.
Seconds, one run each; docs/benchmarks.md quotes them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from pinesh.stores.cache.cache_folder import _compact
from pinesh.stores.cache.header_cache import HeaderCache


def measure(root: Path, count: int) -> dict[str, float]:
    """The seconds of each step for a mailbox of count messages."""
    key = f"imap://bench@cache{count}:143"
    uids = list(range(1, count + 1))
    unseen = uids[::5]
    cache = HeaderCache.open(root, key)
    box = cache.mailbox("INBOX")
    box.reset(1)
    times: dict[str, float] = {}
    start = time.perf_counter()
    box.set_uids(uids, unseen)
    times["first fill"] = time.perf_counter() - start
    box.set_state(uidnext=count + 1, highestmodseq=1)
    start = time.perf_counter()
    box.set_uids(uids, unseen)
    times["unchanged resync"] = time.perf_counter() - start
    cache.close()
    box = HeaderCache.open(root, key).mailbox("INBOX")
    start = time.perf_counter()
    listed = box.uids()
    times["uids()"] = time.perf_counter() - start
    start = time.perf_counter()
    _compact(listed)
    times["to C ints"] = time.perf_counter() - start
    start = time.perf_counter()
    box.unseen()
    times["unseen()"] = time.perf_counter() - start
    start = time.perf_counter()
    box.unseen_count()
    times["unseen_count()"] = time.perf_counter() - start
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pinesh-cache-bench-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o700)
        for count in (int(n) for n in args.sizes.split(",")):
            times = measure(root, count)
            print(f"{count:>9,} messages: " + ", ".join(f"{k} {v:.3f} s" for k, v in times.items()))


if __name__ == "__main__":
    main()
