from __future__ import annotations

import os
from pathlib import Path

import pytest

from pinesh.atomic_file import replace_file


def test_a_new_file_gets_the_new_mode_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    path = tmp_path / "f"
    assert replace_file(path, b"one") == path
    assert path.read_bytes() == b"one" and path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o640)
    replace_file(path, b"two")
    assert path.read_bytes() == b"two" and path.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["f"]  # no temporary file left


def test_a_symlink_stays_a_link_to_the_replaced_file(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.write_bytes(b"old")
    link = tmp_path / "link"
    link.symlink_to(real)
    assert replace_file(link, b"new") == real
    assert link.is_symlink() and real.read_bytes() == b"new"


def test_a_failed_write_leaves_the_file_and_no_temporary(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "f"
    with pytest.raises(OSError):
        replace_file(missing, b"x")
    assert os.listdir(tmp_path) == []
