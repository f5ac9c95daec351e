"""A connected channel: a socket with a verified greeting, and how it was reached."""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass, field

from pinesh.config.server_spec import ServerSpec
from pinesh.transport.encryption import Encryption
from pinesh.transport.greeting import Greeting, GreetingState
from pinesh.transport.process import ChildChannel
from pinesh.transport.routes import (
    CommandRoute,
    DirectRoute,
    Route,
    SshChannelRoute,
    SshPreauthRoute,
)
from pinesh.transport.service import Service


@dataclass
class Steps:
    """How long each step of an open took, in seconds (None: the step did not happen)."""

    ssh_handshake: float | None = None  # a new master's login; None when one was reused
    connect: float | None = None  # TCP connect (direct routes)
    channel: float | None = None  # until the server's first byte arrived
    tls: float | None = None  # TLS handshake (direct routes)
    greeting: float | None = None  # until the whole greeting was read and checked
    total: float = 0.0


@dataclass
class Channel:
    """A connection to one service of one server, ready for the protocol's next command.

    ``sock`` is a real socket: an ssh child's socketpair end, a TCP socket or a TLS socket.
    The greeting has been read from it already (it is in ``greeting``). After STARTTLS
    ``greeting`` is a neutral one (greeting.after_starttls): nothing said before TLS is
    handed on, and the protocol asks for capabilities again.
    """

    sock: socket.socket
    service: Service
    server: ServerSpec  # the server as named, carried from the mailbox name or setting
    route: Route
    greeting: Greeting
    # Known to be encrypted (ssh or TLS) all the way, or over a hop the user called private:
    # a password may be sent.
    encrypted: bool
    shared_master: bool  # rode on an ssh master that was already up
    steps: Steps = field(default_factory=Steps)
    child: ChildChannel | None = None
    starttls_done: bool = False

    @property
    def preauthenticated(self) -> bool:
        return self.greeting.state is GreetingState.PREAUTH

    @property
    def allows_password(self) -> bool:
        """Whether a password may cross this channel (never over a cleartext connection)."""
        return self.encrypted

    def describe(self) -> str:
        """For the status line: e.g. 'ssh mailhost (preauth, shared)' or 'TLS imap.x:993'."""
        route = self.route
        shared = "shared" if self.shared_master else "new master"
        if isinstance(route, SshPreauthRoute):
            return f"ssh {route.target.label()} (preauth, {shared})"
        if isinstance(route, SshChannelRoute):
            far = f"{route.host}:{route.port}{self._last_hop()}"
            return f"ssh {route.target.label()} (channel to {far}, {shared})"
        if isinstance(route, CommandRoute):
            auth = "preauth" if self.preauthenticated else "login"
            trust = route.encryption
            known = "" if trust is Encryption.ENCRYPTED else f"; {trust.describe()}"
            return f"{route.label} {route.argv[0]} ({auth}{known})"
        assert isinstance(route, DirectRoute)
        return f"{route.security.value.upper()} {route.host}:{route.port}"

    def _last_hop(self) -> str:
        """For an ssh channel beyond the login host: how its last hop is protected."""
        route = self.route
        assert isinstance(route, SshChannelRoute)
        if route.ends_on_login_host:
            return ""
        if self.starttls_done:
            return ", STARTTLS"
        if route.private_hop:
            return ", private hop"
        return f", cleartext beyond {route.target.host}"

    def close(self) -> None:
        """Close the socket and end the ssh child, if any (the master stays)."""
        with contextlib.suppress(OSError):
            self.sock.close()
        if self.child is not None:
            self.child.close()
