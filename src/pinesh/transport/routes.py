"""Routes: the ways pinesh can reach one service of one server.

A route is a plain value; opening it is the opener's job. Every route has a ``key``
(stable, used to remember per network which route worked) and a ``describe()`` for people.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field

from pinesh.config.names import check_host, check_port, check_user
from pinesh.transport.encryption import Encryption, command_encryption


@dataclass(frozen=True)
class SshTarget:
    """An ssh login: the host (or ssh_config alias), login user, port and extra ssh options.

    ``login_user`` (ssh's -l) and ``port`` may be None: then ssh's own config (User, Port)
    decides, which is what the user expects (c-client passes the local login name with -l,
    overriding it). It is not the mailbox user (/user=), though plan_routes may take that.
    """

    host: str
    login_user: str | None = None
    port: int | None = None
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_host(self.host)
        if self.login_user is not None:
            check_user(self.login_user)
        if self.port is not None:
            check_port(self.port, "ssh port")

    def label(self) -> str:
        """user@host:port as people write it (parts ssh decides are left out)."""
        who = f"{self.login_user}@" if self.login_user else ""
        where = f":{self.port}" if self.port else ""
        return f"{who}{self.host}{where}"


@dataclass(frozen=True)
class TlsPolicy:
    """How a TLS peer is checked: the system CAs, a CA file, or a pinned fingerprint."""

    verify: bool = True
    ca_file: str | None = None
    # sha256 of the server certificate (DER), lowercase hex without colons.
    fingerprint: str | None = None


@dataclass(frozen=True)
class SshPreauthRoute:
    """Run a remote IMAP server over ssh through the shared master; it must greet PREAUTH."""

    target: SshTarget
    command: tuple[str, ...]
    # The pinerc setting it was read from ("ssh-command", "rsh-command"); None: a rule.
    origin: str | None = None
    timeout: float | None = None  # Pine's ssh/rsh-open-timeout; None: the plan's

    @property
    def key(self) -> str:
        key = f"ssh-preauth:{self.target.label()}"
        return f"{self.origin}:{key}" if self.origin else key

    def describe(self) -> str:
        where = f"pinerc {self.origin}: " if self.origin else ""
        return f"{where}ssh {self.target.label()} (preauth: {' '.join(self.command)})"


@dataclass(frozen=True)
class SshChannelRoute:
    """A stdio channel through the shared master to host:port (ssh -W); no listening port.

    ssh encrypts only as far as the login host; from there to host:port the bytes cross
    plain TCP, unless host is the login host itself (localhost) or the user's rule says
    that hop is private (``private_hop``). Over such a last hop the opener asks for
    STARTTLS, checked by ``tls``, and no password crosses it without TLS; with
    ``require_tls`` (the server name's ``/tls``) a server that refuses or does not offer
    STARTTLS fails the route instead of going on in cleartext.
    """

    target: SshTarget
    host: str
    port: int
    private_hop: bool = False  # the rule's word that the hop beyond the login host is private
    tls: TlsPolicy = field(default_factory=TlsPolicy)  # for STARTTLS over the last hop
    require_tls: bool = False  # Pine's /tls: no cleartext last hop, even without a password

    def __post_init__(self) -> None:
        check_host(self.host)
        check_port(self.port)

    @property
    def ends_on_login_host(self) -> bool:
        """Whether host:port is on the login host itself (localhost or a loopback address).

        A name other than these counts as another machine, even the login host's own name:
        the login host may be an ssh_config alias, and its resolver decides where a name goes.
        """
        return is_loopback(self.host)

    @property
    def trusted_to_server(self) -> bool:
        """Whether the whole way to the server is trusted without TLS on the last hop."""
        return self.ends_on_login_host or self.private_hop

    @property
    def key(self) -> str:
        return f"ssh-channel:{self.target.label()}>{self.host}:{self.port}"

    def describe(self) -> str:
        return f"ssh {self.target.label()} channel to {self.host}:{self.port}"


@dataclass(frozen=True)
class CommandRoute:
    """A command whose stdin/stdout speak the protocol: Pine's rsh/ssh template, run as is.

    It is a local pipe, so its PREAUTH is believed unless the program is known to be
    cleartext (rsh); a password crosses it only when it is known to encrypt (ssh).
    It does not use the shared master unless the command does.
    """

    argv: tuple[str, ...]
    label: str = "command"
    timeout: float | None = None  # Pine's ssh/rsh-open-timeout; None: the plan's

    @property
    def encryption(self) -> Encryption:
        """What is known of the command's encryption, from its program's name."""
        return command_encryption(self.argv[0])

    @property
    def key(self) -> str:
        return f"{self.label}:{self.argv[0]}"

    def describe(self) -> str:
        return f"{self.label} {' '.join(self.argv)}"


class Security(enum.Enum):
    """How a direct TCP connection is protected."""

    TLS = "tls"  # TLS from the first byte
    STARTTLS = "starttls"  # cleartext greeting, then STARTTLS before anything else
    PLAIN = "plain"  # cleartext: only when asked for by name, never with a password


@dataclass(frozen=True)
class DirectRoute:
    """A TCP connection from this machine to host:port."""

    host: str
    port: int
    security: Security
    tls: TlsPolicy = field(default_factory=TlsPolicy)

    def __post_init__(self) -> None:
        check_host(self.host)
        check_port(self.port)

    @property
    def key(self) -> str:
        return f"{self.security.value}:{self.host}:{self.port}"

    def describe(self) -> str:
        return f"{self.security.value.upper()} {self.host}:{self.port}"


Route = SshPreauthRoute | SshChannelRoute | CommandRoute | DirectRoute


def bracketed(host: str) -> str:
    """host as ssh writes it in host:port forms: IPv6 literals in brackets (once)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def is_loopback(host: str) -> bool:
    """Whether host names the machine itself: localhost or a loopback address (IPv4, IPv6)."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_secure(route: Route) -> bool:
    """Whether the route's channel is known to be encrypted (ssh, an ssh command, or TLS).

    A command whose encryption is not known counts as not encrypted here: no password
    crosses it, and the route memory never promotes it. Nor does an ssh channel whose
    last hop, beyond the login host, is plain TCP (STARTTLS over it is only where offered).
    """
    if isinstance(route, CommandRoute):
        return route.encryption is Encryption.ENCRYPTED
    if isinstance(route, DirectRoute):
        return route.security is not Security.PLAIN
    if isinstance(route, SshChannelRoute):
        return route.trusted_to_server
    return True
