"""`pinesh connect`'s lean start (pinesh/connect_fast.py) against the lab's sshd and Dovecot.

The full path rewrites the plan cache on every run (a new file renamed into place), so a
cache file whose inode and mtime did not move proves that only the lean start ran.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pinesh import connect_fast
from tests.integration.helpers import PREAUTH_RULE, short_dir, write_config
from tests.lab.dovecot import LabDovecot
from tests.lab.sshd import LabSshd

BIN = Path(sys.executable).parent
IMAP_SESSION = b"a1 SELECT INBOX\r\na2 LOGOUT\r\n"


@pytest.fixture
def work(sshd: LabSshd) -> Iterator[Path]:
    with short_dir() as path:
        (path / "run").mkdir(mode=0o700)
        yield path
        config = path / "config.toml"
        if config.exists():
            subprocess.run(
                [str(BIN / "pinesh"), "--config", str(config), "ssh", "stop"],
                capture_output=True,
                timeout=30,
                check=False,
            )


def _env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PINERC", "PINESH_CONNECT_FAST")}
    env.update(
        PINESH_CONFIG=str(work / "config.toml"),
        HOME=str(work),
        XDG_RUNTIME_DIR=str(work / "run"),
    )
    return env


def _connect(work: Path, *words: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(BIN / "pinesh-connect"), *words],
        input=IMAP_SESSION,
        capture_output=True,
        env=_env(work),
        timeout=30,
        check=False,
    )


def _cache(work: Path) -> Path:
    return work / "run" / "pinesh" / connect_fast.PLAN_FILE


def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_ino, info.st_mtime_ns


def _preauth_session_ok(done: subprocess.CompletedProcess[bytes]) -> None:
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"* PREAUTH "), done.stdout
    assert b"a1 OK" in done.stdout and b"a2 OK" in done.stdout


def test_a_second_connect_is_served_by_the_lean_start(
    sshd: LabSshd, dovecot: LabDovecot, work: Path
) -> None:
    write_config(sshd, work, PREAUTH_RULE)
    auths, logins = sshd.authentications(), dovecot.logins()
    _preauth_session_ok(_connect(work, "lab", sshd.user.name, "imap"))
    (entry,) = connect_fast.read_entries(str(work / "run" / "pinesh"))
    assert entry[8:10] == ["ssh", "preauth"]
    stamp = _stamp(_cache(work))
    for _ in range(3):
        _preauth_session_ok(_connect(work, "lab", sshd.user.name, "imap"))
    assert _stamp(_cache(work)) == stamp  # the full path never ran
    assert sshd.authentications() - auths == 1  # all four rode the one master
    assert dovecot.logins() == logins


def test_a_server_without_a_route_exits_1_from_the_lean_start(sshd: LabSshd, work: Path) -> None:
    write_config(sshd, work, PREAUTH_RULE)
    first = _connect(work, "elsewhere.invalid", sshd.user.name, "imap")
    stamp = _stamp(_cache(work))
    second = _connect(work, "elsewhere.invalid", sshd.user.name, "imap")
    assert first.returncode == second.returncode == 1
    assert first.stdout == second.stdout == b""
    said = b"pinesh connect: no ssh route to elsewhere.invalid for imap; the client should go on\n"
    assert first.stderr == second.stderr == said
    assert _stamp(_cache(work)) == stamp


def test_an_edited_config_sends_the_next_connect_to_the_full_path(
    sshd: LabSshd, dovecot: LabDovecot, work: Path
) -> None:
    config = write_config(sshd, work, "")
    assert _connect(work, "lab", sshd.user.name, "imap").returncode == 1  # no rule yet
    config.write_text(config.read_text() + PREAUTH_RULE)
    _preauth_session_ok(_connect(work, "lab", sshd.user.name, "imap"))


def test_with_its_master_gone_the_full_path_starts_another(
    sshd: LabSshd, dovecot: LabDovecot, work: Path
) -> None:
    config = write_config(sshd, work, PREAUTH_RULE)
    _preauth_session_ok(_connect(work, "lab", sshd.user.name, "imap"))
    stopped = subprocess.run(
        [str(BIN / "pinesh"), "--config", str(config), "ssh", "stop"],
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert b"stopped" in stopped.stdout
    auths = sshd.authentications()
    stamp = _stamp(_cache(work))
    _preauth_session_ok(_connect(work, "lab", sshd.user.name, "imap"))
    assert sshd.authentications() - auths == 1
    assert _stamp(_cache(work)) != stamp  # the full path ran, and remembered again


def test_a_remembered_route_whose_greeting_does_not_check_is_not_relayed(
    sshd: LabSshd, dovecot: LabDovecot, work: Path
) -> None:
    """A cache entry made to run something that greets "* OK" where PREAUTH is required:
    the lean start refuses that greeting, and the full path serves the connect instead."""
    write_config(sshd, work, PREAUTH_RULE)
    _preauth_session_ok(_connect(work, "lab", sshd.user.name, "imap"))
    directory = str(work / "run" / "pinesh")
    (entry,) = connect_fast.read_entries(directory)
    forged = [*entry[:-1], "printf", "'* OK forged\\r\\n'"]
    connect_fast.write_entry(directory, entry[:6], forged[6:])
    assert connect_fast.read_entries(directory)[0][-2:] == ["printf", "'* OK forged\\r\\n'"]
    done = _connect(work, "lab", sshd.user.name, "imap")
    _preauth_session_ok(done)
    assert b"forged" not in done.stdout
    assert connect_fast.read_entries(directory)[0][-1] != "'* OK forged\\r\\n'"  # rewritten


LEAN_RUN = """
import sys
before = set(sys.modules)
from pinesh.cli.main import connect_main
sys.argv[1:] = {words!r}
code = connect_main()
print(sorted(set(sys.modules) - before), file=sys.stderr)
sys.exit(code)
"""


def test_the_lean_start_relays_a_session_importing_no_layer(
    sshd: LabSshd, dovecot: LabDovecot, work: Path
) -> None:
    write_config(sshd, work, PREAUTH_RULE)
    _preauth_session_ok(_connect(work, "lab", sshd.user.name, "imap"))
    done = subprocess.run(
        [sys.executable, "-c", LEAN_RUN.format(words=["lab", sshd.user.name, "imap"])],
        input=IMAP_SESSION,
        capture_output=True,
        env=_env(work),
        timeout=30,
        check=False,
    )
    _preauth_session_ok(done)
    imported = done.stderr.decode().strip().splitlines()[-1]
    added = [name.strip(" '") for name in imported.strip("[]").split(",")]
    assert [m for m in added if m.startswith("pinesh")] == [
        "pinesh", "pinesh.cli", "pinesh.cli.main", "pinesh.connect_fast",
    ]  # fmt: skip
    # today also __future__, itertools, _socket, select (time and _thread are loaded at start)
    assert len(added) <= 10, added
