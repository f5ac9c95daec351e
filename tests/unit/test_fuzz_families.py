"""The fuzzing suite's short form (tests/fuzz): every parser family for a few thousand
inputs under atheris, and how its report tells crashes, slow inputs and broken invariants
apart. The recorded long run and its figures are in docs/security.md."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.run import FAMILIES, ROOT, _result

INPUTS = 3000  # per family: the whole run stays well under a minute on two cores
OVERSHOOT = 10  # inputs libFuzzer may run past -runs (see the test)


def test_every_family_runs_its_inputs_without_a_finding(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.run", f"--inputs={INPUTS}", "--seed=1",
         f"--findings={tmp_path}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {line.split()[0]: line.split()[1:5] for line in proc.stdout.splitlines()[1:]}
    assert sorted(rows) == sorted(FAMILIES)
    for family, (inputs, *findings) in rows.items():
        # libFuzzer's count can end a few past -runs: under load a run was seen to stop at
        # 3,005 of 3,000, with the same inputs as an unloaded run up to #2,991.
        assert INPUTS <= int(inputs) < INPUTS + OVERSHOOT, family
        assert findings == ["0", "0", "0"], family
    saved = sorted(p.name for p in tmp_path.iterdir())
    # Only libFuzzer's running output is kept for a clean family: no input, no report.
    assert saved == sorted(f"{family}-output.txt" for family in FAMILIES)


# What atheris and libFuzzer print, cut to the lines the report reads.
CRASH = """\
#4096\tpulse  cov: 258 ft: 606 corp: 89/9226b lim: 308 exec/s: 2048 rss: 50Mb
 === Uncaught Python exception: ===
ValueError: embedded null character
Traceback (most recent call last):
==10569== ERROR: libFuzzer: fuzz target exited
artifact_prefix='/f/imap-'; Test unit written to /f/imap-crash-f258
"""
BROKEN = """\
#1403\tNEW    cov: 90 ft: 300 corp: 40/2000b lim: 300 exec/s: 700 rss: 50Mb
 === Uncaught Python exception: ===
InvariantBroken: a message reads back changed: b'x'
==19086== ERROR: libFuzzer: fuzz target exited
artifact_prefix='/f/mbox-'; Test unit written to /f/mbox-crash-eb50
"""
SLOW = """\
#77\tNEW    cov: 9 ft: 9 corp: 2/4b lim: 4 exec/s: 0 rss: 40Mb
 === Timeout: 2s elapsed, timeout=1s ===
ALARM: working on the last Unit for 2 seconds
artifact_prefix='/f/mime-'; Test unit written to /f/mime-timeout-cbb3
==26211== ERROR: libFuzzer: timeout after 2 seconds
"""
CLEAN = (
    "#3000\tDONE   cov: 258 ft: 638 corp: 97/10528b exec/s: 3000\nDone 3000 runs in 1 second(s)\n"
)


@pytest.mark.parametrize(
    ("output", "code", "counts"),
    [
        (CRASH, 77, (4096, 1, 0, 0)),
        (BROKEN, 77, (1403, 0, 0, 1)),
        (SLOW, 70, (77, 0, 1, 0)),
        (CLEAN, 0, (3000, 0, 0, 0)),
    ],
)
def test_the_report_tells_findings_apart(
    output: str, code: int, counts: tuple[int, int, int, int], tmp_path: Path
) -> None:
    result = _result("x", code, output, 1.0, tmp_path)
    assert (result.inputs, result.crashes, result.slow, result.broken) == counts
    assert result.clean == (code == 0)
    if code:
        assert result.finding is not None and "Test unit written to /f/" in result.finding
        assert "#" not in result.finding.splitlines()[0]  # progress lines are left out


def test_jobs_split_a_familys_inputs_and_the_row_sums_them(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.run", "--inputs=1001", "--jobs=2", "--seed=1",
         "--family=config", f"--findings={tmp_path}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[1].split()[:5] == ["config", "1001", "0", "0", "0"]
    outputs = sorted(p.name for p in tmp_path.iterdir())
    assert outputs == ["config-output-1.txt", "config-output-2.txt"]
    runs = sorted(
        re.search(r"Done (\d+) runs", (tmp_path / name).read_text())[1]  # type: ignore[index]
        for name in outputs
    )
    assert runs == ["500", "501"]
