"""Reading ~/.pinerc as Pine and Alpine write it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinesh.config.pinerc import Pinerc, load_pinerc, parse_pinerc, split_list, unquote
from pinesh.errors import ConfigError

ALPINE_PINERC = """\
# Updated by Alpine 2.26, copyright 2013-2022 Eduardo Chappa,
# copyright 2006-2008 University of Washington.
#
# Alpine configuration file -- customize as needed.
#

# Over-rides your full name from Unix password file. Required for PC-Alpine.
personal-name="Jane Q. Doe"

# Sets domain part of From: and local addresses in outgoing mail.
user-domain=

# List of SMTP servers for sending mail. If blank: Unix Alpine uses sendmail.
smtp-server=smtp.isp.example/submit/tls

# NNTP server for posting news. Also sets news-collections for news reading.
nntp-server=news.isp.example

# Path of (local or remote) INBOX, e.g. ={mail.somewhere.edu}inbox
inbox-path={mail.example.org/user=jane}INBOX

# List of directories where saved-message folders may be. First one is
# the default for Saves. Example: Main {host1}mail/[], Desktop mail\\[]
folder-collections=Mail {mail.example.org/user=jane}mail/[],
\tLocal mail/[]

# List of features; see Alpine's Setup/options menu for the current set.
feature-list=enable-full-header-cmd,
\tquell-user-lookup-in-passwd-file,
\tsignature-at-bottom

# Sets the time in seconds that Alpine will attempt to open a UNIX remote
# shell connection.  The default is 15, min is 5, and max is unlimited.
# Zero disables rsh altogether.
rsh-open-timeout=0

ssh-path=/usr/bin/ssh
ssh-open-timeout=

# A variable this version of pinesh does not know.
some-future-variable=keep me
"""


@pytest.fixture
def alpine() -> Pinerc:
    return parse_pinerc(ALPINE_PINERC, "/home/jane/.pinerc")


# --- a realistic file ----------------------------------------------------------------------


def test_realistic_file_has_no_problems(alpine: Pinerc) -> None:
    assert alpine.problems == []
    assert alpine.path == "/home/jane/.pinerc"


def test_quoted_value_is_unquoted(alpine: Pinerc) -> None:
    assert alpine.get("personal-name") == "Jane Q. Doe"
    assert alpine.values["personal-name"].raw == '"Jane Q. Doe"'  # raw keeps the quotes


def test_empty_value_is_none_but_present(alpine: Pinerc) -> None:
    assert alpine.get("user-domain") is None
    assert alpine.get("ssh-open-timeout") is None
    assert "user-domain" in alpine.values
    assert alpine.get_list("user-domain") == []


def test_unset_variable_is_none(alpine: Pinerc) -> None:
    assert alpine.get("smtp-server-that-is-not-there") is None
    assert alpine.get_list("nope") == []
    assert alpine.line_of("nope") is None


def test_value_may_hold_equals_signs(alpine: Pinerc) -> None:
    assert alpine.get("inbox-path") == "{mail.example.org/user=jane}INBOX"
    assert alpine.get("smtp-server") == "smtp.isp.example/submit/tls"


def test_continuation_lines_join_a_list(alpine: Pinerc) -> None:
    assert alpine.get_list("folder-collections") == [
        "Mail {mail.example.org/user=jane}mail/[]",
        "Local mail/[]",
    ]
    assert alpine.get_list("feature-list") == [
        "enable-full-header-cmd",
        "quell-user-lookup-in-passwd-file",
        "signature-at-bottom",
    ]


def test_a_value_keeps_the_line_it_starts_on(alpine: Pinerc) -> None:
    lines = ALPINE_PINERC.splitlines()
    assert alpine.line_of("personal-name") == lines.index('personal-name="Jane Q. Doe"') + 1
    start = next(i for i, line in enumerate(lines) if line.startswith("folder-collections="))
    assert alpine.line_of("folder-collections") == start + 1


def test_unknown_variables_are_kept(alpine: Pinerc) -> None:
    assert alpine.get("some-future-variable") == "keep me"


def test_comments_are_not_variables(alpine: Pinerc) -> None:
    assert not any(name.startswith("#") for name in alpine.values)
    assert set(alpine.values) == {
        "personal-name",
        "user-domain",
        "smtp-server",
        "nntp-server",
        "inbox-path",
        "folder-collections",
        "feature-list",
        "rsh-open-timeout",
        "ssh-path",
        "ssh-open-timeout",
        "some-future-variable",
    }


def test_error_points_at_the_variable(alpine: Pinerc) -> None:
    error = alpine.error("rsh-open-timeout", "bad", hint="fix it")
    assert isinstance(error, ConfigError)
    assert error.file == "/home/jane/.pinerc"
    assert error.line == alpine.line_of("rsh-open-timeout")
    assert error.setting == "rsh-open-timeout"
    assert str(error).startswith(f"/home/jane/.pinerc:{error.line}: rsh-open-timeout: bad")


def test_the_example_pinerc_loads_cleanly() -> None:
    rc = load_pinerc(Path(__file__).parents[2] / "examples" / "pinerc")
    assert rc.problems == []
    assert rc.get("ssh-command") == "%s %s %s %s"
    assert rc.get("rsh-open-timeout") == "0"


# --- quoting and lists ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ('"Jane Q. Doe"', "Jane Q. Doe"),
        ('"Jane \\"JQ\\" Doe"', 'Jane "JQ" Doe'),
        ('"back\\\\slash"', "back\\slash"),
        ('""', ""),
        ('  "padded"  ', "padded"),
        ('" inner spaces kept "', " inner spaces kept "),
        ("plain", "plain"),
        ('"unbalanced', '"unbalanced'),
        ('"', '"'),
        ('a"b"', 'a"b"'),
    ],
)
def test_unquote(raw: str, value: str) -> None:
    assert unquote(raw) == value


@pytest.mark.parametrize(
    ("raw", "items"),
    [
        ("a, b,c", ["a", "b", "c"]),
        ('"Doe, Jane" <jane@example.org>, bob', ['"Doe, Jane" <jane@example.org>', "bob"]),
        ('"a,b", c', ['"a,b"', "c"]),
        ('"say \\"hi\\", ok", x', ['"say \\"hi\\", ok"', "x"]),
        ("a,,b,", ["a", "b"]),
        ("", []),
        (" , ", []),
        ("one", ["one"]),
    ],
)
def test_split_list(raw: str, items: list[str]) -> None:
    assert split_list(raw) == items


def test_get_list_unquotes_each_item() -> None:
    rc = parse_pinerc('folder-collections="Mail, old" {h}mail/[], "a,b", "say \\"hi\\""\n', "p")
    assert rc.get_list("folder-collections") == [
        '"Mail, old" {h}mail/[]',  # only a whole quoted item loses its quotes
        "a,b",
        'say "hi"',
    ]


def test_escaped_quote_in_a_single_value() -> None:
    rc = parse_pinerc('personal-name="Jane \\"JQ\\" Doe"\n', "p")
    assert rc.get("personal-name") == 'Jane "JQ" Doe'


# --- malformed input -----------------------------------------------------------------------


def test_malformed_line_is_reported_and_the_rest_loads() -> None:
    text = "personal-name=Jane\nthis is not a setting\nuser-domain=example.org\n"
    rc = parse_pinerc(text, "/home/jane/.pinerc")
    assert rc.get("personal-name") == "Jane"
    assert rc.get("user-domain") == "example.org"
    assert len(rc.problems) == 1
    problem = rc.problems[0]
    assert problem.file == "/home/jane/.pinerc"
    assert problem.line == 2
    assert str(problem).startswith("/home/jane/.pinerc:2: ")
    assert "this is not a setting" in str(problem)


@pytest.mark.parametrize(
    "bad",
    [
        "no equals sign here",
        "=value without a name",
        "two words=value",
        "tab\tname=value",
    ],
)
def test_malformed_lines(bad: str) -> None:
    rc = parse_pinerc(f"a=1\n{bad}\nb=2\n", "p")
    assert [p.line for p in rc.problems] == [2]
    assert rc.get("a") == "1"
    assert rc.get("b") == "2"


def test_malformed_line_is_shown_bounded() -> None:
    rc = parse_pinerc("x" * 500 + "\n", "p")
    assert len(rc.problems) == 1
    assert len(str(rc.problems[0])) < 200


def test_continuation_line_with_nothing_before_it() -> None:
    rc = parse_pinerc("\tLocal mail/[]\npersonal-name=Jane\n", "p")
    assert len(rc.problems) == 1
    assert rc.problems[0].line == 1
    assert "continuation" in str(rc.problems[0])
    assert rc.get("personal-name") == "Jane"
    assert "Local mail/[]" not in [v.raw for v in rc.values.values()]


def test_continuation_after_a_blank_line_belongs_to_nothing() -> None:
    rc = parse_pinerc("feature-list=a,\n\n\tb\n", "p")
    assert [p.line for p in rc.problems] == [3]
    assert rc.get_list("feature-list") == ["a"]


def test_continuation_after_a_malformed_line_belongs_to_nothing() -> None:
    rc = parse_pinerc("feature-list=a,\nbroken line\n\tb\n", "p")
    assert [p.line for p in rc.problems] == [2, 3]
    assert rc.get_list("feature-list") == ["a"]


def test_continuation_survives_a_comment_line() -> None:
    rc = parse_pinerc("feature-list=a,\n# a remark\n\tb\n", "p")
    assert rc.problems == []
    assert rc.get_list("feature-list") == ["a", "b"]


def test_indented_comment_is_a_comment() -> None:
    rc = parse_pinerc("feature-list=a\n  # not a continuation\n", "p")
    assert rc.problems == []
    assert rc.get("feature-list") == "a"


def test_crlf_line_endings() -> None:
    text = ALPINE_PINERC.replace("\n", "\r\n")
    rc = parse_pinerc(text, "p")
    assert rc.problems == []
    assert rc.get("personal-name") == "Jane Q. Doe"
    assert rc.get("smtp-server") == "smtp.isp.example/submit/tls"
    assert rc.get_list("folder-collections") == [
        "Mail {mail.example.org/user=jane}mail/[]",
        "Local mail/[]",
    ]
    assert not any("\r" in v.raw for v in rc.values.values())


def test_crlf_keeps_line_numbers() -> None:
    rc = parse_pinerc("a=1\r\nbroken\r\nb=2\r\n", "p")
    assert [p.line for p in rc.problems] == [2]
    assert rc.line_of("b") == 3


def test_only_newlines_end_lines() -> None:
    rc = parse_pinerc("personal-name=Jane\x0cDoe\nbroken\n", "p")
    assert rc.get("personal-name") == "Jane\x0cDoe"
    assert [p.line for p in rc.problems] == [2]


# --- load_pinerc ---------------------------------------------------------------------------


def test_load_missing_file_is_an_empty_config(tmp_path: Path) -> None:
    path = tmp_path / "no-such-pinerc"
    rc = load_pinerc(path)
    assert rc.values == {}
    assert rc.problems == []
    assert rc.path == str(path)


def test_a_missing_file_named_by_the_user_is_a_problem_saying_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pinesh.services.connections import load_connections

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PINERC", raising=False)
    assert load_connections(None, None).pinerc.problems == []  # ~/.pinerc: none yet
    (problem,) = load_connections(None, str(tmp_path / "pinrc")).pinerc.problems
    assert str(tmp_path / "pinrc") in str(problem) and "no such file" in str(problem)
    monkeypatch.setenv("PINERC", str(tmp_path / "elsewhere"))
    (problem,) = load_connections(None, None).pinerc.problems
    assert "elsewhere" in str(problem) and problem.hint


def test_load_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / ".pinerc"
    path.write_text(ALPINE_PINERC, encoding="utf-8")
    rc = load_pinerc(path)
    assert rc.problems == []
    assert rc.get("personal-name") == "Jane Q. Doe"
    assert rc.path == str(path)


def test_load_problems_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / ".pinerc"
    path.write_text("a=1\nbroken\n", encoding="utf-8")
    rc = load_pinerc(path)
    assert [(p.file, p.line) for p in rc.problems] == [(str(path), 2)]


def test_load_non_utf8_bytes_are_replaced_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / ".pinerc"
    path.write_bytes(b"personal-name=J\xe4ne\nuser-domain=example.org\n")
    rc = load_pinerc(path)
    assert rc.problems == []
    assert rc.get("personal-name") == "J\ufffdne"
    assert rc.get("user-domain") == "example.org"


def test_load_unreadable_path_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    rc = load_pinerc(tmp_path)  # a directory: reading it fails with an OSError
    assert rc.values == {}
    assert len(rc.problems) == 1
    assert rc.problems[0].file == str(tmp_path)
    assert "cannot read it" in str(rc.problems[0])
