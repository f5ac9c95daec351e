"""check_host / check_user / check_port: names are refused, never quoted or repaired."""

from __future__ import annotations

import pytest

from pinesh.config.names import check_host, check_port, check_user
from pinesh.errors import PineshError, UnsafeNameError

# --- hosts -------------------------------------------------------------------------------

GOOD_HOSTS = [
    "mail.example.org",
    "mail-1.example.org",  # '-' inside a name is fine
    "a-b-c",
    "localhost",
    "mail.example.org.",  # absolute DNS name
    "192.0.2.10",
    "127.0.0.1",
    "[::1]",
    "::1",
    "[fe80::1%eth0]",  # IPv6 with a zone id
    "fe80::1%eth0",
    "mailhost",  # an ssh_config alias
    "my_alias",  # aliases may have '_'
    "MAIL.Example.ORG",
]


@pytest.mark.parametrize("host", GOOD_HOSTS)
def test_good_host_is_returned_unchanged(host: str) -> None:
    assert check_host(host) == host


HOSTILE_HOSTS = [
    pytest.param("-oProxyCommand=sh -c 'id'", id="proxycommand-with-space"),
    pytest.param("-oProxyCommand=id", id="proxycommand"),
    pytest.param("-F/tmp/evil", id="dash-F"),
    pytest.param("-", id="lone-dash"),
    pytest.param("--", id="double-dash"),
    pytest.param("mail example.org", id="space"),
    pytest.param(" mail.example.org", id="leading-space"),
    pytest.param("mail.example.org ", id="trailing-space"),
    pytest.param("mail\texample.org", id="tab"),
    pytest.param("mail.example.org\n", id="trailing-newline"),
    pytest.param("mail\nexample.org", id="newline"),
    pytest.param("mail\r\nexample.org", id="crlf"),
    pytest.param("mail\0example.org", id="nul"),
    pytest.param("mail\x1b[31m", id="esc"),
    pytest.param("mail\x7f", id="del"),
    pytest.param("mail\x0bexample.org", id="vertical-tab"),
    pytest.param("mail\u00a0example.org", id="nbsp"),
    pytest.param("mail\u2028example.org", id="line-separator"),
    pytest.param("mail;id", id="semicolon"),
    pytest.param("$(id)", id="dollar-paren"),
    pytest.param("mail$(id)", id="dollar-paren-inside"),
    pytest.param("`id`", id="backticks"),
    pytest.param("mail|id", id="pipe"),
    pytest.param("mail&id", id="ampersand"),
    pytest.param("mail>out", id="redirect"),
    pytest.param("mail'x", id="single-quote"),
    pytest.param('mail"x', id="double-quote"),
    pytest.param("mail\\x", id="backslash"),
    pytest.param("mail/x", id="slash"),
    pytest.param("user@mail.example.org", id="at-sign"),
    pytest.param("mail,example", id="comma"),
    pytest.param("mail*", id="glob-star"),
    pytest.param("mäil.example.org", id="non-ascii"),
    pytest.param("", id="empty"),
]


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
def test_hostile_host_is_refused(host: str) -> None:
    with pytest.raises(UnsafeNameError):
        check_host(host)


def test_unsafe_name_error_is_a_pinesh_error_with_a_hint() -> None:
    with pytest.raises(PineshError) as info:
        check_host("-oProxyCommand=id")
    assert isinstance(info.value, UnsafeNameError)
    assert "starts with '-'" in info.value.message
    assert info.value.hint is not None


def test_refusal_message_shows_control_characters_escaped() -> None:
    with pytest.raises(UnsafeNameError) as info:
        check_host("mail\x1b]0;pwned\x07")
    # The message goes to a terminal: it must carry the repr, not the raw ESC/BEL.
    assert "\x1b" not in str(info.value)
    assert "\x07" not in str(info.value)
    assert "\\x1b" in str(info.value)


def test_empty_host_says_empty() -> None:
    with pytest.raises(UnsafeNameError, match="empty host"):
        check_host("")


# --- users -------------------------------------------------------------------------------

GOOD_USERS = [
    "jane",
    "jane.doe",
    "j.q.doe",
    "jane_doe",
    "jane-doe",  # '-' inside
    "jane@example.org",  # virtual users
    "jane+mail",
    "pineshlab",
    "u1000",
    "JANE",
]


@pytest.mark.parametrize("user", GOOD_USERS)
def test_good_user_is_returned_unchanged(user: str) -> None:
    assert check_user(user) == user


HOSTILE_USERS = [
    pytest.param("-oProxyCommand=id", id="proxycommand"),
    pytest.param("-l", id="dash-l"),
    pytest.param("-", id="lone-dash"),
    pytest.param("jane doe", id="space"),
    pytest.param("jane\t", id="tab"),
    pytest.param("jane\n", id="trailing-newline"),
    pytest.param("jane\r\nA1 LOGIN x y", id="crlf-injection"),
    pytest.param("jane\0", id="nul"),
    pytest.param("jane\x1b", id="esc"),
    pytest.param("jane\x7f", id="del"),
    pytest.param("jane;id", id="semicolon"),
    pytest.param("$(id)", id="dollar-paren"),
    pytest.param("`id`", id="backticks"),
    pytest.param("jane|id", id="pipe"),
    pytest.param("jane&", id="ampersand"),
    pytest.param("jane/x", id="slash"),
    pytest.param("jane:x", id="colon"),
    pytest.param('"jane"', id="quotes"),
    pytest.param("", id="empty"),
]


@pytest.mark.parametrize("user", HOSTILE_USERS)
def test_hostile_user_is_refused(user: str) -> None:
    with pytest.raises(UnsafeNameError):
        check_user(user)


# --- ports -------------------------------------------------------------------------------


@pytest.mark.parametrize("port", [1, 22, 143, 993, 2025, 65535])
def test_valid_port_is_returned(port: int) -> None:
    assert check_port(port) == port


@pytest.mark.parametrize("port", [0, -1, -143, 65536, 99999])
def test_out_of_range_port_is_refused(port: int) -> None:
    with pytest.raises(UnsafeNameError, match="not a TCP port"):
        check_port(port)


def test_port_error_names_what_the_port_is_for() -> None:
    with pytest.raises(UnsafeNameError, match="ssh port 0"):
        check_port(0, "ssh port")
