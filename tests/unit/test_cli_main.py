"""The pinesh command run as a program: what it writes to a terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pinesh.cli.main import ClientStart
from pinesh.services.mail import MailSession
from pinesh.stores.base import Reopened


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


def test_a_reopened_connection_is_noted_on_stderr_beside_the_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pinesh.cli import folders, main

    def folders_during_which_a_connection_dropped(
        session: MailSession, label: str | None, as_json: bool
    ) -> int:
        # What a store's connection does from inside a command: tell the session.
        session._tell_reopened(Reopened("mail.example.org", "IMAP INBOX", "EOF\x1b[2J"))
        print("the folders")
        return 0

    monkeypatch.setattr(folders, "run_folders", folders_during_which_a_connection_dropped)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PINESH_CONFIG", raising=False)
    assert main.main(["-p", "/dev/null", "folders"]) == 0
    out, err = capsys.readouterr()
    assert out == "the folders\n"  # the result alone: scripts read it as before
    assert err == (
        "pinesh: note: Connection to mail.example.org (IMAP INBOX) dropped (EOF\\x1b[2J); "
        "reopened\n"
    )


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


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ClientStart()),
        (["-f", "INBOX"], ClientStart(folder="INBOX")),
        (
            ["-p", "rc", "-f", "{lab}INBOX", "--config", "c.toml"],
            ClientStart("c.toml", "rc", "{lab}INBOX"),
        ),
        (["--config=c.toml", "-f", "a", "-f", "b"], ClientStart("c.toml", folder="b")),  # last
        (["-i"], ClientStart(folder="INBOX")),  # Alpine's -i: start in INBOX's index
        (["-i", "-f", "news"], ClientStart(folder="news")),  # ... or -f's
        (["-p", "rc", "-i"], ClientStart(pinerc="rc", folder="INBOX")),
        (["-i", "-n", "13"], ClientStart(folder="INBOX", number=13)),  # Alpine's -n
        (["-n", "2"], ClientStart(number=2)),  # the index starts there when opened
        (["-I", "i,j,1,3,CR,v"], ClientStart(keys="i,j,1,3,CR,v")),  # Alpine's -I
    ],
)
def test_a_plain_client_command_line_is_read_without_argparse(
    argv: list[str], expected: ClientStart
) -> None:
    from pinesh.cli.main import _plain_client

    assert _plain_client(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["index", "INBOX"],
        ["--version"],
        ["-h"],
        ["-f"],  # argparse reports the missing value
        ["-f", "-p"],  # ...and an option where a value should be
        ["-fINBOX"],  # forms argparse reads its own way are left to it
        ["-f=INBOX"],
        ["--conf", "c.toml"],  # an abbreviation
        ["--json"],
        ["-f", "INBOX", "connect", "lab"],
        ["-n", "0"],  # argparse says a message number starts at 1
        ["-n", "x"],
        ["-n"],
    ],
)
def test_anything_but_a_plain_client_command_line_goes_to_argparse(argv: list[str]) -> None:
    from pinesh.cli.main import _plain_client

    assert _plain_client(argv) is None


@pytest.mark.parametrize(
    "argv",
    [
        ["-p", "PINERC", "index", "BOX", "--json"],
        ["--json", "-p", "PINERC", "index", "BOX"],
        ["index", "BOX", "-p", "PINERC", "--json"],
        ["index", "--json", "BOX", "-p", "PINERC"],
    ],
)
def test_the_global_options_are_taken_after_the_command_too(
    argv: list[str], tmp_path: Path
) -> None:
    box = tmp_path / "box"
    box.write_bytes(b"From a@b Mon Jan  1 00:00:00 2024\nFrom: a@b\nSubject: hello\n\nbody\n\n")
    (tmp_path / "pinerc").write_text("")
    words = [
        str(tmp_path / "pinerc") if w == "PINERC" else str(box) if w == "BOX" else w for w in argv
    ]
    done = subprocess.run(
        [str(Path(sys.executable).parent / "pinesh"), *words],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.lstrip().startswith(("[", "{")) and '"hello"' in done.stdout


def test_i_through_argparse_also_starts_in_the_index(monkeypatch: pytest.MonkeyPatch) -> None:
    from pinesh.cli import main as cli

    started: list[ClientStart] = []

    def run_client(start: ClientStart) -> int:
        started.append(start)
        return 0

    monkeypatch.setattr(cli, "_run_client", run_client)
    monkeypatch.setattr(cli, "_plain_client", lambda argv: None)  # as for an odd form
    assert cli.main(["-i", "-p", "rc"]) == 0
    assert started == [ClientStart(pinerc="rc", folder="INBOX")]


def test_an_option_given_before_the_command_is_kept_when_not_given_after() -> None:
    from pinesh.cli.main import _parser

    args = _parser().parse_args(["--json", "-p", "/rc", "--config", "/c", "show", "B", "3"])
    assert (args.json, args.pinerc, args.config) == (True, "/rc", "/c")
    args = _parser().parse_args(["show", "B", "3"])
    assert (args.json, args.pinerc, args.config) == (False, None, None)


def test_a_wrong_n_is_refused_by_argparse_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    from pinesh.cli.main import main

    with pytest.raises(SystemExit) as done:
        main(["-n", "0"])
    assert done.value.code == 2
    assert "'0' is not a message number" in capsys.readouterr().err


def test_a_wrong_i_keystroke_list_is_told_before_the_client_starts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from pinesh.cli.main import main

    assert main(["-p", str(tmp_path / "rc"), "-I", "i,ENTERR"]) == 2
    err = capsys.readouterr().err
    assert "initial keystroke 'ENTERR' names no key" in err


def test_output_cut_short_by_its_reader_ends_quietly(tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.write_bytes(
        b"".join(
            b"From a@b Mon Jan  1 00:00:00 2024\nFrom: a@b\nSubject: s%d\n\nbody\n\n" % n
            for n in range(2000)
        )
    )
    (tmp_path / "pinerc").write_text("")
    pinesh = str(Path(sys.executable).parent / "pinesh")
    env = {**os.environ, "HOME": str(tmp_path)}
    argv = [pinesh, "-p", str(tmp_path / "pinerc"), "index", str(box), "--range", "1-2000"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as run:
        assert run.stdout is not None and run.stderr is not None
        first = run.stdout.readline()
        run.stdout.close()  # as head does once it has its line
        err = run.stderr.read().decode()
        status = run.wait(timeout=60)
    assert first.strip()
    assert "Broken pipe" not in err and "Traceback" not in err
    assert status == 141


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--json", "connect", "lab", "jane", "imap"], "--json is not for `pinesh connect`"),
        (["--json"], "--json is not for the terminal client"),
    ],
)
def test_json_where_it_cannot_apply_is_refused_naming_where_it_does(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from pinesh.cli.main import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert said in err and "folders, index, show" in err


def test_doctor_in_json_reports_each_route_tried(tmp_path: Path) -> None:
    (tmp_path / "pinerc").write_text("smtp-server=127.0.0.1:1\n")  # nothing listens there
    done = _pinesh_at_home(tmp_path, "doctor", "--json")
    assert done.returncode == 1, done.stderr

    answer = json.loads(done.stdout)
    assert answer["ok"] is False and answer["pinerc_problems"] == []
    (server,) = answer["servers"]
    assert (server["server"], server["service"], server["ok"]) == ("127.0.0.1", "smtp", False)
    assert server["routes"] and all(r["result"] == "FAIL" for r in server["routes"])
    assert "refused" in server["routes"][0]["why"].lower()


def _pinesh_at_home(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed pinesh, HOME at home, reading home/pinerc."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "pinesh"), "-p", str(home / "pinerc"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(home)},
        timeout=60,
        check=False,
    )


def test_show_raw_in_json_is_refused_saying_why(tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.write_bytes(b"From a@b Mon Jan  1 00:00:00 2024\nFrom: a@b\nSubject: hello\n\nbody\n\n")
    (tmp_path / "pinerc").write_text("")
    done = _pinesh_at_home(tmp_path, "show", str(box), "1", "--raw", "--json")
    assert done.returncode == 2 and done.stdout == ""
    assert "--raw writes the message's own bytes" in done.stderr
