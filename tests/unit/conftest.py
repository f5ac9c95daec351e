"""Fixtures shared by the unit tests of several modules."""

from __future__ import annotations

import encodings.punycode
from pathlib import Path

import pytest


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No PINESH_CONFIG, XDG_CONFIG_HOME and HOME in tmp_path."""
    monkeypatch.delenv("PINESH_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path as $HOME, with "me" as the login name: files the user owns land there."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr("getpass.getuser", lambda: "me")
    return tmp_path


@pytest.fixture
def punycode_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The lengths of what the punycode codec is asked to decode (it then returns "")."""
    runs: list[int] = []

    def counted(text: bytes, errors: str) -> str:
        runs.append(len(text))
        return ""

    monkeypatch.setattr(encodings.punycode, "punycode_decode", counted)
    assert b"abc-".decode("punycode") == ""  # the patch holds: a run would be counted
    runs.clear()
    return runs
