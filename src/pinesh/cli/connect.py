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

from pinesh.config.names import check_host, check_user
from pinesh.config.server_spec import ServerSpec
from pinesh.errors import PineshError
from pinesh.services.connections import load_connections
from pinesh.services.preauth import NoPreauthServerError, named_in_pinerc, open_preauth
from pinesh.services.relay import relay
from pinesh.transport.channel import Channel
from pinesh.transport.connector import UnreachableError, open_plan
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
            _say(f"no ssh route to {server} for {service.value}; the client should go on")
            return NO_SSH_ROUTE
    except (UnreachableError, NoPreauthServerError) as exc:
        _say(str(exc))
        return NO_SSH_ROUTE
    _relay(opened.channel)
    return 0


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
