"""Time to decode text in a charset a message names: the codec run as named (what
pinesh did) and through the charset policy (stores/charsets.py).

    .venv/bin/python -m bench.bench_charsets

Bodies of 20 KB and 200 KB in punycode (quadratic), and a Subject of one 200 KB
punycode encoded word through decode_words (the index). Results go to stdout as
Markdown; docs/security.md quotes a run.
"""

from __future__ import annotations

import email.header
import functools
import sys
import time
from collections.abc import Callable

from pinesh.stores.charsets import decode
from pinesh.stores.headers import decode_words


def _seconds(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _codec_as_named(value: str) -> str:
    """decode_words as it was: each encoded word run through the codec it names."""
    return "".join(
        data.decode(charset or "ascii", "replace") if isinstance(data, bytes) else data
        for data, charset in email.header.decode_header(value)
    )


def main() -> None:
    print(f"Python {sys.version.split()[0]}\n")
    print("| input | codec as named | charset policy |")
    print("|---|---|---|")
    for kb in (20, 200):
        body = b"a" * (kb * 1000)  # no "-": all of it is deltas, each an insertion
        before = _seconds(functools.partial(body.decode, "punycode", "replace"))
        after = _seconds(functools.partial(decode, body, "punycode"))
        print(f"| {kb} KB body, `charset=punycode` | {before:.2f} s | {after:.4f} s |", flush=True)
    subject = "=?punycode?q?" + "a" * 200_000 + "?="
    before = _seconds(lambda: _codec_as_named(subject))
    after = _seconds(lambda: decode_words(subject))
    print(f"| 200 KB Subject `=?punycode?q?...?=` | {before:.2f} s | {after:.4f} s |")


if __name__ == "__main__":
    main()
