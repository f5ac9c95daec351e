"""Route planning: from the rules, Pine's settings and the server's name to ordered routes."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from pathlib import PurePosixPath

from pinesh.config.pinesh_toml import matching_rule
from pinesh.config.remote_shell import RemoteShell
from pinesh.config.server_spec import ServerSpec
from pinesh.config.settings import Rule, Settings, Via
from pinesh.transport.encryption import Encryption
from pinesh.transport.environment import Environment
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
from pinesh.transport.ssh_command import NotForMasterError, read_ssh_command


@dataclass(frozen=True)
class Plan:
    """The routes to try, in order, for one service of one server."""

    server: ServerSpec
    service: Service
    routes: tuple[Route, ...]
    timeout: float  # seconds for each route's open, up to a verified greeting
    rule: Rule | None
    notes: tuple[str, ...] = ()  # why the plan is what it is, for doctor and errors

    @property
    def key(self) -> str:
        """The route memory's key: the service and the server's identity."""
        return f"{self.service.value}:{self.server.identity()}"

    @property
    def former_key(self) -> str:
        """The key older route memories used (the host as written, no user): still read,
        so what users' state files remember survives (RouteMemory moves it on a write)."""
        return f"{self.service.value}:{self.server.host}"

    def timeout_for(self, route: Route) -> float:
        """Seconds route may take: its own (Pine's ssh-open-timeout), else the plan's."""
        if isinstance(route, CommandRoute | SshPreauthRoute) and route.timeout:
            return route.timeout
        return self.timeout


def _direct_when(rule: Rule, env: Environment) -> str | None:
    """Why the rule says to go direct from here, or None."""
    cond = rule.direct_when
    if cond.domain and env.domain_matches(cond.domain):
        return f"going direct: this machine's domain is {env.domain()}"
    if cond.reachable and env.reachable(cond.reachable):
        return f"going direct: {cond.reachable} is reachable from here"
    return None


def _rule_ssh_routes(rule: Rule, spec: ServerSpec, service: Service, tls: TlsPolicy) -> list[Route]:
    # The ssh login user of every route of a rule is the rule's own, else ssh's config;
    # never the mailbox user (/user=): then the IMAP, SMTP and NNTP of one host share one
    # target and so one master. A preauth server serves whoever ssh logged in as, so a
    # user whose ssh account is not the mailbox user sets the rule's user (docs/transport.md).
    target = SshTarget(rule.login or spec.host, rule.login_user, rule.ssh_port, rule.ssh_options)
    routes: list[Route] = []
    if service is Service.IMAP and rule.imap_command:
        routes.append(SshPreauthRoute(target, rule.imap_command))
    if service is not Service.IMAP or not rule.imap_command or service.value in rule.ports:
        # Seen from the login host: the server itself is "localhost" when we log in to it.
        host = rule.target_host or ("localhost" if rule.login is None else spec.host)
        port = rule.ports.get(service.value, service.plain_port)
        # Pine's /tls asks for TLS: over a cleartext last hop, STARTTLS becomes required.
        routes.append(SshChannelRoute(target, host, port, rule.private_hop, tls, spec.tls))
    return routes


SUBMISSION_PORT = 587


def _command_note(route: CommandRoute) -> str | None:
    """What doctor should say about a command route that is not known to encrypt."""
    trust = route.encryption
    if trust is Encryption.NOT_KNOWN:
        return (
            f"{route.label} {route.argv[0]}: {trust.describe()}; PREAUTH is accepted "
            "(a local pipe), no password is sent over it"
        )
    if trust is Encryption.CLEARTEXT:
        return (
            f"{route.label} {route.argv[0]}: cleartext; PREAUTH is refused and no "
            "password is sent over it"
        )
    return None


def _remote_shell_route(argv: tuple[str, ...], label: str, timeout: float) -> tuple[Route, str]:
    """The route for one of Pine's expanded remote-shell commands, and a note on it.

    The OpenSSH client itself runs through pinesh's shared master (its options kept as
    the master's identity), unless the command line asks for something a master's
    channel cannot be; any other program runs as it is.
    """
    if PurePosixPath(argv[0]).name == "ssh":
        try:
            ssh = read_ssh_command(argv)
        except NotForMasterError as exc:
            return CommandRoute(argv, label=label, timeout=timeout), (
                f"{label} {argv[0]}: run as its own ssh, not through the shared master: {exc}"
            )
        options = f" with {' '.join(ssh.target.options)}" if ssh.target.options else ""
        return SshPreauthRoute(ssh.target, ssh.command, origin=label, timeout=timeout), (
            f"{label} {argv[0]}: through pinesh's shared ssh master for "
            f"{ssh.target.label()}{options}"
        )
    route = CommandRoute(argv, label=label, timeout=timeout)
    return route, _command_note(route) or f"{label} {argv[0]}: run as it is"


def _direct_routes(
    kinds: tuple[str, ...], spec: ServerSpec, service: Service, tls: TlsPolicy
) -> list[Route]:
    routes: list[Route] = []
    for item in kinds:
        kind, _, port_text = item.partition(":")
        security = Security(kind)
        default = service.tls_port if security is Security.TLS else service.plain_port
        if service is Service.SMTP and spec.submit and security is not Security.TLS:
            default = SUBMISSION_PORT  # Pine's /submit: message submission (RFC 6409)
        port = int(port_text) if port_text else (spec.port or default)
        routes.append(DirectRoute(spec.host, port, security, tls))
    return routes


def _spec_direct_kinds(spec: ServerSpec) -> tuple[str, ...]:
    """Pine's flags to direct routes: /ssl TLS, /notls plain, otherwise STARTTLS required."""
    if spec.ssl:
        return ("tls",)
    if spec.notls:
        return ("plain",)
    return ("starttls",)


def plan_routes(
    spec: ServerSpec,
    service: Service,
    settings: Settings,
    *,
    shells: list[RemoteShell] | None = None,
    env: Environment | None = None,
) -> Plan:
    """Ordered routes for service on the server spec names.

    With a rule: its ssh routes (unless a direct_when condition holds here), then its
    fallbacks. Without one, for IMAP: Pine's remote-shell commands (when the name allows
    them), then direct. /norsh in the name skips every ssh route.
    """
    env = env or Environment()
    rule = matching_rule(settings, spec.host, service.value)
    routes: list[Route] = []
    notes: list[str] = []
    timeout = settings.open_timeout
    tls = TlsPolicy(verify=not spec.novalidate_cert)
    if rule is not None:
        where = f"line {rule.line}" if rule.line else "the config"
        notes.append(f"rule at {where} matches {spec.host}")
        tls = TlsPolicy(
            verify=rule.verify and not spec.novalidate_cert,
            ca_file=rule.ca_file,
            fingerprint=rule.fingerprint,
        )
        timeout = rule.open_timeout or timeout
        direct_reason = _direct_when(rule, env) if rule.via is Via.SSH else None
        if direct_reason:
            notes.append(direct_reason)
        elif rule.via is Via.SSH and not spec.norsh:
            routes += _rule_ssh_routes(rule, spec, service, tls)
        routes += _direct_routes(rule.fallback, spec, service, tls)
    else:
        if service is Service.IMAP and shells and spec.allows_remote_shell:
            # c-client: the template's -l gets the mailbox user, else the local login name.
            user = spec.mailbox_user or getpass.getuser()
            for shell in shells:
                if shell.enabled:
                    argv = tuple(shell.argv(spec.host, user, "imap"))
                    label = f"{shell.method}-command"
                    route, note = _remote_shell_route(argv, label, float(shell.timeout))
                    routes.append(route)
                    notes.append(note)
            if routes:
                notes.insert(0, "Pine's ssh-path/rsh-path settings")
        routes += _direct_routes(_spec_direct_kinds(spec), spec, service, tls)
    return Plan(spec, service, tuple(routes), timeout, rule, tuple(notes))
