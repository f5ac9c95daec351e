"""Run the fuzz targets: ``python -m tests.fuzz.run --inputs N [--family F ...]``.

Each family runs in its own atheris process for N inputs, from a corpus seeded with its
literal transcripts (the family's SEEDS and, for the message families, the hostile
messages in tests/corpus/hostile). Per family it prints the inputs run, crashes, inputs
slower than 1 s, broken invariants and the time taken; it exits 1 on any finding, with the
input that caused it saved under --findings. libFuzzer stops a family at its first
finding, so a count is 0 or 1. While a family runs, libFuzzer's own output (its progress
lines included) is written to FINDINGS/FAMILY-output.txt.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ROOT / "tests" / "corpus" / "hostile"
FAMILIES = ("greetings", "imap", "nntp", "smtp", "mime", "mbox", "config", "textsafe")
# Families whose inputs are whole messages: the hostile corpus seeds them too.
MESSAGE_FAMILIES = {"mime": 0, "mbox": 0}
MAX_LEN = 8192  # bytes of one input: enough for every grammar, small enough to run fast
SLOW = 1  # seconds: an input that takes longer is a finding (libFuzzer's -timeout)

_DONE = re.compile(r"Done (\d+) runs in (\d+) second")
_PROGRESS = re.compile(r"^#(\d+)\s", re.MULTILINE)
_UNCAUGHT = re.compile(r"=== Uncaught Python exception: ===\n(\w+)")


@dataclass
class Result:
    family: str
    inputs: int
    crashes: int
    slow: int
    broken: int
    seconds: float
    finding: str | None  # what libFuzzer reported, and where the input was saved

    @property
    def clean(self) -> bool:
        return not (self.crashes or self.slow or self.broken) and self.finding is None


def seed_corpus(family: str, into: Path) -> int:
    """Write the family's seeds (and the hostile messages for message families) into;
    the longest input the family takes (its MAX_LEN, else run.MAX_LEN)."""
    module = importlib.import_module(f"tests.fuzz.fuzz_{family}")
    max_len: int = getattr(module, "MAX_LEN", MAX_LEN)
    seeds: list[bytes] = list(module.SEEDS)
    if family in MESSAGE_FAMILIES:
        selectors = getattr(module, "MESSAGE_SELECTORS", (0,))
        for path in sorted(HOSTILE.glob("*.eml")):
            message = path.read_bytes()[: max_len - 1]
            seeds += [bytes([s]) + message for s in selectors]
    for index, seed in enumerate(seeds):
        (into / f"seed-{index:04d}").write_bytes(seed)
    return max_len


def run_family(family: str, inputs: int, findings: Path, seed: int | None, jobs: int = 1) -> Result:
    """Run one family for inputs inputs under atheris, split over jobs libFuzzer processes
    run side by side (seeds seed, seed + 1, ...; one shared seed corpus); the Result sums
    their reports."""
    findings.mkdir(parents=True, exist_ok=True)
    shares = [inputs // jobs + (1 if i < inputs % jobs else 0) for i in range(jobs)]
    with tempfile.TemporaryDirectory(prefix=f"pinesh-fuzz-{family}-") as corpus:
        max_len = seed_corpus(family, Path(corpus))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
        start = time.monotonic()
        running = []
        for job, share in enumerate(shares):
            argv = [
                sys.executable,
                "-m",
                "tests.fuzz.worker",
                family,
                f"-runs={share}",
                f"-timeout={SLOW}",
                f"-max_len={max_len}",
                "-rss_limit_mb=2048",
                "-print_final_stats=1",
                f"-artifact_prefix={findings}/{family}-",
                corpus,
            ]
            if seed is not None:
                argv.insert(5, f"-seed={seed + job}")
            # libFuzzer's output goes to a file as it runs, not to a pipe read at the end,
            # so a long family's progress ("#N pulse ... exec/s") can be watched (tail -f).
            name = f"{family}-output.txt" if jobs == 1 else f"{family}-output-{job + 1}.txt"
            live = findings / name
            with live.open("w") as out:
                proc = subprocess.Popen(
                    argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
                )
            running.append((proc, live))
        codes = [proc.wait() for proc, _ in running]
        seconds = time.monotonic() - start
    results = [
        _result(family, code, live.read_text(errors="replace"), seconds, findings)
        for code, (_, live) in zip(codes, running, strict=True)
    ]
    return Result(
        family,
        sum(r.inputs for r in results),
        sum(r.crashes for r in results),
        sum(r.slow for r in results),
        sum(r.broken for r in results),
        seconds,
        "\n".join(r.finding for r in results if r.finding) or None,
    )


def _result(family: str, code: int, output: str, seconds: float, findings: Path) -> Result:
    done = _DONE.search(output)
    progress = [int(n) for n in _PROGRESS.findall(output)]
    inputs = int(done[1]) if done else max(progress, default=0)
    crashes = slow = broken = 0
    finding = None
    if code != 0 or not done:
        uncaught = _UNCAUGHT.search(output)
        if "libFuzzer: timeout" in output:
            slow = 1
        elif uncaught and uncaught[1] == "InvariantBroken":
            broken = 1
        else:
            crashes = 1  # an exception the parser may not raise, or a crash of the process
        saved = re.findall(r"Test unit written to (\S+)", output)
        finding = f"{_report(output)}\n(saved: {', '.join(saved) or 'nothing'}; exit {code})"
        log = findings / f"{family}-report.txt"
        log.write_text(output)
    return Result(family, inputs, crashes, slow, broken, seconds, finding)


_REPORT_STARTS = ("Uncaught Python exception", "=== Timeout", "ERROR:")


def _report(output: str) -> str:
    """What libFuzzer and atheris said about a finding, without the progress lines."""
    lines = output.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if any(m in line for m in _REPORT_STARTS)),
        max(len(lines) - 40, 0),
    )
    kept = [line for line in lines[start:] if not line.startswith(("#", "INFO:", "stat::"))]
    return "\n".join(kept[:60])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--inputs", type=int, default=100_000, help="inputs per family")
    parser.add_argument("--family", action="append", choices=FAMILIES, help="default: all")
    parser.add_argument("--findings", type=Path, default=ROOT / "fuzz-findings")
    parser.add_argument("--seed", type=int, help="libFuzzer's random seed (default: random)")
    parser.add_argument(
        "--jobs", type=int, default=1, help="libFuzzer processes per family, side by side"
    )
    args = parser.parse_args(argv)
    print(f"{'family':<10} {'inputs':>10} {'crashes':>8} {'>1 s':>5} {'broken':>7} {'elapsed':>9}")
    failed = False
    for family in args.family or FAMILIES:
        result = run_family(family, args.inputs, args.findings, args.seed, args.jobs)
        print(
            f"{family:<10} {result.inputs:>10} {result.crashes:>8} {result.slow:>5} "
            f"{result.broken:>7} {result.seconds:>8.1f}s",
            flush=True,
        )
        if not result.clean:
            failed = True
            print(result.finding, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
