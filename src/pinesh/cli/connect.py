"""`pinesh connect SERVER USER METHOD`: the connection command for Alpine, mutt, mbsync.

Alpine runs ``ssh-path`` with ``ssh-command=%s %s %s %s`` as ``pinesh-connect HOST USER
imap``; mutt's ``tunnel`` and mbsync's ``Tunnel`` run ``pinesh connect HOST USER imap``.
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
from pinesh.services.relay import relay
from pinesh.transport.connector import UnreachableError, open_plan
from pinesh.transport.routes import CommandRoute, DirectRoute, SshChannelRoute, SshPreauthRoute
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
    plan = connections.plan(ServerSpec(server), service)
    # Only pinesh's own ssh routes: a CommandRoute from the pinerc could be this very
    # command (ssh-path=pinesh-connect), and direct routes are the client's own job.
    routes = []
    for route in plan.routes:
        if isinstance(route, CommandRoute | DirectRoute):
            continue
        assert isinstance(route, SshPreauthRoute | SshChannelRoute)
        # c-client passes the local login name when the mailbox names no /user=; only a
        # user the client really asked for overrides ssh_config's User.
        if route.target.user is None and user and user != getpass.getuser():
            route = replace(route, target=replace(route.target, user=user))
        routes.append(route)
    if not routes:
        _say(f"no ssh route to {server} for {service.value}; the client should go on")
        return NO_SSH_ROUTE
    try:
        opened = open_plan(
            replace(plan, routes=tuple(routes)), connections.masters(), connections.memory()
        )
    except UnreachableError as exc:
        _say(str(exc))
        return NO_SSH_ROUTE
    channel = opened.channel
    try:
        os.write(1, channel.greeting.raw)
        relay(channel.sock, 0, 1)
    except OSError:
        pass  # the client or the server went away: the session is over either way
    finally:
        channel.close()
    return 0
