"""`pinesh connect SERVER USER METHOD`: the connection command for Alpine, mutt, mbsync.

Alpine runs ``ssh-path`` with ``ssh-command=%s %s %s %s`` as ``pinesh-connect HOST USER
imap``; mutt's ``tunnel`` and mbsync's ``Tunnel`` run ``pinesh connect HOST USER imap``.
USER stands where the client's own template has ``ssh -l USER``: c-client passes the
mailbox's ``/user=`` (else the local login name) as the ssh login. So on a rule's routes it
is the ssh login user when the rule names none, as the client asked; pinesh's own opens
take the rule's user or ssh's config instead (docs/transport.md).
"""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import replace

from pinesh import connect_fast
from pinesh.config.names import check_host, check_user
from pinesh.config.server_spec import ServerSpec
from pinesh.errors import PineshError
from pinesh.paths import runtime_dir
from pinesh.services.connections import Connections, load_connections
from pinesh.services.preauth import NoPreauthServerError, named_in_pinerc, open_preauth
from pinesh.services.relay import relay
from pinesh.transport.channel import Channel
from pinesh.transport.connector import UnreachableError, open_plan
from pinesh.transport.masters import remote_command_tail, stdio_forward_tail
from pinesh.transport.plan import Plan
from pinesh.transport.private_dir import ensure_private_dir
from pinesh.transport.routes import SshChannelRoute, SshPreauthRoute
from pinesh.transport.service import Service

NO_SSH_ROUTE = 1  # tells the client to move on to its next method at once


def _say(message: str) -> None:
    print(f"pinesh connect: {message}", file=sys.stderr, flush=True)


def run_connect(
    config: str | None, pinerc: str | None, server: str, user: str | None, method: str
) -> int:
    try:
        service = Service.parse(method)
        check_host(server)
        if user is not None:
            check_user(user)
    except (ValueError, PineshError) as exc:
        _say(str(exc))
        return NO_SSH_ROUTE
    # Taken before the files are read: a change while we read them must not be
    # remembered as the state the decision was made from.
    remember = _Remember(config, pinerc, server, user, method)
    connections = load_connections(config, pinerc)
    asked_user = _asked_user(user)
    spec = ServerSpec(server, mailbox_user=asked_user)
    plan = connections.plan(spec, service)
    # Only pinesh's own ssh routes: a CommandRoute from the pinerc could be this very
    # command (ssh-path=pinesh-connect), and direct routes are the client's own job.
    routes = [
        _as_login(route, asked_user)
        for route in plan.routes
        if isinstance(route, SshPreauthRoute | SshChannelRoute)
    ]
    try:
        if routes:
            opened = open_plan(
                replace(plan, routes=tuple(routes)), connections.masters(), connections.memory()
            )
        elif (
            plan.rule is None
            and service is Service.IMAP  # as c-client: only IMAP runs a remote command
            and named_in_pinerc(connections, spec, service)
        ):
            # No rule, but the user's pinerc reads this server: Pine's way over our master.
            opened = open_preauth(connections, spec, service)
        else:
            remember.no_route(plan)
            _say(f"no ssh route to {server} for {service.value}; the client should go on")
            return NO_SSH_ROUTE
    except (UnreachableError, NoPreauthServerError) as exc:
        remember.forget()
        _say(str(exc))
        return NO_SSH_ROUTE
    remember.opened(connections, plan, opened.channel)
    _relay(opened.channel)
    return 0


class _Remember:
    """Writes what this run decided to the plan cache that connect_fast serves from."""

    def __init__(
        self, config: str | None, pinerc: str | None, server: str, user: str | None, method: str
    ) -> None:
        config_path, pinerc_path = connect_fast.config_paths(config, pinerc)
        self.key = connect_fast.request_key(
            server, user, method, config_path, pinerc_path, connect_fast.login_name()
        )
        self.idents = [connect_fast.identity(config_path), connect_fast.identity(pinerc_path)]

    def _write(self, record: list[str] | None) -> None:
        try:
            directory = ensure_private_dir(runtime_dir())
            full = None if record is None else self.idents + record
            connect_fast.write_entry(str(directory), self.key, full)
        except (OSError, PineshError):
            pass  # a cache: the full path works without it, only slower

    def forget(self) -> None:
        self._write(None)

    def no_route(self, plan: Plan) -> None:
        # A rule that goes direct on conditions (domain, reachable) decides by where this
        # machine is now: that is not the config's to remember.
        self._write(None if _conditional(plan) else [connect_fast.NO_ROUTE_DECISION])

    def opened(self, connections: Connections, plan: Plan, channel: Channel) -> None:
        """Remember the route that greeted, when the fast path can serve it as we did."""
        route = channel.route
        if _conditional(plan) or channel.service is not Service.IMAP:
            self._write(None)
        elif isinstance(route, SshPreauthRoute):
            tail = remote_command_tail(route.target.host, route.command)
            self._ssh(connections, route, tail, connect_fast.EXPECT_PREAUTH, plan)
        elif (
            isinstance(route, SshChannelRoute)
            and route.trusted_to_server
            and not channel.starttls_done
        ):
            tail = stdio_forward_tail(route.target.host, route.host, route.port)
            self._ssh(connections, route, tail, connect_fast.EXPECT_READY, plan)
        else:
            self._write(None)  # STARTTLS over the last hop: only the full path does that

    def _ssh(
        self,
        connections: Connections,
        route: SshPreauthRoute | SshChannelRoute,
        tail: list[str],
        expect: str,
        plan: Plan,
    ) -> None:
        masters = connections.masters()
        argv = _rider_argv(masters.ssh_argv(route.target, tail))
        control = str(masters.control_path(route.target))
        timeout = repr(float(plan.timeout_for(route)))
        self._write(["ssh", expect, control, timeout, *argv])


def _conditional(plan: Plan) -> bool:
    cond = plan.rule.direct_when if plan.rule is not None else None
    return cond is not None and bool(cond.domain or cond.reachable)


def _rider_argv(argv: list[str]) -> list[str]:
    """argv as a channel that only rides an existing master, never becomes one."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == "-o" and i + 1 < len(argv) and argv[i + 1].startswith("ControlPersist="):
            i += 2
            continue
        if argv[i] == "-o" and argv[i + 1 : i + 2] == ["ControlMaster=auto"]:
            out += ["-o", "ControlMaster=no"]
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def _asked_user(user: str | None) -> str | None:
    """The user the client really asked for, or None to let ssh_config's User apply.

    c-client passes the local login name when the mailbox names no /user=; taking that
    for a login would override ssh_config's User.
    """
    return user if user and user != getpass.getuser() else None


def _as_login(
    route: SshPreauthRoute | SshChannelRoute, user: str | None
) -> SshPreauthRoute | SshChannelRoute:
    """route logging in as user when its rule names no ssh user (the client's ``-l``)."""
    if user is None or route.target.login_user is not None:
        return route
    return replace(route, target=replace(route.target, login_user=user))


def _relay(channel: Channel) -> None:
    """The greeting to stdout, then stdin/stdout relayed until either side closes."""
    try:
        os.write(1, channel.greeting.raw)
        relay(channel.sock, 0, 1)
    except OSError:
        pass  # the client or the server went away: the session is over either way
    finally:
        channel.close()
