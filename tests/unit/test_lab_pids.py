"""The lab signals a pid from a pid file only when that pid still runs the program named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.lab.common import live_program


def _comm(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def test_a_live_process_is_known_by_its_program_name() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert live_program(child.pid, "sleep")
        # A stale innd.pid naming this pid must not make it a target.
        assert not live_program(child.pid, "innd")
    finally:
        child.kill()
        child.wait()


def test_a_zombie_and_a_gone_pid_are_not_running() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    name = _comm(child.pid)
    # Not reaped yet: a zombie once it exits.
    for _ in range(200):
        if "Z" in Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[-1].split()[:1]:
            break
        subprocess.run(["sleep", "0.01"], check=True)
    assert not live_program(child.pid, name)
    child.wait()
    assert not live_program(child.pid, name)


def test_names_are_compared_as_the_kernel_cuts_them() -> None:
    """comm holds 15 characters; a longer program name matches its first 15."""
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert not live_program(child.pid, "sleep-and-more-than-fifteen")
    finally:
        child.kill()
        child.wait()


def test_without_a_name_any_live_process_counts() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert live_program(child.pid)
    finally:
        child.kill()
        child.wait()
    assert not live_program(child.pid)
