"""Pine's server specifications: ``host[:port][/flag...]`` as in ``{...}`` and smtp-server.

Flags: /user=NAME, /ssl, /tls, /notls, /novalidate-cert, /norsh, /service=NAME (or
/imap, /nntp, /smtp), /submit, /secure, /debug. Unknown flags are an error naming them.

A ServerSpec is parsed once, where a name is read (the pinerc, the command line), and
travels unchanged to the routes and the ssh argv; ``format()`` writes it back.
"""

from __future__ import annotations

from dataclasses import dataclass

from pinesh.config.names import check_host, check_port, check_user
from pinesh.errors import PineshError

_SWITCHES = {"ssl", "tls", "notls", "novalidate-cert", "norsh", "submit", "secure", "debug",
             "validate-cert", "anonymous", "readonly", "loser"}  # fmt: skip
_SERVICES = {"imap", "imap2", "imap4", "imap4rev1", "nntp", "smtp", "pop3"}
# The switches a ServerSpec keeps, in the order format() writes them.
_KEPT_SWITCHES = ("ssl", "tls", "notls", "novalidate_cert", "norsh", "submit", "debug")


@dataclass(frozen=True)
class ServerSpec:
    """A parsed server specification.

    ``mailbox_user`` is Pine's ``/user=``: the account the mail server logs in. It is not
    the ssh login user, which routes decide (transport/plan.py says when they take it).
    """

    host: str
    port: int | None = None
    mailbox_user: str | None = None
    service: str | None = None
    ssl: bool = False
    tls: bool = False
    notls: bool = False
    novalidate_cert: bool = False
    norsh: bool = False
    submit: bool = False
    debug: bool = False

    @property
    def allows_remote_shell(self) -> bool:
        """c-client's rule: an explicit port, /ssl, /tls or /norsh skip rsh/ssh."""
        return not (self.port or self.ssl or self.tls or self.norsh)

    def identity(self) -> str:
        """The one name of this server: ``user@host`` (``host`` without /user=).

        Stores, the route memory (with the service) and folder comparisons are keyed by
        it. Host names are compared without case, as DNS does; ports and flags are not
        part of it, so ``{host}INBOX`` and ``{host/ssl}mail/[]`` share one connection.
        """
        host = self.host.lower()
        return f"{self.mailbox_user}@{host}" if self.mailbox_user else host

    def format(self) -> str:
        """This specification in Pine's syntax; parse_server_spec(spec.format()) == spec.

        Flags that parsing accepts and drops (/secure, /readonly...) are not written.
        Hazard: an unbracketed IPv6 host with a port (never parsed so) reads back wrong.
        """
        text = self.host + (f":{self.port}" if self.port else "")
        if self.service:
            text += f"/{self.service}"
        for name in _KEPT_SWITCHES:
            if getattr(self, name):
                text += "/" + name.replace("_", "-")
        if self.mailbox_user:
            text += f"/user={self.mailbox_user}"
        return text


def parse_server_spec(text: str) -> ServerSpec:
    """Parse ``host[:port][/flag...]``; raise PineshError naming what is wrong."""
    head, *flags = text.strip().split("/")
    host, port = head, None
    if head.startswith("["):  # [IPv6 literal]:port
        close = head.find("]")
        if close < 0:
            raise PineshError(f"server {text!r}: unclosed '[' in the host")
        host, rest = head[: close + 1], head[close + 1 :]
        if rest.startswith(":"):
            port = _port(text, rest[1:])
        elif rest:
            raise PineshError(f"server {text!r}: unexpected {rest!r} after the host")
    elif head.count(":") == 1:
        host, port_text = head.split(":")
        port = _port(text, port_text)
    try:
        check_host(host)
    except PineshError as exc:
        raise PineshError(f"server {text!r}: {exc.message}", hint=exc.hint) from None
    values: dict[str, object] = {}
    for flag in flags:
        name, eq, value = flag.partition("=")
        name = name.lower()
        if name == "user" and eq:
            values["mailbox_user"] = check_user(value)
        elif name == "service" and eq and value.lower() in _SERVICES:
            values["service"] = value.lower()
        elif not eq and name in _SERVICES:
            values["service"] = name
        elif not eq and name in _SWITCHES:
            key = name.replace("-", "_")
            if key in _KEPT_SWITCHES:
                values[key] = True
        else:
            raise PineshError(
                f"server {text!r}: unknown flag '/{flag}'",
                hint="known flags: /user=NAME /ssl /tls /notls /novalidate-cert /norsh "
                "/service=imap|nntp|smtp /submit /secure /debug",
            )
    if values.get("notls") and (values.get("tls") or values.get("ssl")):
        raise PineshError(
            f"server {text!r}: /notls contradicts /tls or /ssl",
            hint="keep /tls (or /ssl) for an encrypted connection; /notls asks for cleartext",
        )
    return ServerSpec(host=host, port=port, **values)  # type: ignore[arg-type]


def _port(text: str, value: str) -> int:
    if not (value.isascii() and value.isdecimal()):
        raise PineshError(f"server {text!r}: port {value!r} is not a number")
    return check_port(int(value))
