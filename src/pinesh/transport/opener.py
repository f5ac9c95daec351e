"""Open one route to a verified greeting, within a deadline, or fail saying why.

The deadline covers the whole open: ssh login, channel, TLS and greeting. On failure
the ssh child is killed (no orphans) and its stderr becomes part of the reason.
"""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from pinesh.config.server_spec import ServerSpec
from pinesh.errors import PineshError
from pinesh.transport import starttls, tls
from pinesh.transport.channel import Channel, Steps
from pinesh.transport.greeting import (
    MAX_GREETING,
    Greeting,
    GreetingError,
    GreetingState,
    after_starttls,
    greeting_complete,
    parse_greeting,
)
from pinesh.transport.masters import MasterPool, remote_command_tail, stdio_forward_tail
from pinesh.transport.process import ChildChannel, spawn_on_socketpair
from pinesh.transport.routes import (
    CommandRoute,
    DirectRoute,
    Route,
    Security,
    SshChannelRoute,
    SshPreauthRoute,
    is_secure,
)
from pinesh.transport.service import Service


@dataclass
class RouteError(Exception):
    """One route failed; ``reason`` says why in words a person can act on."""

    route: Route
    reason: str
    timed_out: bool = False
    steps: Steps | None = None

    def __str__(self) -> str:
        return f"{self.route.describe()}: {self.reason}"


def read_greeting(
    sock: socket.socket, service: Service, deadline: float, steps: Steps, began: float
) -> Greeting:
    """Read the server's greeting from sock and check it."""
    data = b""
    while not greeting_complete(service, data):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out waiting for the server's greeting")
        sock.settimeout(remaining)
        chunk = sock.recv(4096)
        if not chunk:
            break
        if not data:
            steps.channel = time.monotonic() - began
        data += chunk
        if len(data) > MAX_GREETING:
            break
    greeting = parse_greeting(service, data)
    steps.greeting = time.monotonic() - began
    return greeting


def _child_reason(route: Route, child: ChildChannel, what: str, *, found: bool = False) -> str:
    """Why the child's route failed: ssh's own words first, when it said any.

    found: pinesh found the cause itself, in what the server said over a channel that was
    up (a STARTTLS reply, a certificate): then that comes first, and ssh's words (often
    only its complaint at being killed for it) after.
    """
    code = child.process.poll()
    said = child.stderr.text(wait=0.2)
    if found:
        return f"{what}; ssh said: {said}" if said else what
    if said and code not in (None, 0):
        reason = f"{said} (exit status {code})"
    elif said:
        reason = f"{what}; it said: {said}"
    elif code not in (None, 0):
        reason = f"{what} (exit status {code})"
    else:
        reason = what
    if isinstance(route, SshChannelRoute) and "open refused" in said.lower():
        reason += (
            f"; nothing accepts connections on {route.host}:{route.port} as seen "
            f"from {route.target.host}, or its sshd forbids forwarding"
        )
    return reason


def _check_child_greeting(route: Route, greeting: Greeting) -> None:
    """Refuse a greeting this kind of route must not accept."""
    preauth = greeting.state is GreetingState.PREAUTH
    if isinstance(route, SshPreauthRoute) and not preauth:
        raise GreetingError(
            f"the remote command greeted '{greeting.text}' instead of PREAUTH; "
            "it is not a preauthenticated IMAP server"
        )
    if isinstance(route, SshChannelRoute) and preauth:
        # The hop from the login host to the server is not ours to trust.
        raise GreetingError("refusing PREAUTH on a forwarded TCP channel")
    if isinstance(route, CommandRoute) and preauth and not route.encryption.allows_preauth:
        # rsh crosses the network in clear: anyone on the way could have written it.
        raise GreetingError(
            f"refusing PREAUTH over {route.argv[0]}: {Path(route.argv[0]).name} sends "
            "everything in cleartext, so anyone on the network could have forged it"
        )


def _open_child(
    route: Route,
    server: ServerSpec,
    service: Service,
    deadline: float,
    masters: MasterPool | None,
    began: float,
) -> Channel:
    steps = Steps()
    shared = False
    if isinstance(route, CommandRoute):
        child = spawn_on_socketpair(route.argv)
    else:
        assert isinstance(route, SshPreauthRoute | SshChannelRoute)
        if masters is None:
            raise RouteError(route, "no ssh master pool was given")
        if isinstance(route, SshPreauthRoute):
            tail = remote_command_tail(route.target.host, route.command)
        else:
            tail = stdio_forward_tail(route.target.host, route.host, route.port)
        argv = masters.ssh_argv(route.target, tail)
        try:
            # Kill only the ssh process on failure, never its group: a ProxyCommand the
            # new master still needs may share it.
            child, launch = masters.launch(
                route.target, argv, deadline, lambda a: spawn_on_socketpair(a, kill_group=False)
            )
        except TimeoutError as exc:
            raise RouteError(route, str(exc), timed_out=True, steps=steps) from exc
        shared = launch.reused_master
        steps.ssh_handshake = launch.handshake_seconds
        # Time a person spent typing a passphrase is not the server's slowness.
        deadline += launch.user_wait_seconds
    sock: socket.socket = child.sock
    starttls_done = False
    try:
        greeting = read_greeting(child.sock, service, deadline, steps, began)
        _check_child_greeting(route, greeting)
        if isinstance(route, SshChannelRoute) and not route.trusted_to_server:
            sock, starttls_done = _last_hop_starttls(route, service, child.sock, deadline)
            if starttls_done:
                steps.tls = time.monotonic() - began
                greeting = after_starttls(service, greeting)
    except TimeoutError as exc:
        child.kill()
        raise RouteError(route, _child_reason(route, child, str(exc)), True, steps) from exc
    except (tls.TlsError, starttls.StartTlsError) as exc:
        child.kill()
        reason = _child_reason(route, child, str(exc), found=True)
        raise RouteError(route, reason, steps=steps) from exc
    except (GreetingError, OSError) as exc:
        child.kill()
        raise RouteError(route, _child_reason(route, child, str(exc)), steps=steps) from exc
    except BaseException:
        child.kill()
        raise
    # A command whose encryption is not known is not encrypted, as far as passwords go;
    # nor is an ssh channel whose last hop is plain TCP, unless STARTTLS took over it.
    encrypted = is_secure(route) or starttls_done
    return Channel(
        sock,
        service,
        server,
        route,
        greeting,
        encrypted=encrypted,
        shared_master=shared,
        steps=steps,
        child=child,
        starttls_done=starttls_done,
    )


def _last_hop_starttls(
    route: SshChannelRoute, service: Service, sock: socket.socket, deadline: float
) -> tuple[socket.socket, bool]:
    """STARTTLS over the plain TCP beyond the login host, where the server offers it.

    A refusal leaves the channel in cleartext (then no password crosses it), unless the
    route requires TLS (/tls); a reply that is neither the go-ahead nor a refusal, data
    after the go-ahead, a TLS handshake that fails, or a certificate that does not check,
    fails the route.
    """
    try:
        starttls.negotiate(sock, service, deadline)
    except starttls.StartTlsRefusedError as exc:
        if route.require_tls:
            raise starttls.StartTlsError(
                f"{exc}; the server name asks for TLS (/tls), so pinesh does not go on in "
                f"cleartext beyond {route.target.host}"
            ) from exc
        return sock, False
    sock.settimeout(max(deadline - time.monotonic(), 0.001))
    return tls.wrap(sock, route.host.strip("[]"), route.tls), True


def connect_before(host: str, port: int, deadline: float) -> socket.socket:
    """A TCP connection to host:port, trying each address, all within one deadline.

    Not socket.create_connection: its timeout applies to each address afresh.
    (The name lookup itself is not bounded; pinesh does not bound the system resolver.)
    """
    last: OSError | None = None
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"connecting to {host}:{port} timed out")
        sock = socket.socket(family, kind, proto)
        sock.settimeout(remaining)
        try:
            sock.connect(address)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        return sock
    raise last or OSError(f"{host} has no address")


def _open_direct(
    route: DirectRoute, server: ServerSpec, service: Service, deadline: float, began: float
) -> Channel:
    steps = Steps()
    try:
        sock = connect_before(route.host.strip("[]"), route.port, deadline)
    except TimeoutError as exc:
        raise RouteError(route, f"connecting timed out: {exc}", True, steps) from exc
    except OSError as exc:
        raise RouteError(route, f"cannot connect: {exc.strerror or exc}", steps=steps) from exc
    steps.connect = time.monotonic() - began
    return _direct_session(route, server, service, sock, deadline, steps, began)


def _direct_session(
    route: DirectRoute,
    server: ServerSpec,
    service: Service,
    sock: socket.socket,
    deadline: float,
    steps: Steps,
    began: float,
) -> Channel:
    """Greeting, TLS/STARTTLS and checks on a connected socket; closes it on any failure."""
    trusted_tls = route.tls.verify or route.tls.fingerprint is not None
    try:
        try:
            if route.security is Security.TLS:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                sock = tls.wrap(sock, route.host.strip("[]"), route.tls)
                steps.tls = time.monotonic() - began
            greeting = read_greeting(sock, service, deadline, steps, began)
            if greeting.state is GreetingState.PREAUTH and not (
                route.security is Security.TLS and trusted_tls
            ):
                # A PREAUTH in cleartext would skip STARTTLS: the classic injection attack.
                raise GreetingError("refusing PREAUTH on a connection that is not verified TLS")
            if route.security is Security.STARTTLS:
                starttls.negotiate(sock, service, deadline)
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                sock = tls.wrap(sock, route.host.strip("[]"), route.tls)
                steps.tls = time.monotonic() - began
                greeting = after_starttls(service, greeting)
        except TimeoutError as exc:
            raise RouteError(route, str(exc) or "timed out", True, steps) from exc
        except (GreetingError, tls.TlsError, starttls.StartTlsError) as exc:
            raise RouteError(route, str(exc), steps=steps) from exc
        except OSError as exc:
            raise RouteError(route, f"connection failed: {exc}", steps=steps) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            sock.close()  # the TLS socket once wrapped: it owns the descriptor
        raise
    return Channel(
        sock,
        service,
        server,
        route,
        greeting,
        encrypted=route.security is not Security.PLAIN,
        shared_master=False,
        steps=steps,
        starttls_done=route.security is Security.STARTTLS,
    )


def open_route(
    route: Route,
    service: Service,
    *,
    server: ServerSpec,
    deadline: float,
    masters: MasterPool | None,
) -> Channel:
    """Open route to a verified greeting before deadline (time.monotonic()), or RouteError.

    server is the server the route was planned for; the Channel carries it.
    """
    began = time.monotonic()
    try:
        if isinstance(route, DirectRoute):
            channel = _open_direct(route, server, service, deadline, began)
        else:
            channel = _open_child(route, server, service, deadline, masters, began)
    except OSError as exc:
        raise RouteError(route, f"cannot start: {exc}") from exc
    except PineshError as exc:
        raise RouteError(route, str(exc)) from exc
    channel.steps.total = time.monotonic() - began
    channel.sock.settimeout(None)
    return channel
