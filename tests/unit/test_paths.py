"""Where pinesh keeps its files (pinesh/paths.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinesh.paths import cache_dir, config_file, default_config_file, outbox_dir, state_dir


def test_the_state_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert state_dir() == tmp_path / "state" / "pinesh"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert state_dir() == tmp_path / "home" / ".local" / "state" / "pinesh"


def test_default_path_uses_xdg_config_home(clean_env: Path) -> None:
    assert default_config_file() == clean_env / "xdg" / "pinesh" / "config.toml"


def test_default_path_without_xdg(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert default_config_file() == clean_env / "home" / ".config" / "pinesh" / "config.toml"


def test_empty_xdg_counts_as_unset(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "")
    assert default_config_file() == clean_env / "home" / ".config" / "pinesh" / "config.toml"


def test_config_path_default(clean_env: Path) -> None:
    assert config_file(None) == (clean_env / "xdg" / "pinesh" / "config.toml", False)


def test_config_path_env_over_default(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PINESH_CONFIG", "/etc/pinesh-env.toml")
    assert config_file(None) == (Path("/etc/pinesh-env.toml"), True)


def test_config_path_option_over_env(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PINESH_CONFIG", "/etc/pinesh-env.toml")
    assert config_file("/etc/pinesh-option.toml") == (Path("/etc/pinesh-option.toml"), True)


def test_config_path_expands_tilde(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert config_file("~/my.toml") == (clean_env / "home" / "my.toml", True)
    monkeypatch.setenv("PINESH_CONFIG", "~/env.toml")
    assert config_file(None) == (clean_env / "home" / "env.toml", True)


def test_empty_env_counts_as_unset(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PINESH_CONFIG", "")
    assert config_file(None) == (clean_env / "xdg" / "pinesh" / "config.toml", False)


def test_the_outbox_is_in_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert outbox_dir() == tmp_path / "pinesh" / "outbox"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert outbox_dir() == tmp_path / "home" / ".local" / "share" / "pinesh" / "outbox"


def test_the_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache" / "pinesh"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "pinesh"
