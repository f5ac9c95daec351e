"""Pine's server specifications: host[:port][/flag...]."""

from __future__ import annotations

import pytest

from pinesh.config.server_spec import ServerSpec, parse_server_spec
from pinesh.errors import PineshError

# --- good specifications -------------------------------------------------------------------


def test_bare_host() -> None:
    spec = parse_server_spec("mail.example.org")
    assert spec == ServerSpec(host="mail.example.org")
    assert spec.port is None
    assert spec.mailbox_user is None
    assert spec.service is None
    assert spec.allows_remote_shell


def test_port_ssl_and_user() -> None:
    spec = parse_server_spec("mail.example.org:993/ssl/user=jane")
    assert spec.host == "mail.example.org"
    assert spec.port == 993
    assert spec.ssl
    assert not spec.tls
    assert spec.mailbox_user == "jane"


def test_bracketed_ipv6_with_port_and_notls() -> None:
    spec = parse_server_spec("[::1]:143/notls")
    assert spec.host == "[::1]"
    assert spec.port == 143
    assert spec.notls


def test_bracketed_ipv6_without_port() -> None:
    spec = parse_server_spec("[::1]")
    assert (spec.host, spec.port) == ("[::1]", None)


def test_unbracketed_ipv6_is_a_host_without_port() -> None:
    spec = parse_server_spec("::1")
    assert (spec.host, spec.port) == ("::1", None)


def test_ipv4_with_port() -> None:
    spec = parse_server_spec("192.0.2.7:1143")
    assert (spec.host, spec.port) == ("192.0.2.7", 1143)


@pytest.mark.parametrize(
    "text", ["news.example.org/nntp", "news.example.org/service=nntp", "news.example.org/NNTP"]
)
def test_nntp_service(text: str) -> None:
    spec = parse_server_spec(text)
    assert spec.host == "news.example.org"
    assert spec.service == "nntp"


@pytest.mark.parametrize(
    ("flag", "service"),
    [("imap", "imap"), ("imap4rev1", "imap4rev1"), ("smtp", "smtp"), ("service=IMAP", "imap")],
)
def test_service_names(flag: str, service: str) -> None:
    assert parse_server_spec(f"h/{flag}").service == service


def test_norsh() -> None:
    spec = parse_server_spec("mail.example.org/norsh")
    assert spec.norsh
    assert not spec.allows_remote_shell


def test_novalidate_cert() -> None:
    spec = parse_server_spec("mail.example.org/ssl/novalidate-cert")
    assert spec.novalidate_cert
    assert spec.ssl


def test_smtp_submit_tls_on_localhost() -> None:
    spec = parse_server_spec("localhost:2025/submit/tls")
    assert spec.host == "localhost"
    assert spec.port == 2025
    assert spec.submit
    assert spec.tls
    assert not spec.ssl


def test_flags_are_case_insensitive() -> None:
    spec = parse_server_spec("h/SSL/NoRsh/User=Jane")
    assert spec.ssl
    assert spec.norsh
    assert spec.mailbox_user == "Jane"  # the user name itself keeps its case


def test_surrounding_white_space_is_ignored() -> None:
    assert parse_server_spec("  mail.example.org/ssl \n").host == "mail.example.org"


@pytest.mark.parametrize("flag", ["secure", "validate-cert", "anonymous", "readonly", "loser"])
def test_known_switches_without_a_field_are_accepted(flag: str) -> None:
    spec = parse_server_spec(f"mail.example.org/{flag}")
    assert spec == ServerSpec(host="mail.example.org")


def test_debug_flag() -> None:
    assert parse_server_spec("h/debug").debug


def test_user_with_dots_and_at() -> None:
    assert (
        parse_server_spec("h/user=jane.q.doe@example.org").mailbox_user == "jane.q.doe@example.org"
    )


# --- allows_remote_shell: c-client's rule ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        ("mail.example.org", True),
        ("mail.example.org/user=jane", True),
        ("mail.example.org/novalidate-cert", True),
        ("mail.example.org/notls", True),
        ("mail.example.org/debug", True),
        ("mail.example.org:143", False),  # an explicit port, even the default one
        ("mail.example.org:993", False),
        ("mail.example.org/ssl", False),
        ("mail.example.org/tls", False),
        ("mail.example.org/norsh", False),
        ("[::1]", True),
        ("[::1]:143", False),
    ],
)
def test_allows_remote_shell(text: str, allowed: bool) -> None:
    assert parse_server_spec(text).allows_remote_shell is allowed


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("mail.example.org/frobnicate", r"unknown flag '/frobnicate'"),
        ("mail.example.org/ssl=yes", r"unknown flag '/ssl=yes'"),
        ("mail.example.org/service=pop4", r"unknown flag '/service=pop4'"),
        ("mail.example.org/service", r"unknown flag '/service'"),
        ("mail.example.org/user", r"unknown flag '/user'"),
        ("mail.example.org/", r"unknown flag '/'"),
        ("mail.example.org//ssl", r"unknown flag '/'"),
    ],
)
def test_unknown_flags(text: str, wanted: str) -> None:
    with pytest.raises(PineshError, match=wanted) as info:
        parse_server_spec(text)
    assert info.value.hint is not None and "/norsh" in info.value.hint


@pytest.mark.parametrize(
    "text",
    [
        "mail.example.org:",
        "mail.example.org:imap",
        "mail.example.org:-1",
        "mail.example.org:+143",
        "mail.example.org: 143",
        "[::1]:",
        "[::1]:x",
    ],
)
def test_port_that_is_not_a_number(text: str) -> None:
    with pytest.raises(PineshError, match="is not a number"):
        parse_server_spec(text)


@pytest.mark.parametrize("text", ["mail.example.org:0", "mail.example.org:65536", "h:99999"])
def test_port_out_of_range(text: str) -> None:
    with pytest.raises(PineshError, match="not a TCP port"):
        parse_server_spec(text)


@pytest.mark.parametrize("text", ["mail.example.org:²", "mail.example.org:1²3"])
def test_superscript_digit_port_is_a_pinesh_error(text: str) -> None:
    with pytest.raises(PineshError):
        parse_server_spec(text)


@pytest.mark.parametrize(
    "text",
    [
        "-oProxyCommand=x",
        "-oProxyCommand=x/ssl",
        "-oProxyCommand=x:143",
        "mail example.org",
        "mail;id",
        "$(id)",
        "mail\x1b.example.org",
        "",
        ":143",
    ],
)
def test_hostile_or_missing_host(text: str) -> None:
    with pytest.raises(PineshError):
        parse_server_spec(text)


def test_hostile_host_error_names_the_spec() -> None:
    with pytest.raises(PineshError, match=r"server '-oProxyCommand=x'"):
        parse_server_spec("-oProxyCommand=x")


@pytest.mark.parametrize(
    "text",
    [
        "h/user=-oProxyCommand=x",
        "h/user=jane doe",
        "h/user=",
        "h/user=jane;id",
    ],
)
def test_hostile_user(text: str) -> None:
    with pytest.raises(PineshError):
        parse_server_spec(text)


def test_unclosed_bracket() -> None:
    with pytest.raises(PineshError, match=r"unclosed '\['"):
        parse_server_spec("[::1:143/notls")


def test_junk_after_the_bracket() -> None:
    with pytest.raises(PineshError, match="unexpected 'x' after the host"):
        parse_server_spec("[::1]x")


@pytest.mark.parametrize("text", ["mail.example.org/tls/notls", "mail.example.org/notls/tls"])
def test_tls_and_notls_together_are_refused(text: str) -> None:
    with pytest.raises(PineshError):
        parse_server_spec(text)


# --- format(): parsing's inverse ---------------------------------------------------------------

ROUND_TRIPS = [
    ServerSpec("mail.example.org"),
    ServerSpec("mail.example.org", port=993, ssl=True, mailbox_user="jane"),
    ServerSpec("[::1]", port=143, notls=True),
    ServerSpec("[fe80::1%eth0]"),
    ServerSpec("::1"),  # an IPv6 literal without brackets: no port can follow it
    ServerSpec("news.example.org", service="nntp", mailbox_user="NAME"),
    ServerSpec("h", service="imap"),  # an explicit /imap is kept, not dropped
    ServerSpec("h", service="imap4rev1"),
    ServerSpec("localhost", port=2025, submit=True, tls=True),
    ServerSpec("h", novalidate_cert=True, norsh=True, debug=True, ssl=True),
    ServerSpec("MAIL.Example.ORG", mailbox_user="Jane"),  # case is kept in both
    ServerSpec("h", mailbox_user="jane.q.doe@example.org"),  # a user with '@' and dots
    ServerSpec("h", mailbox_user="a=b"),  # '=' after the first one is the user's
    ServerSpec("192.0.2.7", port=65535),
]


@pytest.mark.parametrize("spec", ROUND_TRIPS, ids=lambda s: s.format())
def test_format_is_what_parsing_reads_back(spec: ServerSpec) -> None:
    assert parse_server_spec(spec.format()) == spec


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("mail.example.org:993/ssl/user=jane", "mail.example.org:993/ssl/user=jane"),
        ("news.example.org/nntp/user=NAME", "news.example.org/nntp/user=NAME"),
        ("h/User=Jane/SSL", "h/ssl/user=Jane"),  # flags in one order, lower case
        ("h/service=NNTP", "h/nntp"),
        ("h/secure/readonly", "h"),  # accepted switches a spec does not keep
        ("  h  ", "h"),
    ],
)
def test_format_writes_one_spelling(text: str, written: str) -> None:
    assert parse_server_spec(text).format() == written


# --- identity(): one name per server -----------------------------------------------------------


def test_identity_is_user_at_host_without_case() -> None:
    assert parse_server_spec("Mail.Example.ORG/user=Jane").identity() == "Jane@mail.example.org"
    assert parse_server_spec("mail.example.org").identity() == "mail.example.org"


def test_identity_ignores_port_and_flags() -> None:
    a = parse_server_spec("mail.example.org/user=jane")
    b = parse_server_spec("MAIL.example.org:993/ssl/user=jane")
    assert a != b
    assert a.identity() == b.identity()


def test_identity_tells_mailbox_users_apart() -> None:
    jane = parse_server_spec("mail.example.org/user=jane").identity()
    john = parse_server_spec("mail.example.org/user=john").identity()
    anyone = parse_server_spec("mail.example.org").identity()
    assert len({jane, john, anyone}) == 3
