"""Pine's ssh-*/rsh-* settings: the command template, timeouts and hostile names."""

from __future__ import annotations

import pytest

from pinesh.config.pinerc import Pinerc, parse_pinerc
from pinesh.config.remote_shell import (
    DEFAULT_TEMPLATE,
    DEFAULT_TIMEOUT,
    RemoteShell,
    expand_template,
    remote_shells,
)
from pinesh.errors import UnsafeNameError

SSH = "/usr/bin/ssh"
HOST = "mail.example.org"


def shells_of(text: str, path: str = "/home/jane/.pinerc") -> tuple[list[RemoteShell], Pinerc]:
    rc = parse_pinerc(text, path)
    return remote_shells(rc), rc


def only_ssh(text: str) -> tuple[RemoteShell, Pinerc]:
    shells, rc = shells_of(f"ssh-path={SSH}\n{text}")
    assert [s.method for s in shells] == ["ssh"]
    return shells[0], rc


# --- the template --------------------------------------------------------------------------


def test_default_template_is_c_clients() -> None:
    assert DEFAULT_TEMPLATE == "%s %s -l %s exec /etc/r%sd"


def test_default_template_expands_like_c_client() -> None:
    assert expand_template(DEFAULT_TEMPLATE, SSH, HOST, "jane", "imap") == [
        "/usr/bin/ssh",
        "mail.example.org",
        "-l",
        "jane",
        "exec",
        "/etc/rimapd",
    ]


def test_case_study_template_with_quiet_flag() -> None:
    assert expand_template("%s %s -q -l %s exec /etc/r%sd", SSH, HOST, "jane", "imap") == [
        "/usr/bin/ssh",
        "mail.example.org",
        "-q",
        "-l",
        "jane",
        "exec",
        "/etc/rimapd",
    ]


def test_pinesh_connect_template_passes_all_four_as_words() -> None:
    argv = expand_template("%s %s %s %s", "/usr/local/bin/pinesh-connect", HOST, "jane", "imap")
    assert argv == ["/usr/local/bin/pinesh-connect", "mail.example.org", "jane", "imap"]


def test_double_percent_is_a_literal_percent() -> None:
    argv = expand_template("%s %s -l %s echo 100%% %%s", SSH, HOST, "jane", "imap")
    assert argv == [SSH, HOST, "-l", "jane", "echo", "100%", "%s"]


def test_other_percent_sequences_are_kept() -> None:
    assert expand_template("%s -o%d %", SSH, HOST, "jane", "imap") == [SSH, "-o%d", "%"]


def test_fewer_than_four_placeholders_is_fine() -> None:
    assert expand_template("%s %s", SSH, HOST, "jane", "imap") == [SSH, HOST]


def test_several_placeholders_in_one_word() -> None:
    assert expand_template("%s %s@%s", SSH, "jane", HOST, "imap") == [SSH, "jane@mail.example.org"]


def test_extra_white_space_in_the_template_does_not_make_empty_words() -> None:
    assert expand_template("  %s\t%s   -l %s  ", SSH, HOST, "jane", "imap") == [
        SSH,
        HOST,
        "-l",
        "jane",
    ]


def test_more_than_four_placeholders_is_an_error() -> None:
    with pytest.raises(ValueError, match="more than four %s"):
        expand_template("%s %s %s %s %s", SSH, HOST, "jane", "imap")


@pytest.mark.parametrize("template", ["", "   ", "\t"])
def test_empty_template_is_an_error(template: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        expand_template(template, SSH, HOST, "jane", "imap")


@pytest.mark.parametrize(
    "value",
    [
        "mail.example.org -oProxyCommand=id",
        "a\tb",
        "a\nb",
        "x; rm -rf ~",
        "$(id)",
        "%s %s",  # a value is never expanded again
    ],
)
def test_a_value_can_never_add_or_split_words(value: str) -> None:
    argv = expand_template(DEFAULT_TEMPLATE, SSH, value, "jane", "imap")
    assert len(argv) == 6
    assert argv[1] == value
    argv = expand_template(DEFAULT_TEMPLATE, SSH, HOST, value, "imap")
    assert len(argv) == 6
    assert argv[3] == value


# --- settings from the pinerc ----------------------------------------------------------------


def test_no_paths_means_no_methods() -> None:
    shells, rc = shells_of("personal-name=Jane\n")
    assert shells == []
    assert rc.problems == []


def test_ssh_path_gives_the_default_method() -> None:
    shell, rc = only_ssh("")
    assert shell == RemoteShell("ssh", SSH, DEFAULT_TEMPLATE, DEFAULT_TIMEOUT)
    assert shell.enabled
    assert rc.problems == []
    assert shell.argv(HOST, "jane") == [SSH, HOST, "-l", "jane", "exec", "/etc/rimapd"]


def test_configured_command_is_used() -> None:
    shell, _ = only_ssh("ssh-command=%s %s -q -l %s exec /etc/r%sd\n")
    assert shell.argv(HOST, "jane") == [SSH, HOST, "-q", "-l", "jane", "exec", "/etc/rimapd"]


def test_quoted_command_is_unquoted() -> None:
    shell, _ = only_ssh('ssh-command="%s %s %s %s"\n')
    assert shell.template == "%s %s %s %s"


def test_empty_command_means_the_default() -> None:
    shell, _ = only_ssh("ssh-command=\n")
    assert shell.template == DEFAULT_TEMPLATE


def test_argv_service_fills_the_fourth_placeholder() -> None:
    shell, _ = only_ssh("")
    assert shell.argv(HOST, "jane", "nntp")[-1] == "/etc/rnntpd"


def test_more_than_four_placeholders_is_a_problem_with_file_and_line() -> None:
    text = "ssh-path=/usr/bin/ssh\n# comment\nssh-command=%s %s %s %s %s\n"
    shells, rc = shells_of(text, "/home/jane/.pinerc")
    assert shells == []  # the method is left out, not run with a broken command
    assert len(rc.problems) == 1
    problem = rc.problems[0]
    assert problem.file == "/home/jane/.pinerc"
    assert problem.line == 3
    assert problem.setting == "ssh-command"
    assert "more than four %s" in str(problem)


def test_broken_ssh_command_does_not_drop_rsh() -> None:
    shells, rc = shells_of("ssh-path=/usr/bin/ssh\nssh-command=%s%s%s%s%s\nrsh-path=/usr/bin/rsh\n")
    assert [s.method for s in shells] == ["rsh"]
    assert [p.setting for p in rc.problems] == ["ssh-command"]


def test_ssh_comes_before_rsh() -> None:
    # rsh written first in the file: the order is still c-client's, ssh then rsh.
    shells, _ = shells_of("rsh-path=/usr/bin/rsh\nssh-path=/usr/bin/ssh\n")
    assert [s.method for s in shells] == ["ssh", "rsh"]
    assert [s.path for s in shells] == ["/usr/bin/ssh", "/usr/bin/rsh"]


@pytest.mark.parametrize("text", ["", "rsh-path=\n", "rsh-command=%s %s %s %s\n"])
def test_method_without_a_path_is_absent(text: str) -> None:
    shells, _ = shells_of(f"ssh-path=/usr/bin/ssh\n{text}")
    assert [s.method for s in shells] == ["ssh"]  # rsh is never run unless its path is set


def test_ssh_path_empty_is_absent() -> None:
    shells, _ = shells_of("ssh-path=\nssh-command=%s %s %s %s\n")
    assert shells == []


# --- timeouts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "timeout"),
    [
        ("", DEFAULT_TIMEOUT),  # unset
        ("ssh-open-timeout=\n", DEFAULT_TIMEOUT),  # empty
        ("ssh-open-timeout=15\n", 15),
        ("ssh-open-timeout=30\n", 30),
        ("ssh-open-timeout=5\n", 5),
        ("ssh-open-timeout=3\n", 5),  # below the minimum counts as the minimum
        ("ssh-open-timeout=1\n", 5),
        ("ssh-open-timeout=0\n", 0),  # off
        ('ssh-open-timeout="20"\n', 20),
    ],
)
def test_timeout(setting: str, timeout: int) -> None:
    shell, rc = only_ssh(setting)
    assert shell.timeout == timeout
    assert shell.enabled is (timeout > 0)
    assert rc.problems == []


def test_zero_timeout_disables_the_method() -> None:
    shell, _ = only_ssh("ssh-open-timeout=0\n")
    assert not shell.enabled


@pytest.mark.parametrize("value", ["abc", "1.5", "15s", "fifteen"])
def test_non_number_timeout_is_a_problem_and_uses_the_default(value: str) -> None:
    shell, rc = only_ssh(f"ssh-open-timeout={value}\n")
    assert shell.timeout == DEFAULT_TIMEOUT
    assert len(rc.problems) == 1
    problem = rc.problems[0]
    assert problem.setting == "ssh-open-timeout"
    assert problem.line == 2
    assert problem.file == "/home/jane/.pinerc"
    assert repr(value) in str(problem)


def test_negative_timeout_is_a_problem_and_turns_the_method_off() -> None:
    shell, rc = only_ssh("ssh-open-timeout=-1\n")
    assert shell.timeout == 0
    assert not shell.enabled
    assert [(p.setting, p.line) for p in rc.problems] == [("ssh-open-timeout", 2)]
    assert "negative" in str(rc.problems[0])


def test_each_method_has_its_own_timeout() -> None:
    shells, _ = shells_of(
        "ssh-path=/usr/bin/ssh\nssh-open-timeout=20\nrsh-path=/usr/bin/rsh\nrsh-open-timeout=0\n"
    )
    assert [(s.method, s.timeout, s.enabled) for s in shells] == [
        ("ssh", 20, True),
        ("rsh", 0, False),
    ]


# --- hostile names through RemoteShell.argv --------------------------------------------------

SHELL = RemoteShell("ssh", SSH, DEFAULT_TEMPLATE, DEFAULT_TIMEOUT)
CONNECT = RemoteShell("ssh", "/usr/local/bin/pinesh-connect", "%s %s %s %s", DEFAULT_TIMEOUT)


@pytest.mark.parametrize(
    "host",
    [
        "-oProxyCommand=id",
        "mail.example.org -oProxyCommand=id",
        "mail.example.org\n",
        "mail\texample.org",
        "mail;id",
        "$(id)",
        "`id`",
        "mail|id",
        "mail&",
        "mail\0",
        "",
    ],
)
@pytest.mark.parametrize("shell", [SHELL, CONNECT], ids=["default", "pinesh-connect"])
def test_hostile_host_is_refused(shell: RemoteShell, host: str) -> None:
    with pytest.raises(UnsafeNameError):
        shell.argv(host, "jane")


@pytest.mark.parametrize(
    "user",
    ["-oProxyCommand=id", "jane doe", "jane\n", "jane;id", "$(id)", "`id`", "jane|x", ""],
)
@pytest.mark.parametrize("shell", [SHELL, CONNECT], ids=["default", "pinesh-connect"])
def test_hostile_user_is_refused(shell: RemoteShell, user: str) -> None:
    with pytest.raises(UnsafeNameError):
        shell.argv(HOST, user)


def test_user_is_checked_even_when_the_template_does_not_use_it() -> None:
    shell = RemoteShell("ssh", SSH, "%s %s", DEFAULT_TIMEOUT)
    with pytest.raises(UnsafeNameError):
        shell.argv(HOST, "-oProxyCommand=id")


@pytest.mark.parametrize("host", ["[::1]", "192.0.2.1", "mail-1.example.org", "mailalias"])
def test_good_names_pass_through_argv(host: str) -> None:
    assert CONNECT.argv(host, "jane.doe") == [
        "/usr/local/bin/pinesh-connect",
        host,
        "jane.doe",
        "imap",
    ]


def test_ipv6_zone_percent_in_a_host_is_not_expanded() -> None:
    # '%' is allowed in hosts (zone ids); the value must go in as is, never re-read.
    assert SHELL.argv("fe80::1%s", "jane")[1] == "fe80::1%s"
