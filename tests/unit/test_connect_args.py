"""`pinesh connect` takes every word as a value: option-like hosts and users are refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pinesh.cli.main import main

BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def private_runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `pinesh connect` remembers (connect_fast's plan cache) stays in tmp_path."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))


@pytest.mark.parametrize(
    ("words", "refused"),
    [
        (["mailhost", "-oX", "imap"], "refusing user name '-oX'"),
        (["-oProxyCommand=x", "jane", "imap"], "refusing host name '-oProxyCommand=x'"),
        (["mailhost", "--config", "imap"], "refusing user name '--config'"),
    ],
)
def test_connect_refuses_option_like_words_instead_of_argparse_error(
    words: list[str], refused: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["--config", str(tmp_path / "none.toml"), "connect", *words])
    err = capsys.readouterr().err
    assert code == 1
    assert refused in err
    assert "usage:" not in err


@pytest.mark.parametrize(
    ("words", "refused"),
    [
        (["mailhost", "-oX", "imap"], b"refusing user name '-oX'"),
        (["-oProxyCommand=x", "jane", "imap"], b"refusing host name '-oProxyCommand=x'"),
    ],
)
def test_pinesh_connect_script_refuses_option_like_words(
    words: list[str], refused: bytes, tmp_path: Path
) -> None:
    done = subprocess.run(
        [str(BIN / "pinesh-connect"), *words],
        capture_output=True,
        timeout=30,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 1
    assert refused in done.stderr
    assert b"usage:" not in done.stderr
    assert done.stdout == b""


def test_connect_double_dash_is_dropped_and_the_next_word_checked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["--config", str(tmp_path / "none.toml"), "connect", "--", "-x", "jane"])
    assert code == 1
    assert "refusing host name '-x'" in capsys.readouterr().err


def test_connect_help_is_still_there(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["connect", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: pinesh connect")
    assert "server" in out


@pytest.mark.parametrize("method", ["smtp", "nntp"])
def test_connect_without_rule_serves_only_imap_of_pinerc_servers(
    method: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[ssh]\npath = "{tmp_path / "no-ssh"}"\n')
    pinerc = tmp_path / "pinerc"
    pinerc.write_text("smtp-server=mail.example.org\nnntp-server=mail.example.org\n")
    code = main(["--config", str(config), "-p", str(pinerc), "connect", "mail.example.org"])
    assert code == 1  # imap: the pinerc does not read mail.example.org's IMAP
    code = main(
        ["--config", str(config), "-p", str(pinerc), "connect", "mail.example.org", "j", method]
    )
    assert code == 1
    assert capsys.readouterr().err.count("no ssh route to mail.example.org") == 2
