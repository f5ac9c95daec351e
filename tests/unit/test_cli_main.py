"""The pinesh command run as a program: what it writes to a terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_a_terminal_that_cannot_show_a_character_gets_an_escape(tmp_path: Path) -> None:
    box = tmp_path / "cjk"
    box.write_bytes(
        b"From a@b Mon Jan  1 00:00:00 2024\nFrom: a@b\nSubject: =?utf-8?b?5pel5pys?=\n\nbody\n\n"
    )
    done = subprocess.run(
        [str(Path(sys.executable).parent / "pinesh"), "-p", "/dev/null", "index", str(box)],
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "latin-1", "HOME": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert b"\\u65e5\\u672c" in done.stdout


def test_show_reads_a_message_whose_charset_has_a_nul(tmp_path: Path) -> None:
    box = tmp_path / "nul"
    box.write_bytes(
        b"From a@b Mon Dec  7 10:00:00 2026\nFrom: a@example.org\nSubject: nul charset\n"
        b"MIME-Version: 1.0\nContent-Type: text/plain; charset*=us-ascii''utf%00-8\n\n"
        b"Hello, NUL charset body.\n\n"
    )
    done = subprocess.run(
        [str(Path(sys.executable).parent / "pinesh"), "-p", "/dev/null", "show", str(box), "1"],
        capture_output=True,
        env={**os.environ, "HOME": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert b"Hello, NUL charset body." in done.stdout
    assert b"[charset 'utf\\x00-8' not accepted; shown as UTF-8]" in done.stdout
    assert b"Traceback" not in done.stderr
