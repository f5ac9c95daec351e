"""pinesh's own settings (connection rules, ssh masters, forwards), as typed values."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PERSIST = 600  # seconds a master stays up after its last channel closes
DEFAULT_OPEN_TIMEOUT = 15.0  # seconds, Pine's rsh-open-timeout default
DEFAULT_SERVER_IDLE = 600  # seconds the client fork server waits for a client before it ends
DEFAULT_CACHE_BODIES_MB = 64  # MB of message text the header cache keeps per server


@dataclass(frozen=True)
class SshSettings:
    """How pinesh runs OpenSSH for its shared masters."""

    path: str = "ssh"
    persist: int = DEFAULT_PERSIST
    options: tuple[str, ...] = ()  # extra ssh arguments for every master
    control_dir: Path | None = None  # None: $XDG_RUNTIME_DIR/pinesh or /tmp/pinesh-UID
    quiet: bool = True  # LogLevel=ERROR: no banners or warnings, but fatal reasons kept
    forward_agent: bool = False
    forward_x11: bool = False


class Via(enum.Enum):
    """Which way a rule sends a server's connections first."""

    SSH = "ssh"
    DIRECT = "direct"


@dataclass(frozen=True)
class DirectCondition:
    """Where this machine is, such that it should go direct instead of through ssh."""

    domain: str | None = None  # this machine's DNS domain is (or ends with) this
    reachable: str | None = None  # this host:port accepts a TCP connection quickly


@dataclass(frozen=True)
class Rule:
    """How to reach the servers whose names match ``servers`` (globs), for ``services``."""

    servers: tuple[str, ...]
    services: tuple[str, ...] = ()  # empty: every service
    via: Via = Via.SSH
    login: str | None = None  # ssh login host; None: the server itself
    login_user: str | None = None  # ssh login user (the TOML's `user`); None: ssh_config
    ssh_port: int | None = None
    ssh_options: tuple[str, ...] = ()
    imap_command: tuple[str, ...] | None = None  # remote preauth IMAP server
    target_host: str | None = None  # the host the ssh channel connects to (seen from login)
    # The user's word that the hop from the login host to target_host is private (one
    # machine, a private link): then a password may cross the channel without TLS.
    private_hop: bool = False
    ports: dict[str, int] = field(default_factory=dict)  # per service, the channel/direct port
    fallback: tuple[str, ...] = ("tls",)  # direct routes after ssh: tls, starttls, plain
    direct_when: DirectCondition = field(default_factory=DirectCondition)
    open_timeout: float | None = None
    ca_file: str | None = None
    fingerprint: str | None = None
    verify: bool = True
    line: int | None = None  # where the rule starts in its file, for messages


@dataclass(frozen=True)
class ForwardSpec:
    """A forward that `pinesh forward` keeps up for a TCP-only client (e.g. Pine's SMTP)."""

    server: str
    service: str
    # "PORT", "127.0.0.1:PORT" or a Unix socket path; None: a Unix socket in the runtime
    # directory (transport/forward.py, default_socket), which other local users cannot reach.
    listen: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class ClientSettings:
    """The terminal client's start-up: the opt-in fork server (cli/client_server.py)."""

    server: bool = False  # `pinesh` is forked from a waiting server with Textual loaded
    server_idle: int = DEFAULT_SERVER_IDLE


@dataclass(frozen=True)
class CacheSettings:
    """The persistent header cache of IMAP folders (stores/cache)."""

    enabled: bool = True
    directory: Path | None = None  # None: $XDG_CACHE_HOME/pinesh
    bodies_mb: int = DEFAULT_CACHE_BODIES_MB  # message text kept for offline reading


@dataclass(frozen=True)
class SealRule:
    """What the send question starts with when a message goes to one of recipients
    (addresses, lowercased, or "@domain" for every address of a domain)."""

    recipients: tuple[str, ...]
    sign: bool = False
    encrypt: bool = False
    smime: bool = False
    line: int | None = None


@dataclass(frozen=True)
class Settings:
    """Everything in pinesh's own config file."""

    ssh: SshSettings = field(default_factory=SshSettings)
    rules: tuple[Rule, ...] = ()
    forwards: tuple[ForwardSpec, ...] = ()
    open_timeout: float = DEFAULT_OPEN_TIMEOUT
    state_dir: Path | None = None  # None: $XDG_STATE_HOME/pinesh
    client: ClientSettings = field(default_factory=ClientSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    seals: tuple[SealRule, ...] = ()  # [[seal]]: sign or encrypt by recipient
    source: Path | None = None
