"""Preauthenticated IMAP over the shared master for a server no rule names.

`pinesh connect HOST USER imap` with no ``[[rule]]`` for HOST serves it when the pinerc
names HOST: first Pine's default remote command (``/etc/rimapd``), then, when that is
not there, a preauthenticated IMAP server found on the host by one probe. What the probe
found is remembered per ssh login, so the next connect goes straight to it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from pinesh.config.server_spec import ServerSpec
from pinesh.errors import PineshError
from pinesh.paths import state_dir
from pinesh.services.connections import Connections
from pinesh.services.servers import configured_servers
from pinesh.transport.channel import Channel
from pinesh.transport.connector import Opened
from pinesh.transport.opener import RouteError, open_route
from pinesh.transport.preauth_memory import PreauthMemory
from pinesh.transport.remote_probe import ProbeError, probe_executables
from pinesh.transport.routes import SshPreauthRoute, SshTarget
from pinesh.transport.service import Service

# Pine's default remote command (c-client's "%s %s -l %s exec /etc/r%sd"), %s the service.
PINE_REMOTE_PATH = "/etc/r%sd"

# Programs that speak preauthenticated IMAP on stdin/stdout when run as the user, in the
# order they are tried. Courier's /usr/bin/imapd greets PREAUTH by itself (it sets
# AUTHENTICATED from the passwd entry when no login wrapper ran it, and opens ~/Maildir);
# on Debian /usr/sbin/imapd is Courier's start script, which prints nothing and so fails
# the greeting check before the real imapd is tried.
PREAUTH_SERVERS = (
    "/usr/lib/dovecot/imap",  # Dovecot: Debian, Ubuntu, Arch
    "/usr/libexec/dovecot/imap",  # Dovecot: Fedora, RHEL, openSUSE
    "/usr/local/libexec/dovecot/imap",  # Dovecot: FreeBSD ports
    "/usr/sbin/imapd",  # UW imapd
    "/usr/local/sbin/imapd",  # UW imapd, built from source
    "/usr/local/libexec/imapd",  # UW imapd, BSD ports
    "/usr/bin/imapd",  # Courier: Debian's courier-imap
    "/usr/lib/courier-imap/bin/imapd",  # Courier, built from source
)


class NoPreauthServerError(PineshError):
    """Neither Pine's command nor any server found on the host greeted PREAUTH."""


def pine_default_command(service: Service) -> tuple[str, ...]:
    """Pine's default remote command for service: ``/etc/rimapd`` for IMAP."""
    return (PINE_REMOTE_PATH.replace("%s", service.value),)


def named_in_pinerc(connections: Connections, server: ServerSpec, service: Service) -> bool:
    """Whether the pinerc names server's host for service (inbox-path, collections...)."""
    found, _ = configured_servers(connections.pinerc, connections.settings)
    wanted = server.host.lower()
    return any(s.spec.host.lower() == wanted and s.service is service for s in found)


def preauth_memory(connections: Connections) -> PreauthMemory:
    state = connections.settings.state_dir or state_dir()
    return PreauthMemory(state / "preauth.json")


def open_preauth(
    connections: Connections,
    server: ServerSpec,
    service: Service = Service.IMAP,
    *,
    default_command: Sequence[str] | None = None,
    candidates: Sequence[str] = PREAUTH_SERVERS,
) -> Opened:
    """A PREAUTH channel to host's IMAP over the shared master, found as the module says.

    Order: the remembered command (forgotten when it fails), Pine's default command, then
    the probe's finds. The probe runs only when the ssh login itself worked (the master is
    up) and nothing timed out: a host that cannot be reached is not probed. ssh logs in
    as the mailbox user (/user=), else as ssh's config says: PREAUTH serves the login.
    """
    host = server.host
    target = SshTarget(host, server.mailbox_user)
    masters = connections.masters()
    memory = preauth_memory(connections)
    login = target.label()
    timeout = connections.settings.open_timeout
    failures: list[RouteError] = []
    tried: list[tuple[str, ...]] = []

    def attempt(command: Sequence[str]) -> Channel | None:
        route = SshPreauthRoute(target, tuple(command))
        tried.append(route.command)
        try:
            return open_route(
                route,
                service,
                server=server,
                deadline=time.monotonic() + timeout,
                masters=masters,
            )
        except RouteError as exc:
            failures.append(exc)
            return None

    def login_failed() -> NoPreauthServerError | None:
        # Only a host we could log in to is worth another command, a probe, or forgetting
        # what was found there: a dead network must not cost the memory.
        if failures[-1].timed_out or not masters.is_up(target):
            return _unreachable(host, failures, "the ssh login did not work; nothing probed")
        return None

    remembered = memory.command(login)
    if remembered is not None:
        if (channel := attempt(remembered)) is not None:
            return Opened(channel, failures)
        if (error := login_failed()) is not None:
            raise error
        memory.forget(login)
    default = tuple(default_command or pine_default_command(service))
    if default not in tried:
        if (channel := attempt(default)) is not None:
            return Opened(channel, failures)
        if (error := login_failed()) is not None:
            raise error
    try:
        found = probe_executables(masters, target, candidates, timeout)
    except ProbeError as exc:
        raise _unreachable(host, failures, str(exc)) from exc
    for path in found:
        if (path,) not in tried and (channel := attempt((path,))) is not None:
            memory.remember(login, (path,))
            return Opened(channel, failures)
    looked = ", ".join(candidates)
    why = f"found {', '.join(found)}, none greeted PREAUTH" if found else f"looked for {looked}"
    raise _unreachable(host, failures, f"no preauthenticated IMAP server on {host}: {why}")


def _unreachable(host: str, failures: list[RouteError], last: str) -> NoPreauthServerError:
    lines = [f"cannot reach imap on {host} over ssh:"]
    lines += [f"  - {failure}" for failure in failures]
    lines.append(f"  - {last}")
    hint = "`pinesh doctor` tries each route and says more"
    return NoPreauthServerError("\n".join(lines), hint=hint)
