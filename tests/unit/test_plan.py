"""plan_routes: from rules, Pine's remote-shell settings and the server name to ordered routes."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from pinesh.config.remote_shell import DEFAULT_TEMPLATE, RemoteShell
from pinesh.config.server_spec import ServerSpec, parse_server_spec
from pinesh.config.settings import DirectCondition, Rule, Settings, SshSettings, Via
from pinesh.errors import PineshError, UnsafeNameError
from pinesh.stores.names import NameContext, parse_mailbox_name
from pinesh.transport.encryption import Encryption
from pinesh.transport.environment import Environment
from pinesh.transport.masters import MasterPool
from pinesh.transport.plan import Plan, plan_routes
from pinesh.transport.routes import (
    CommandRoute,
    DirectRoute,
    Route,
    Security,
    SshChannelRoute,
    SshPreauthRoute,
    SshTarget,
    TlsPolicy,
)
from pinesh.transport.service import Service

IMAP, SMTP, NNTP = Service.IMAP, Service.SMTP, Service.NNTP
NOWHERE = Environment(domain_override="", network_override="test")  # no domain, no probing
DOVECOT = ("/usr/lib/dovecot/imap",)


@dataclass
class FakeEnvironment(Environment):
    """An Environment whose reachable() answers from a set instead of the network."""

    up: set[str] = field(default_factory=set)
    asked: list[str] = field(default_factory=list)

    def reachable(self, host_port: str) -> bool:
        self.asked.append(host_port)
        return host_port in self.up


def plan(
    spec: str,
    service: Service = IMAP,
    *rules: Rule,
    shells: list[RemoteShell] | None = None,
    env: Environment = NOWHERE,
    open_timeout: float = 15.0,
) -> Plan:
    settings = Settings(rules=rules, open_timeout=open_timeout)
    return plan_routes(parse_server_spec(spec), service, settings, shells=shells, env=env)


def ssh_routes(p: Plan) -> tuple[Route, ...]:
    """The plan's routes that are not direct (the routes that go through ssh)."""
    return tuple(r for r in p.routes if not isinstance(r, DirectRoute))


@pytest.fixture(autouse=True)
def local_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(getpass, "getuser", lambda: "localjane")


# --- with a rule ---------------------------------------------------------------------------

MAIL_RULE = Rule(
    servers=("mail.example.org",),
    services=("imap",),
    login_user="jane",
    imap_command=DOVECOT,
    fallback=("tls",),
    line=12,
)
ISP_RULE = Rule(
    servers=("*.isp.example",),
    services=("smtp", "nntp"),
    login="shell.isp.example",
    login_user="jane",
    fallback=(),
)


def test_imap_rule_with_command_is_ssh_preauth_then_tls() -> None:
    p = plan("mail.example.org", IMAP, MAIL_RULE)
    assert p.routes == (
        SshPreauthRoute(SshTarget("mail.example.org", "jane"), DOVECOT),
        DirectRoute("mail.example.org", 993, Security.TLS),
    )
    assert p.rule is MAIL_RULE
    assert p.notes == ("rule at line 12 matches mail.example.org",)


def test_imap_command_with_an_imap_port_adds_a_channel() -> None:
    rule = Rule(servers=("mail.example.org",), imap_command=DOVECOT, ports={"imap": 1143})
    p = plan("mail.example.org", IMAP, rule)
    assert p.routes[:2] == (
        SshPreauthRoute(SshTarget("mail.example.org"), DOVECOT),
        SshChannelRoute(SshTarget("mail.example.org"), "localhost", 1143),
    )


def test_imap_rule_without_command_is_a_channel_to_localhost() -> None:
    rule = Rule(servers=("mail.example.org",), fallback=())
    p = plan("mail.example.org", IMAP, rule)
    assert p.routes == (SshChannelRoute(SshTarget("mail.example.org"), "localhost", 143),)


def test_imap_command_is_only_for_imap() -> None:
    rule = Rule(servers=("mail.example.org",), imap_command=DOVECOT, fallback=())
    p = plan("mail.example.org", SMTP, rule)
    assert p.routes == (SshChannelRoute(SshTarget("mail.example.org"), "localhost", 25),)


def test_smtp_via_login_host_goes_to_the_server_name() -> None:
    p = plan("smtp.isp.example", SMTP, ISP_RULE)
    target = SshTarget("shell.isp.example", "jane")
    assert p.routes == (SshChannelRoute(target, "smtp.isp.example", 25),)
    assert p.routes[0].key == "ssh-channel:jane@shell.isp.example>smtp.isp.example:25"


def test_nntp_via_login_host() -> None:
    p = plan("news.isp.example", NNTP, ISP_RULE)
    assert p.routes == (
        SshChannelRoute(SshTarget("shell.isp.example", "jane"), "news.isp.example", 119),
    )


@pytest.mark.parametrize("service", [IMAP, SMTP, NNTP])
def test_tls_in_the_server_name_requires_starttls_over_the_last_hop(service: Service) -> None:
    rule = Rule(servers=("*.isp.example",), login="shell.isp.example", fallback=())
    required = plan("mail.isp.example/tls", service, rule).routes[-1]
    opportunistic = plan("mail.isp.example", service, rule).routes[-1]
    assert isinstance(required, SshChannelRoute) and required.require_tls
    assert isinstance(opportunistic, SshChannelRoute) and not opportunistic.require_tls


def test_smtp_without_login_host_is_localhost_on_the_server() -> None:
    rule = Rule(servers=("mail.example.org",), fallback=())
    p = plan("mail.example.org", SMTP, rule)
    assert p.routes == (SshChannelRoute(SshTarget("mail.example.org"), "localhost", 25),)


def test_rule_target_and_ports_and_ssh_settings() -> None:
    rule = Rule(
        servers=("smtp.isp.example",),
        login="shell.isp.example",
        login_user="jane",
        ssh_port=2222,
        ssh_options=("-o", "Compression=yes"),
        target_host="10.0.0.25",
        ports={"smtp": 587},
        fallback=(),
    )
    p = plan("smtp.isp.example", SMTP, rule)
    target = SshTarget("shell.isp.example", "jane", 2222, ("-o", "Compression=yes"))
    assert p.routes == (SshChannelRoute(target, "10.0.0.25", 587),)
    assert p.routes[0].describe() == "ssh jane@shell.isp.example:2222 channel to 10.0.0.25:587"


# --- the ssh login user: the rule's, else ssh's config; never the mailbox user ------------

PREAUTH_RULE = Rule(servers=("mail.example.org",), imap_command=DOVECOT, ports={"imap": 1143})


def test_a_rule_route_never_logs_in_as_the_mailbox_user() -> None:
    # IMAP (with /user=) and SMTP (without) of one host: one ssh target, so one master.
    p = plan("mail.example.org/user=jane", IMAP, PREAUTH_RULE)
    assert p.routes[0] == SshPreauthRoute(SshTarget("mail.example.org"), DOVECOT)
    assert p.routes[0].describe().startswith("ssh mail.example.org ")
    smtp = plan("mail.example.org", SMTP, Rule(servers=("mail.example.org",)))
    assert smtp.routes[0] == SshChannelRoute(SshTarget("mail.example.org"), "localhost", 25)


def test_the_rules_own_user_is_the_ssh_login() -> None:
    rule = replace(PREAUTH_RULE, login_user="jdoe")
    p = plan("mail.example.org/user=jane", IMAP, rule)
    assert p.routes[0] == SshPreauthRoute(SshTarget("mail.example.org", "jdoe"), DOVECOT)
    assert p.routes[1] == SshChannelRoute(SshTarget("mail.example.org", "jdoe"), "localhost", 1143)


def test_without_any_user_ssh_config_decides() -> None:
    p = plan("mail.example.org", IMAP, PREAUTH_RULE)
    assert p.routes[0] == SshPreauthRoute(SshTarget("mail.example.org"), DOVECOT)


def test_a_channel_never_logs_in_as_the_mailbox_user() -> None:
    # The server asks for the mailbox user's password itself; the ssh account is another's.
    p = plan("mail.example.org/user=jane", IMAP, PREAUTH_RULE)
    assert p.routes[1] == SshChannelRoute(SshTarget("mail.example.org"), "localhost", 1143)
    smtp = plan("mail.example.org/user=jane", SMTP, Rule(servers=("mail.example.org",)))
    assert smtp.routes[0] == SshChannelRoute(SshTarget("mail.example.org"), "localhost", 25)


def test_the_server_value_from_the_pinerc_reaches_the_ssh_argv(tmp_path: Path) -> None:
    """From the pinerc's name to ssh's argv, one value, parsed once; -l is the rule's user."""
    rule = replace(PREAUTH_RULE, login_user="jdoe")
    settings = Settings(rules=(rule,), ssh=SshSettings(control_dir=tmp_path / "ctl"))
    mailbox = parse_mailbox_name("{mail.example.org/user=jane}INBOX", NameContext(tmp_path))
    assert mailbox.server is not None
    p = plan_routes(mailbox.server, IMAP, settings, env=NOWHERE)
    assert p.server is mailbox.server
    route = p.routes[0]
    assert isinstance(route, SshPreauthRoute)
    argv = MasterPool(settings.ssh).ssh_argv(route.target, ["--", "mail.example.org"])
    assert argv[argv.index("-l") + 1] == "jdoe"


def test_through_another_login_host_the_mailbox_user_is_not_the_ssh_user() -> None:
    rule = replace(PREAUTH_RULE, login="shell.example.org")
    p = plan("mail.example.org/user=jane", IMAP, rule)
    assert p.routes[0] == SshPreauthRoute(SshTarget("shell.example.org"), DOVECOT)
    assert p.routes[1] == SshChannelRoute(SshTarget("shell.example.org"), "mail.example.org", 1143)


def test_fallback_routes_with_ports() -> None:
    rule = Rule(servers=("smtp.isp.example",), fallback=("starttls:587", "tls", "plain:2525"))
    p = plan("smtp.isp.example", SMTP, rule)
    assert p.routes[1:] == (
        DirectRoute("smtp.isp.example", 587, Security.STARTTLS),
        DirectRoute("smtp.isp.example", 465, Security.TLS),
        DirectRoute("smtp.isp.example", 2525, Security.PLAIN),
    )


def test_fallback_defaults_use_the_service_ports() -> None:
    rule = Rule(servers=("news.example.org",), fallback=("tls", "starttls"))
    p = plan("news.example.org", NNTP, rule)
    assert [(r.port, r.security) for r in p.routes if isinstance(r, DirectRoute)] == [
        (563, Security.TLS),
        (119, Security.STARTTLS),
    ]


def test_fallback_uses_the_port_in_the_server_name() -> None:
    p = plan("mail.example.org:1993", IMAP, MAIL_RULE)
    assert p.routes[-1] == DirectRoute("mail.example.org", 1993, Security.TLS)


def test_empty_fallback_means_ssh_only() -> None:
    p = plan("smtp.isp.example", SMTP, ISP_RULE)
    assert all(not isinstance(r, DirectRoute) for r in p.routes)
    assert ssh_routes(p) == p.routes


def test_direct_when_domain_matches_skips_ssh() -> None:
    rule = Rule(
        servers=("mail.example.org",),
        imap_command=DOVECOT,
        fallback=("tls",),
        direct_when=DirectCondition(domain="example.org"),
    )
    p = plan("mail.example.org", IMAP, rule, env=Environment(domain_override="example.org"))
    assert p.routes == (DirectRoute("mail.example.org", 993, Security.TLS),)
    assert ssh_routes(p) == ()
    assert any("going direct" in note and "example.org" in note for note in p.notes)


@pytest.mark.parametrize(
    ("here", "wanted", "direct"),
    [
        ("example.org", "example.org", True),
        ("example.org", "EXAMPLE.ORG", True),  # the rule's domain is compared without case
        ("example.org", "example.org.", True),  # and without a trailing dot
        ("office.example.org", "example.org", True),  # a subdomain is inside
        ("notexample.org", "example.org", False),  # a suffix that is not a label boundary
        ("example.org.evil.net", "example.org", False),
        ("example.org", "office.example.org", False),  # the parent is not inside the child
        ("", "example.org", False),  # domain unknown: keep ssh
    ],
)
def test_direct_when_domain_matching(here: str, wanted: str, direct: bool) -> None:
    rule = Rule(
        servers=("mail.example.org",),
        imap_command=DOVECOT,
        direct_when=DirectCondition(domain=wanted),
    )
    p = plan("mail.example.org", IMAP, rule, env=Environment(domain_override=here))
    assert (ssh_routes(p) == ()) is direct


def test_direct_when_reachable() -> None:
    rule = Rule(
        servers=("news.example.org",),
        direct_when=DirectCondition(reachable="news.example.org:119"),
        fallback=("starttls",),
    )
    env = FakeEnvironment(domain_override="", up={"news.example.org:119"})
    p = plan("news.example.org", NNTP, rule, env=env)
    assert p.routes == (DirectRoute("news.example.org", 119, Security.STARTTLS),)
    assert env.asked == ["news.example.org:119"]
    assert any("reachable" in note for note in p.notes)

    env = FakeEnvironment(domain_override="")
    p = plan("news.example.org", NNTP, rule, env=env)
    assert len(ssh_routes(p)) == 1


def test_via_direct_never_uses_ssh_and_never_probes() -> None:
    rule = Rule(
        servers=("news.example.org",),
        via=Via.DIRECT,
        imap_command=DOVECOT,
        fallback=("tls",),
        direct_when=DirectCondition(reachable="news.example.org:119"),
    )
    env = FakeEnvironment(domain_override="")
    p = plan("news.example.org", IMAP, rule, env=env)
    assert p.routes == (DirectRoute("news.example.org", 993, Security.TLS),)
    assert env.asked == []
    assert not any("going direct" in note for note in p.notes)


def test_norsh_in_the_name_skips_the_rules_ssh_routes() -> None:
    p = plan("mail.example.org/norsh", IMAP, MAIL_RULE)
    assert p.routes == (DirectRoute("mail.example.org", 993, Security.TLS),)


def test_rule_timeout_wins_over_the_global_one() -> None:
    rule = Rule(servers=("mail.example.org",), open_timeout=4.0)
    assert plan("mail.example.org", IMAP, rule, open_timeout=30).timeout == 4.0
    assert plan("mail.example.org", IMAP, MAIL_RULE, open_timeout=30).timeout == 30.0


def test_rule_tls_policy_reaches_the_direct_routes() -> None:
    rule = Rule(
        servers=("mail.example.org",),
        fallback=("tls",),
        ca_file="/etc/ssl/ca.pem",
        fingerprint="ab" * 32,
    )
    route = plan("mail.example.org", IMAP, rule).routes[-1]
    assert isinstance(route, DirectRoute)
    assert route.tls == TlsPolicy(verify=True, ca_file="/etc/ssl/ca.pem", fingerprint="ab" * 32)


@pytest.mark.parametrize(
    ("spec", "verify", "verified"),
    [
        ("mail.example.org", True, True),
        ("mail.example.org/novalidate-cert", True, False),
        ("mail.example.org", False, False),
    ],
)
def test_certificate_checking(spec: str, verify: bool, verified: bool) -> None:
    rule = Rule(servers=("mail.example.org",), fallback=("tls",), verify=verify)
    route = plan(spec, IMAP, rule).routes[-1]
    assert isinstance(route, DirectRoute)
    assert route.tls.verify is verified


def test_a_channel_beyond_the_login_host_gets_the_rules_tls_and_private_hop() -> None:
    rule = Rule(
        servers=("mail.example.org",),
        login="shell.example.org",
        ca_file="/etc/ssl/ca.pem",
        private_hop=True,
        fallback=(),
    )
    [route] = plan("mail.example.org", IMAP, rule).routes
    assert isinstance(route, SshChannelRoute)
    assert route.private_hop and route.trusted_to_server
    assert route.tls == TlsPolicy(verify=True, ca_file="/etc/ssl/ca.pem")


def test_a_channel_beyond_the_login_host_is_not_trusted_unless_said() -> None:
    [route] = plan("smtp.isp.example", SMTP, ISP_RULE).routes
    assert isinstance(route, SshChannelRoute)
    assert not route.ends_on_login_host and not route.trusted_to_server
    rule = Rule(servers=("mail.example.org",), fallback=())
    [route] = plan("mail.example.org", SMTP, rule).routes
    assert isinstance(route, SshChannelRoute) and route.trusted_to_server  # localhost


def test_rule_for_another_service_is_not_used() -> None:
    p = plan("mail.example.org", SMTP, MAIL_RULE)
    assert p.rule is None
    assert p.routes == (DirectRoute("mail.example.org", 25, Security.STARTTLS),)


def test_hostile_login_in_a_rule_is_refused_when_planning() -> None:
    # The config loader misses this one (see test_pinesh_toml); the route refuses it anyway.
    rule = Rule(servers=("mail.example.org",), login="-oProxyCommand=sh*")
    with pytest.raises(UnsafeNameError):
        plan("mail.example.org", IMAP, rule)


def test_plan_key_and_server() -> None:
    p = plan("Mail.Example.org", SMTP, ISP_RULE)
    assert p.server == ServerSpec("Mail.Example.org")
    assert p.key == "smtp:mail.example.org"  # the server's identity: hosts without case
    assert p.former_key == "smtp:Mail.Example.org"  # what older route memories used
    assert p.service is SMTP


# --- without a rule: Pine's settings -------------------------------------------------------

SSH_SHELL = RemoteShell("ssh", "/usr/bin/ssh", DEFAULT_TEMPLATE, 20)
RSH_SHELL = RemoteShell("rsh", "/usr/bin/rsh", DEFAULT_TEMPLATE, 0)


def test_ssh_path_runs_through_the_shared_master() -> None:
    """A pinerc's ssh-path=/usr/bin/ssh alone: its template rides pinesh's master."""
    p = plan("mail.example.org/user=jane", IMAP, shells=[SSH_SHELL])
    assert p.routes == (
        SshPreauthRoute(
            SshTarget("mail.example.org", "jane"),
            ("/etc/rimapd",),
            origin="ssh-command",
            timeout=20.0,
        ),
        DirectRoute("mail.example.org", 143, Security.STARTTLS),
    )
    assert p.timeout_for(p.routes[0]) == 20.0
    # Pine's ssh-open-timeout is the ssh command's; the direct route keeps pinesh's own.
    assert p.timeout_for(p.routes[1]) == 15.0
    assert p.rule is None
    assert p.notes == (
        "Pine's ssh-path/rsh-path settings",
        "ssh-command /usr/bin/ssh: through pinesh's shared ssh master for jane@mail.example.org",
    )
    assert p.routes[0].describe() == (
        "pinerc ssh-command: ssh jane@mail.example.org (preauth: /etc/rimapd)"
    )


def test_the_templates_ssh_options_are_the_masters_identity() -> None:
    shell = RemoteShell(
        "rsh",
        "/usr/bin/ssh",
        "%s %s -q -F /home/jane/.ssh/mail -p 2222 -oProxyJump=gw -i ~/.ssh/k -l %s exec /etc/r%sd",
        15,
    )
    route = plan("mail.example.org/user=jane", IMAP, shells=[shell]).routes[0]
    assert route == SshPreauthRoute(
        SshTarget(
            "mail.example.org",
            "jane",
            2222,
            ("-F", "/home/jane/.ssh/mail", "-o", "ProxyJump=gw", "-i", "~/.ssh/k"),
        ),
        ("/etc/rimapd",),
        origin="rsh-command",
        timeout=15.0,
    )


def test_an_ssh_template_with_a_forward_runs_as_its_own_ssh() -> None:
    shell = RemoteShell(
        "ssh", "/usr/bin/ssh", "%s %s -L 2025:localhost:25 -l %s exec /etc/r%sd", 15
    )
    p = plan("mail.example.org/user=jane", IMAP, shells=[shell])
    route = p.routes[0]
    assert isinstance(route, CommandRoute)
    assert route.argv[0] == "/usr/bin/ssh" and route.encryption is Encryption.ENCRYPTED
    assert (
        "ssh-command /usr/bin/ssh: run as its own ssh, not through the shared master: "
        "it asks for a local port forward (-L)"
    ) in p.notes


def test_command_route_uses_the_local_user_without_user_flag() -> None:
    """As c-client: without /user=, the template's -l gets the local login name."""
    route = plan("mail.example.org", IMAP, shells=[SSH_SHELL]).routes[0]
    assert isinstance(route, SshPreauthRoute)
    assert route.target.login_user == "localjane"
    script = RemoteShell("rsh", "/path/to/script", DEFAULT_TEMPLATE, 15)
    command = plan("mail.example.org", IMAP, shells=[script]).routes[0]
    assert isinstance(command, CommandRoute)
    assert command.argv[3] == "localjane"


def test_pinesh_connect_template() -> None:
    shell = RemoteShell("ssh", "/usr/local/bin/pinesh-connect", "%s %s %s %s", 15)
    route = plan("mail.example.org/user=jane", IMAP, shells=[shell]).routes[0]
    assert isinstance(route, CommandRoute)
    assert route.argv == ("/usr/local/bin/pinesh-connect", "mail.example.org", "jane", "imap")


def test_disabled_method_gives_no_route() -> None:
    p = plan("mail.example.org", IMAP, shells=[RSH_SHELL], open_timeout=15)
    assert p.routes == (DirectRoute("mail.example.org", 143, Security.STARTTLS),)
    assert p.timeout == 15.0
    assert p.notes == ()


@pytest.mark.parametrize(
    "spec", ["mail.example.org/norsh", "mail.example.org:143", "mail.example.org/tls"]
)
def test_names_that_skip_remote_shells(spec: str) -> None:
    p = plan(spec, IMAP, shells=[SSH_SHELL], open_timeout=15)
    assert all(isinstance(r, DirectRoute) for r in p.routes)
    assert p.timeout == 15.0


@pytest.mark.parametrize("service", [SMTP, NNTP])
def test_remote_shells_are_for_imap_only(service: Service) -> None:
    p = plan("mail.example.org", service, shells=[SSH_SHELL])
    assert all(isinstance(r, DirectRoute) for r in p.routes)


@pytest.mark.parametrize(
    ("spec", "service", "route"),
    [
        ("mail.example.org", IMAP, DirectRoute("mail.example.org", 143, Security.STARTTLS)),
        ("mail.example.org/ssl", IMAP, DirectRoute("mail.example.org", 993, Security.TLS)),
        ("mail.example.org/notls", IMAP, DirectRoute("mail.example.org", 143, Security.PLAIN)),
        ("mail.example.org/tls", IMAP, DirectRoute("mail.example.org", 143, Security.STARTTLS)),
        ("mail.example.org:1993/ssl", IMAP, DirectRoute("mail.example.org", 1993, Security.TLS)),
        ("[::1]:2143/notls", IMAP, DirectRoute("[::1]", 2143, Security.PLAIN)),
        ("smtp.example.org", SMTP, DirectRoute("smtp.example.org", 25, Security.STARTTLS)),
        ("smtp.example.org/ssl", SMTP, DirectRoute("smtp.example.org", 465, Security.TLS)),
        (
            "localhost:2025/submit/tls",
            SMTP,
            DirectRoute("localhost", 2025, Security.STARTTLS),
        ),
        ("news.example.org", NNTP, DirectRoute("news.example.org", 119, Security.STARTTLS)),
        ("news.example.org/ssl", NNTP, DirectRoute("news.example.org", 563, Security.TLS)),
    ],
)
def test_direct_route_from_the_name(spec: str, service: Service, route: DirectRoute) -> None:
    assert plan(spec, service).routes == (route,)


def test_novalidate_cert_without_rule() -> None:
    route = plan("mail.example.org/ssl/novalidate-cert", IMAP).routes[0]
    assert isinstance(route, DirectRoute)
    assert route.tls.verify is False


# --- never plain unless asked by name ------------------------------------------------------

NEVER_PLAIN = [
    ("mail.example.org", IMAP, ()),
    ("mail.example.org/ssl", IMAP, ()),
    ("mail.example.org/tls", SMTP, ()),
    ("mail.example.org:143", IMAP, ()),
    ("news.example.org", NNTP, ()),
    ("mail.example.org", IMAP, (MAIL_RULE,)),
    ("smtp.isp.example", SMTP, (ISP_RULE,)),
    ("mail.example.org", IMAP, (Rule(servers=("*",)),)),
    ("mail.example.org", SMTP, (Rule(servers=("*",), fallback=("tls", "starttls")),)),
    ("mail.example.org", IMAP, (Rule(servers=("*",), via=Via.DIRECT),)),
]


@pytest.mark.parametrize(("spec", "service", "rules"), NEVER_PLAIN)
def test_no_plain_route_unless_asked(spec: str, service: Service, rules: tuple[Rule, ...]) -> None:
    p = plan(spec, service, *rules, shells=[SSH_SHELL])
    assert p.routes
    assert all(r.security is not Security.PLAIN for r in p.routes if isinstance(r, DirectRoute))


@pytest.mark.parametrize(
    ("spec", "rules"),
    [
        ("mail.example.org/notls", ()),
        ("mail.example.org", (Rule(servers=("*",), fallback=("plain",)),)),
    ],
)
def test_plain_when_asked_by_name(spec: str, rules: tuple[Rule, ...]) -> None:
    p = plan(spec, IMAP, *rules)
    assert any(isinstance(r, DirectRoute) and r.security is Security.PLAIN for r in p.routes)


def test_tls_with_notls_is_refused_never_plain() -> None:
    with pytest.raises(PineshError, match="contradicts"):
        plan("mail.example.org/tls/notls", IMAP)


@pytest.mark.parametrize(
    ("method", "path", "encryption"),
    [
        ("rsh", "/usr/bin/rsh", Encryption.CLEARTEXT),
        ("rsh", "/usr/local/bin/pinesh-connect", Encryption.ENCRYPTED),
        ("ssh", "/usr/bin/slogin", Encryption.ENCRYPTED),
        ("rsh", "/home/jane/bin/my-script", Encryption.NOT_KNOWN),
        ("ssh", "/home/jane/bin/my-script", Encryption.NOT_KNOWN),  # ssh-path is no proof
    ],
)
def test_remote_shell_routes_know_whether_they_encrypt(
    method: str, path: str, encryption: Encryption
) -> None:
    shell = RemoteShell(method, path, DEFAULT_TEMPLATE, 15)
    p = plan("mail.example.org/user=jane", IMAP, shells=[shell])
    route = p.routes[0]
    assert isinstance(route, CommandRoute)
    assert route.encryption is encryption


BOOK_SHELL = RemoteShell("rsh", "/path/to/script", "%s %s -q -l %s exec /etc/r%sd", 15)


def test_the_books_script_is_planned_with_encryption_not_known() -> None:
    """The case study's rsh-path script: run as is, PREAUTH believed, doctor told why."""
    p = plan("mail.example.org/user=jane", IMAP, shells=[BOOK_SHELL])
    route = p.routes[0]
    assert route == CommandRoute(
        ("/path/to/script", "mail.example.org", "-q", "-l", "jane", "exec", "/etc/rimapd"),
        label="rsh-command",
        timeout=15.0,
    )
    assert route.encryption is Encryption.NOT_KNOWN
    assert (
        "rsh-command /path/to/script: command, encryption not known; PREAUTH is accepted "
        "(a local pipe), no password is sent over it"
    ) in p.notes


def test_rsh_is_planned_as_cleartext_and_doctor_says_so() -> None:
    shell = RemoteShell("rsh", "/usr/bin/rsh", DEFAULT_TEMPLATE, 15)
    p = plan("mail.example.org/user=jane", IMAP, shells=[shell])
    route = p.routes[0]
    assert isinstance(route, CommandRoute)
    assert route.encryption is Encryption.CLEARTEXT
    assert any(
        n.startswith("rsh-command /usr/bin/rsh: cleartext; PREAUTH is refused") for n in p.notes
    )


def test_submit_uses_the_submission_port() -> None:
    p = plan("smtp.example.org/submit", SMTP)
    assert [(r.port, r.security) for r in p.routes if isinstance(r, DirectRoute)] == [
        (587, Security.STARTTLS)
    ]
