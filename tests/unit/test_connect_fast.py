"""connect_fast: which remembered decisions hold, and that nothing else is served from them."""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pinesh import connect_fast, paths
from pinesh.cli.connect import _rider_argv, run_connect
from pinesh.transport.greeting import GreetingError, parse_greeting
from pinesh.transport.opener import _check_child_greeting
from pinesh.transport.routes import SshChannelRoute, SshPreauthRoute, SshTarget
from pinesh.transport.service import Service

IDENTS = ["1:2:3:4:5", "absent"]
KEY = [
    "mailhost",
    "jane",
    "imap",
    "/home/jane/.config/pinesh/config.toml",
    "/home/jane/.pinerc",
    "jane",
]


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A private runtime directory holding one master socket's name (no socket)."""
    directory = tmp_path / "run"
    directory.mkdir(mode=0o700)
    return directory


def _ssh_record(run: Path, **change: str) -> list[str]:
    control = str(run / "m-0123456789abcdef")
    fields = {
        "expect": "preauth",
        "timeout": "15.0",
        "batch": "BatchMode=yes",
        "master": "ControlMaster=no",
        "path": f"ControlPath={control}",
        "host": "mailhost",
        "command": "/usr/lib/dovecot/imap",
        **change,
    }
    argv = [
        "ssh", "-o", "LogLevel=ERROR", "-a", "-x", "-o", fields["batch"],
        "-o", fields["master"], "-o", fields["path"],
        "--", fields["host"], "exec", fields["command"],
    ]  # fmt: skip
    return ["ssh", fields["expect"], change.get("control", control), fields["timeout"], *argv]


# -- decisions from literal entries ----------------------------------------------------


def test_a_matching_entry_gives_its_route(run: Path) -> None:
    record = _ssh_record(run)
    decision = connect_fast.decide([[*KEY, *IDENTS, *record]], KEY, IDENTS)
    assert isinstance(decision, connect_fast.Route)
    assert decision.argv == record[4:]
    assert decision.expect == "preauth"
    assert decision.timeout == 15.0


def test_a_no_route_entry_gives_exit_1() -> None:
    assert connect_fast.decide([[*KEY, *IDENTS, "none"]], KEY, IDENTS) == "none"


@pytest.mark.parametrize(
    "idents",
    [
        ["1:2:3:4:6", "absent"],  # the config changed (its ctime moved)
        ["1:2:3:4:5", "7:8:9:10:11"],  # a pinerc appeared
        ["absent", "absent"],
    ],
)
def test_an_entry_made_from_other_config_files_is_ignored(idents: list[str]) -> None:
    assert connect_fast.decide([[*KEY, *IDENTS, "none"]], KEY, idents) is None


@pytest.mark.parametrize(
    "other",
    [
        ["mailhost", "joe", *KEY[2:]],
        ["mailhost", "jane", "smtp", *KEY[3:]],
        [*KEY[:3], "/other/config.toml", *KEY[4:]],
        [*KEY[:5], "root"],
    ],
)
def test_an_entry_for_other_arguments_or_files_is_not_used(other: list[str]) -> None:
    assert connect_fast.decide([[*other, *IDENTS, "none"]], KEY, IDENTS) is None


@pytest.mark.parametrize(
    "change",
    [
        {"batch": "BatchMode=no"},  # could prompt
        {"master": "ControlMaster=auto"},  # could become a master of its own
        {"master": "ControlMaster=no", "path": "ControlPath=/tmp/elsewhere/m-0123456789abcdef"},
        {"control": "/tmp/m-0123456789abcdef"},  # a directory that is not private
        {"control": "relative/m-0123456789abcdef"},
        {"expect": "login"},
        {"timeout": "nan"},
        {"timeout": "-1"},
        {"timeout": "1e9"},
        {"command": "/usr/lib/dovecot/imap\x1b[2J"},  # a control character
        {"host": "mail\x00host"},
    ],
)
def test_a_tampered_route_is_ignored(run: Path, change: dict[str, str]) -> None:
    record = _ssh_record(run, **change)
    assert connect_fast.decide([[*KEY, *IDENTS, *record]], KEY, IDENTS) is None


def test_a_route_without_its_remote_command_is_ignored(run: Path) -> None:
    record = _ssh_record(run)
    assert connect_fast.decide([[*KEY, *IDENTS, *record[:-2]]], KEY, IDENTS) is None


def test_a_remembered_ssh_route_serves_imap_only(run: Path) -> None:
    key = [KEY[0], KEY[1], "nntp", *KEY[3:]]
    assert connect_fast.decide([[*key, *IDENTS, *_ssh_record(run)]], key, IDENTS) is None


# -- the cache file --------------------------------------------------------------------


def test_written_entries_are_read_back_private_and_replaced(run: Path) -> None:
    connect_fast.write_entry(str(run), KEY, [*IDENTS, "none"])
    connect_fast.write_entry(str(run), [*KEY[:1], "joe", *KEY[2:]], [*IDENTS, "none"])
    connect_fast.write_entry(str(run), KEY, [*IDENTS, *_ssh_record(run)])
    entries = connect_fast.read_entries(str(run))
    assert [e[1] for e in entries] == ["joe", "jane"]
    assert (os.stat(run / "connect-plans").st_mode & 0o777) == 0o600
    connect_fast.write_entry(str(run), KEY, None)
    assert [e[1] for e in connect_fast.read_entries(str(run))] == ["joe"]


def test_an_entry_with_a_separator_in_a_field_is_not_written(run: Path) -> None:
    connect_fast.write_entry(str(run), ["mail\thost", *KEY[1:]], [*IDENTS, "none"])
    connect_fast.write_entry(str(run), ["mail\nhost", *KEY[1:]], [*IDENTS, "none"])
    assert connect_fast.read_entries(str(run)) == []


def _plant(run: Path, text: bytes, mode: int = 0o600) -> None:
    path = run / "connect-plans"
    path.write_bytes(text)
    path.chmod(mode)


GOOD = b"pinesh-connect-plans 1\n" + "\t".join([*KEY, *IDENTS, "none"]).encode() + b"\n"


def test_a_private_cache_is_read(run: Path) -> None:
    _plant(run, GOOD)
    assert len(connect_fast.read_entries(str(run))) == 1


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        (GOOD, 0o644),  # readable by others: not ours alone
        (GOOD, 0o620),  # writable by the group
        (GOOD.replace(b"plans 1", b"plans 2"), 0o600),  # another format
        (GOOD[:-1], 0o600),  # cut short
        (GOOD + b"\xff\xfe\n", 0o600),  # not UTF-8
        (GOOD + b"x" * (1 << 16), 0o600),  # larger than a cache gets
    ],
)
def test_a_cache_that_is_not_ours_or_not_whole_is_ignored(
    run: Path, text: bytes, mode: int
) -> None:
    _plant(run, text, mode)
    assert connect_fast.read_entries(str(run)) == []


def test_a_symlinked_cache_is_ignored(run: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "planted"
    elsewhere.write_bytes(GOOD)
    elsewhere.chmod(0o600)
    (run / "connect-plans").symlink_to(elsewhere)
    assert connect_fast.read_entries(str(run)) == []


def test_a_cache_in_a_directory_others_can_enter_is_ignored(run: Path) -> None:
    _plant(run, GOOD)
    run.chmod(0o755)
    assert connect_fast.read_entries(str(run)) == []


# -- arguments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "user", "method"),
    [
        ("-oProxyCommand=x", "jane", "imap"),
        ("mailhost", "-oX", "imap"),
        ("mailhost", "--config", "imap"),
        ("mail host", "jane", "imap"),
        ("mailhost\x1b]0;x\x07", "jane", "imap"),
        ("mailhost", "ja\nne", "imap"),
        ("mailhost", "jane", "IMAP "),  # the full path accepts it; it is not plain
        ("[::1]", "jane", "imap"),
        ("", "jane", "imap"),
    ],
)
def test_words_that_are_not_plain_go_to_the_full_path(server: str, user: str, method: str) -> None:
    assert not connect_fast.plain_arguments(server, user, method)


def test_plain_words_are_decided_here() -> None:
    assert connect_fast.plain_arguments("mail-1.example.org", "jane.doe", "imap")
    assert connect_fast.plain_arguments("mailhost", None, "imap")


@pytest.mark.parametrize(
    ("words", "parsed"),
    [
        (["connect", "h"], (None, None, ["h"])),
        (["-p", "rc", "connect", "h", "u", "imap"], (None, "rc", ["h", "u", "imap"])),
        (["--config", "c", "connect", "h", "u"], ("c", None, ["h", "u"])),
        (["--config=c", "-p", "rc", "connect", "h"], ("c", "rc", ["h"])),
        (["--json", "connect", "h"], None),
        (["connect"], None),
        (["connect", "h", "u", "imap", "extra"], None),
        (["folders", "connect"], None),
        (["-p"], None),
    ],
)
def test_the_command_line_is_parsed_only_in_the_forms_it_serves(
    words: list[str], parsed: tuple[str | None, str | None, list[str]] | None
) -> None:
    assert connect_fast.parse_words(words) == parsed


def test_option_like_words_never_reach_the_cache(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A planted entry for the hostile words is not served: they go to the full path."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    cache = tmp_path / "pinesh"
    cache.mkdir(mode=0o700)
    config, rc = connect_fast.config_paths(None, None)
    key = connect_fast.request_key("-oProxyCommand=x", "jane", "imap", config, rc, "jane")
    idents = [connect_fast.identity(config), connect_fast.identity(rc)]
    monkeypatch.setenv("LOGNAME", "jane")
    _plant(cache, b"pinesh-connect-plans 1\n" + "\t".join([*key, *idents, "none"]).encode() + b"\n")
    assert connect_fast.try_connect(["connect", "-oProxyCommand=x", "jane", "imap"]) is None


# -- the same files and names as the full path ----------------------------------------


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"PINESH_CONFIG": "~/conf/p.toml", "PINERC": "~/rc"},
        {"XDG_CONFIG_HOME": "/x/config"},
        {"XDG_CONFIG_HOME": ""},
    ],
)
def test_config_paths_are_the_full_paths_own(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("PINESH_CONFIG", "PINERC", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    config, rc = connect_fast.config_paths(None, None)
    assert Path(config) == paths.config_file(None)[0]
    assert Path(rc) == paths.pinerc_file(None)
    config, rc = connect_fast.config_paths("~/c.toml", "~/p")
    assert (Path(config), Path(rc)) == (paths.config_file("~/c.toml")[0], paths.pinerc_file("~/p"))


@pytest.mark.parametrize("xdg", [None, "", "own", "file", "missing"])
def test_runtime_dir_is_the_full_paths_own(
    xdg: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "own").mkdir()
    (tmp_path / "file").write_text("")
    if xdg is None:
        monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    else:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / xdg) if xdg else "")
    assert Path(connect_fast.runtime_dir()) == paths.runtime_dir()


@pytest.mark.parametrize(
    "environ",
    [{"LOGNAME": "a", "USER": "b"}, {"USER": "b"}, {"LNAME": "c"}, {"USERNAME": "d"}, {}],
)
def test_login_name_is_getpass_getuser(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert connect_fast.login_name() == getpass.getuser()


# -- the greeting: the full path's rules, on the same transcripts ----------------------

GREETINGS = [
    b"* PREAUTH Dovecot ready.\r\n",
    b"* preauth lower case\r\n",
    b"* PREAUTH\r\n",
    b"* OK IMAP4rev1 ready\r\n",
    b"* ok\r\n",
    b"* BYE go away\r\n",
    b"* PREAUTH ready\r\n* OK [ALERT] injected\r\n",  # more than the greeting
    b"* PREAUTH no line end",
    b"* PREAUTH bare LF\n",
    b"* PREAUTH a\rb\r\n",
    b"* PREAUTH nul\x00\r\n",
    b"*  PREAUTH two spaces\r\n",
    b"+ PREAUTH\r\n",
    b"a1 PREAUTH\r\n",
    b"\r\n",
    b"",
    b"* PREAUTH " + b"x" * 9000 + b"\r\n",
    b"* OK \x1b[2Jescape\r\n",
    b"220 smtp.example ESMTP\r\n",
]


def _full_path_accepts(data: bytes, route: SshPreauthRoute | SshChannelRoute) -> bool:
    try:
        _check_child_greeting(route, parse_greeting(Service.IMAP, data))
    except GreetingError:
        return False
    return True


@pytest.mark.parametrize("data", GREETINGS)
def test_the_greeting_check_agrees_with_the_full_path(data: bytes) -> None:
    target = SshTarget("mailhost")
    preauth = SshPreauthRoute(target, ("/usr/lib/dovecot/imap",))
    channel = SshChannelRoute(target, "localhost", 143)
    assert connect_fast.greeting_ok(data, "preauth") == _full_path_accepts(data, preauth)
    assert connect_fast.greeting_ok(data, "ready") == _full_path_accepts(data, channel)


# -- what the full path writes ---------------------------------------------------------


def test_a_rider_argv_never_becomes_a_master() -> None:
    argv = [
        "ssh", "-o", "BatchMode=yes", "-o", "ControlMaster=auto",
        "-o", "ControlPath=/r/m-0123456789abcdef", "-o", "ControlPersist=60",
        "-F", "cfg", "--", "host", "exec", "imap",
    ]  # fmt: skip
    assert _rider_argv(argv) == [
        "ssh", "-o", "BatchMode=yes", "-o", "ControlMaster=no",
        "-o", "ControlPath=/r/m-0123456789abcdef", "-F", "cfg", "--", "host", "exec", "imap",
    ]  # fmt: skip


def _full_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config_text: str) -> int:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    (tmp_path / "pinesh").mkdir(mode=0o700, exist_ok=True)
    config = tmp_path / "config.toml"
    config.write_text(config_text)
    return run_connect(str(config), str(tmp_path / "pinerc"), "elsewhere", "jane", "imap")


def test_the_full_path_remembers_that_there_is_no_route(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _full_run(tmp_path, monkeypatch, "") == 1
    (entry,) = connect_fast.read_entries(str(tmp_path / "pinesh"))
    assert entry[:3] == ["elsewhere", "jane", "imap"] and entry[-1] == "none"


def test_a_rule_that_goes_direct_on_conditions_is_not_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It goes direct here (so exits 1) only because of where this machine is now."""
    with socket.create_server(("127.0.0.1", 0)) as listening:
        port = listening.getsockname()[1]
        rule = (
            '[[rule]]\nservers = ["elsewhere"]\nservices = ["imap"]\n'
            f'direct_when = {{ reachable = "127.0.0.1:{port}" }}\n'
        )
        assert _full_run(tmp_path, monkeypatch, rule) == 1
    assert connect_fast.read_entries(str(tmp_path / "pinesh")) == []


# -- what the lean start imports -------------------------------------------------------

LEAN_RUN = """
import sys
from pinesh.cli.main import connect_main
sys.argv = ["pinesh-connect", "elsewhere", "jane", "imap"]
code = connect_main()
print(sorted(sys.modules), file=sys.stderr)
sys.exit(code)
"""


def test_the_lean_start_exits_1_importing_no_layer(tmp_path: Path) -> None:
    run = tmp_path / "pinesh"
    run.mkdir(mode=0o700)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PINESH_CONFIG", "PINERC", "PINESH_CONNECT_FAST")
    }
    env.update(XDG_RUNTIME_DIR=str(tmp_path), HOME=str(tmp_path), LOGNAME="jane")
    config, rc = tmp_path / ".config" / "pinesh" / "config.toml", tmp_path / ".pinerc"
    key = connect_fast.request_key("elsewhere", "jane", "imap", str(config), str(rc), "jane")
    connect_fast.write_entry(str(run), key, ["absent", "absent", "none"])
    bare = subprocess.run(
        [sys.executable, "-c", "import sys; print(len(sys.modules))"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", LEAN_RUN], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 1
    *said, listing = done.stderr.strip().splitlines()
    assert said == ["pinesh connect: no ssh route to elsewhere for imap; the client should go on"]
    modules = json.loads(listing.replace("'", '"'))
    pinesh_modules = [m for m in modules if m.split(".")[0] == "pinesh"]
    assert pinesh_modules == ["pinesh", "pinesh.cli", "pinesh.cli.main", "pinesh.connect_fast"]
    for heavy in ("textual", "email", "json", "re", "socket", "subprocess", "tomllib", "ssl"):
        assert heavy not in modules
    # Six today: pinesh, pinesh.cli, its main, connect_fast, __future__, itertools.
    assert len(modules) - int(bare.stdout) <= 8, modules


def test_the_signal_number_is_sigterm() -> None:
    import signal

    assert connect_fast.SIGTERM == signal.SIGTERM


@pytest.mark.parametrize(
    "options",
    [[], ["--config", "{config}"], ["--config", "{config}", "-p", "{pinerc}"], ["-p", "{pinerc}"]],
)
def test_pinesh_connect_after_its_options_is_served_by_the_lean_start(
    options: list[str], tmp_path: Path
) -> None:
    """The full path would rewrite the cache (a new inode); the lean start only reads it."""
    run = tmp_path / "pinesh"
    run.mkdir(mode=0o700)
    config, pinerc = tmp_path / "config.toml", tmp_path / "pinerc"
    config.write_text("")
    pinerc.write_text("")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LOGNAME": "jane",
        "XDG_RUNTIME_DIR": str(tmp_path),
        "PINESH_CONFIG": str(config),
        "PINERC": str(pinerc),
    }
    words = [w.format(config=config, pinerc=pinerc) for w in options]
    key = connect_fast.request_key("elsewhere", "jane", "imap", str(config), str(pinerc), "jane")
    idents = [connect_fast.identity(str(config)), connect_fast.identity(str(pinerc))]
    connect_fast.write_entry(str(run), key, [*idents, "none"])
    before = (run / "connect-plans").stat().st_ino
    done = subprocess.run(
        [str(Path(sys.executable).parent / "pinesh"), *words, "connect", "elsewhere", "jane"],
        capture_output=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == (
        b"pinesh connect: no ssh route to elsewhere for imap; the client should go on\n"
    )
    assert (run / "connect-plans").stat().st_ino == before
