"""Pine's server specifications: ``host[:port][/flag...]`` as in ``{...}`` and smtp-server.

Flags: /user=NAME, /ssl, /tls, /notls, /novalidate-cert, /norsh, /service=NAME (or
/imap, /nntp, /smtp), /submit, /secure, /debug. Unknown flags are an error naming them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pinesh.config.names import check_host, check_port, check_user
from pinesh.errors import PineshError

_SWITCHES = {"ssl", "tls", "notls", "novalidate-cert", "norsh", "submit", "secure", "debug",
             "validate-cert", "anonymous", "readonly", "loser"}  # fmt: skip
_SERVICES = {"imap", "imap2", "imap4", "imap4rev1", "nntp", "smtp", "pop3"}


@dataclass(frozen=True)
class ServerSpec:
    """A parsed server specification."""

    host: str
    port: int | None = None
    user: str | None = None
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
            values["user"] = check_user(value)
        elif name == "service" and eq and value.lower() in _SERVICES:
            values["service"] = value.lower()
        elif not eq and name in _SERVICES:
            values["service"] = name
        elif not eq and name in _SWITCHES:
            key = name.replace("-", "_")
            if key in ServerSpec.__dataclass_fields__:
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
