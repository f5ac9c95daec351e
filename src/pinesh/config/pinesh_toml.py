"""Load pinesh's own config file (TOML) into Settings, with errors that name file and line.

Location: ``--config FILE``, else $PINESH_CONFIG, else $XDG_CONFIG_HOME/pinesh/config.toml.
A missing default file means default settings; a missing named file is an error.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from pinesh.config.names import (
    check_host,
    check_port,
    check_user,
    check_word,
    normalize_fingerprint,
)
from pinesh.config.settings import (
    DEFAULT_CACHE_BODIES_MB,
    DEFAULT_SERVER_IDLE,
    CacheSettings,
    ClientSettings,
    DirectCondition,
    ForwardSpec,
    Rule,
    SealRule,
    Settings,
    SshSettings,
    Via,
)
from pinesh.errors import CombinedConfigError, ConfigError, PineshError
from pinesh.paths import config_file

T = TypeVar("T")

SERVICES = ("imap", "smtp", "nntp")
FALLBACKS = ("tls", "starttls", "plain")


@dataclass
class _Locator:
    """Finds the line of a setting in the TOML text (tomllib keeps no positions)."""

    lines: list[str]

    def table(self, name: str, index: int) -> int | None:
        """Line (1-based) of the index-th ``[[name]]`` (or ``[name]``) header."""
        pattern = re.compile(rf"^\s*\[\[?\s*{re.escape(name)}\s*\]\]?\s*(#.*)?$")
        seen = -1
        for number, line in enumerate(self.lines, start=1):
            if pattern.match(line):
                seen += 1
                if seen == index:
                    return number
        return None

    def key(self, key: str, start: int | None) -> int | None:
        """Line of ``key =`` after the header at start (or at top level), else start."""
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for number in range((start or 0) + 1, len(self.lines) + 1):
            line = self.lines[number - 1]
            if line.lstrip().startswith("["):
                break
            if pattern.match(line):
                return number
        return start


class _Reader:
    """Typed access to one TOML table, raising ConfigError at the setting's line."""

    def __init__(
        self, data: dict[str, Any], file: str, locator: _Locator, prefix: str, start: int | None
    ) -> None:
        self.data = dict(data)
        self.file = file
        self.locator = locator
        self.prefix = prefix
        self.start = start

    def fail(self, key: str, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(
            message,
            file=self.file,
            line=self.locator.key(key, self.start),
            setting=f"{self.prefix}{key}",
            hint=hint,
        )

    def take(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        if key not in self.data:
            return default
        value = self.data.pop(key)
        if (
            isinstance(value, bool)
            and kind is not bool
            and bool not in (kind if isinstance(kind, tuple) else (kind,))
        ):
            raise self.fail(key, f"expected {_kind_name(kind)}, got a boolean")
        if not isinstance(value, kind):
            raise self.fail(key, f"expected {_kind_name(kind)}, got {type(value).__name__}")
        return value

    def words(self, key: str) -> tuple[str, ...] | None:
        """A list of strings, or one string split on white space."""
        value = self.take(key, (list, str))
        if value is None:
            return None
        if isinstance(value, str):
            return tuple(value.split())
        if not all(isinstance(v, str) for v in value):
            raise self.fail(key, "expected a list of strings")
        return tuple(value)

    def finish(self) -> None:
        for key in self.data:
            raise self.fail(key, "unknown setting", hint="check its spelling in docs/config.md")


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "a number", float: "a number", bool: "true or false",
             list: "a list", dict: "a table"}  # fmt: skip
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _check_name(
    reader: _Reader, key: str, value: str | None, check: Any, glob: bool = False
) -> None:
    """Run a name check on value; a glob (allowed only where glob is True) is checked
    with its wildcards taken out, so '-*' or a space still fails."""
    if value is None:
        return
    if glob:
        value = value.replace("*", "x").replace("?", "x").replace("[", "").replace("]", "")
    try:
        check(value)
    except PineshError as exc:
        raise reader.fail(key, exc.message) from None


def _ssh(data: dict[str, Any], file: str, loc: _Locator) -> SshSettings:
    r = _Reader(data, file, loc, "ssh.", loc.table("ssh", 0))
    control = r.take("control_dir", str)
    persist = r.take("persist", int, 600)
    if persist < 0:
        raise r.fail("persist", "must be 0 or more seconds")
    settings = SshSettings(
        path=r.take("path", str, "ssh"),
        persist=persist,
        options=r.words("options") or (),
        control_dir=Path(control).expanduser() if control else None,
        quiet=r.take("quiet", bool, True),
        forward_agent=r.take("forward_agent", bool, False),
        forward_x11=r.take("forward_x11", bool, False),
    )
    r.finish()
    return settings


def _client(data: dict[str, Any], file: str, loc: _Locator) -> ClientSettings:
    r = _Reader(data, file, loc, "client.", loc.table("client", 0))
    idle = r.take("server_idle", int, DEFAULT_SERVER_IDLE)
    if idle < 1:
        raise r.fail("server_idle", "must be 1 or more seconds")
    settings = ClientSettings(server=r.take("server", bool, False), server_idle=idle)
    r.finish()
    return settings


def _cache(data: dict[str, Any], file: str, loc: _Locator) -> CacheSettings:
    r = _Reader(data, file, loc, "cache.", loc.table("cache", 0))
    directory = r.take("dir", str)
    bodies = r.take("bodies_mb", int, DEFAULT_CACHE_BODIES_MB)
    if bodies < 0:
        raise r.fail("bodies_mb", "must be 0 or more megabytes", "0 keeps no message text")
    settings = CacheSettings(
        enabled=r.take("enabled", bool, True),
        directory=Path(directory).expanduser() if directory else None,
        bodies_mb=bodies,
    )
    r.finish()
    return settings


def _rule(data: dict[str, Any], index: int, file: str, loc: _Locator) -> Rule:
    start = loc.table("rule", index)
    r = _Reader(data, file, loc, f"rule[{index + 1}].", start)
    servers = r.words("servers") or r.words("server")
    if not servers:
        raise ConfigError(
            "a rule needs 'servers' (names or globs)",
            file=file,
            line=start,
            setting=f"rule[{index + 1}]",
        )
    for server in servers:
        _check_name(r, "servers", server, check_host, glob=True)
    services = r.words("services") or ()
    for service in services:
        if service not in SERVICES:
            raise r.fail("services", f"unknown service {service!r}", "use imap, smtp or nntp")
    via_text = r.take("via", str, "ssh")
    try:
        via = Via(via_text)
    except ValueError:
        raise r.fail("via", f"{via_text!r} is not a way to connect", "use ssh or direct") from None
    login, user, target = r.take("login", str), r.take("user", str), r.take("target", str)
    _check_name(r, "login", login, check_host)
    _check_name(r, "user", user, check_user)
    _check_name(r, "target", target, check_host)
    ssh_port = r.take("ssh_port", int)
    if ssh_port is not None:
        try:
            check_port(ssh_port)
        except PineshError as exc:
            raise r.fail("ssh_port", exc.message) from None
    ports = r.take("ports", dict, {})
    for name, port in ports.items():
        if (
            name not in SERVICES
            or isinstance(port, bool)
            or not isinstance(port, int)
            or not 0 < port < 65536
        ):
            raise r.fail("ports", f"{name} = {port!r}: expected imap/smtp/nntp = a TCP port")
    fallback = r.words("fallback")
    for item in fallback or ():
        kind, _, port_text = item.partition(":")
        if kind not in FALLBACKS or (port_text and not _is_port(port_text)):
            raise r.fail(
                "fallback",
                f"{item!r} is not a direct route",
                'use "tls", "starttls" or "plain", optionally with ":PORT" (1-65535)',
            )
    when = r.take("direct_when", dict, {})
    for condition, value in when.items():
        if condition not in ("domain", "reachable"):
            raise r.fail(
                "direct_when",
                f"unknown condition {condition!r}",
                'use domain = "example.org" or reachable = "host:port"',
            )
        if not isinstance(value, str) or not value:
            raise r.fail("direct_when", f"{condition} must be a non-empty string")
        if condition == "reachable" and not _is_port(value.rpartition(":")[2]):
            raise r.fail("direct_when", f"reachable = {value!r} is not host:port")
    fingerprint = r.take("fingerprint", str)
    if fingerprint is not None:
        try:
            fingerprint = normalize_fingerprint(fingerprint)
        except ValueError as exc:
            raise r.fail(
                "fingerprint",
                str(exc),
                "write sha256:HEX as shown by `openssl x509 -noout -fingerprint -sha256`",
            ) from None
    imap_command = r.words("imap_command")
    for word in imap_command or ():
        try:
            check_word(word, "imap_command")
        except PineshError as exc:
            raise r.fail("imap_command", exc.message) from None
    timeout = r.take("open_timeout", (int, float))
    if timeout is not None and timeout <= 0:
        raise r.fail("open_timeout", "must be more than 0 seconds")
    rule = Rule(
        servers=tuple(s.lower() for s in servers),
        services=services,
        via=via,
        login=login,
        login_user=user,
        ssh_port=ssh_port,
        ssh_options=r.words("ssh_options") or (),
        imap_command=imap_command,
        target_host=target,
        private_hop=r.take("private_hop", bool, False),
        ports=dict(ports),
        fallback=fallback if fallback is not None else ("tls",),
        direct_when=DirectCondition(domain=when.get("domain"), reachable=when.get("reachable")),
        open_timeout=float(timeout) if timeout is not None else None,
        ca_file=r.take("ca_file", str),
        fingerprint=fingerprint,
        verify=r.take("verify", bool, True),
        line=start,
    )
    r.finish()
    return rule


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdecimal() and 0 < int(text) < 65536


def _tables(top: _Reader, key: str) -> list[dict[str, Any]]:
    """An array of tables ([[key]]); anything else is an error at its line."""
    items = top.take(key, list, [])
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ConfigError(
                f"expected a [[{key}]] table, got {type(item).__name__}",
                file=top.file,
                line=top.locator.key(key, None),
                setting=f"{key}[{index + 1}]",
            )
    return list(items)


def _forward(data: dict[str, Any], index: int, file: str, loc: _Locator) -> ForwardSpec:
    start = loc.table("forward", index)
    r = _Reader(data, file, loc, f"forward[{index + 1}].", start)
    server, service, listen = (
        r.take("server", str),
        r.take("service", str),
        r.take("listen", (str, int)),
    )
    if not server or not service:
        raise ConfigError(
            "a forward needs server and service",
            file=file,
            line=start,
            setting=f"forward[{index + 1}]",
        )
    if service not in SERVICES:
        raise r.fail("service", f"unknown service {service!r}", "use smtp, nntp or imap")
    r.finish()
    listen_text = None if listen is None else str(listen)
    return ForwardSpec(server.lower(), service, listen_text, line=start)


def _seal(data: dict[str, Any], index: int, file: str, loc: _Locator) -> SealRule:
    start = loc.table("seal", index)
    r = _Reader(data, file, loc, f"seal[{index + 1}].", start)
    recipients = r.words("recipients") or ()
    if not recipients:
        raise ConfigError(
            "a seal needs recipients (addresses, or @domain)",
            file=file,
            line=start,
            setting=f"seal[{index + 1}]",
        )
    for recipient in recipients:
        _, at, domain = recipient.rpartition("@")
        if not at or not domain or " " in recipient or not recipient.isprintable():
            raise r.fail("recipients", f"{recipient!r} is not an address or @domain")
    rule = SealRule(
        tuple(recipient.lower() for recipient in recipients),
        sign=r.take("sign", bool, False),
        encrypt=r.take("encrypt", bool, False),
        smime=r.take("smime", bool, False),
        line=start,
    )
    r.finish()
    return rule


def parse_settings(text: str, file: str) -> Settings:
    """Parse pinesh's TOML config; raise ConfigError naming file, line and setting."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise ConfigError(
            f"not valid TOML: {exc}", file=file, line=int(match.group(1)) if match else None
        ) from None
    loc = _Locator(text.splitlines())
    top = _Reader(data, file, loc, "", None)
    # Every table is read even after one fails, so that all of the file's errors are told
    # at once, in line order (CombinedConfigError); within one table, its first error.
    errors: list[ConfigError] = []

    def read(work: Callable[[], T], default: T) -> T:
        try:
            return work()
        except ConfigError as exc:
            errors.append(exc)
            return default

    ssh = read(lambda: _ssh(top.take("ssh", dict, {}), file, loc), SshSettings())
    client = read(lambda: _client(top.take("client", dict, {}), file, loc), ClientSettings())
    cache = read(lambda: _cache(top.take("cache", dict, {}), file, loc), CacheSettings())

    def read_tables(
        key: str, parse: Callable[[dict[str, Any], int, str, _Locator], T]
    ) -> tuple[T, ...]:
        """Each [[key]] table that parses; the others' errors are kept."""
        no_tables: list[dict[str, Any]] = []
        parsed = (
            read(partial(parse, table, index, file, loc), None)
            for index, table in enumerate(read(lambda: _tables(top, key), no_tables))
        )
        return tuple(item for item in parsed if item is not None)

    rules = read_tables("rule", _rule)
    forwards = read_tables("forward", _forward)
    seals = read_tables("seal", _seal)
    timeout = read(lambda: top.take("open_timeout", (int, float), 15), 15)
    if timeout <= 0:
        errors.append(top.fail("open_timeout", "must be more than 0 seconds"))
        timeout = 15
    state = read(lambda: top.take("state_dir", str), None)
    read(top.finish, None)
    if errors:
        raise errors[0] if len(errors) == 1 else CombinedConfigError(errors)
    return Settings(
        ssh=ssh,
        rules=rules,
        forwards=forwards,
        open_timeout=float(timeout),
        state_dir=Path(state).expanduser() if state else None,
        client=client,
        cache=cache,
        seals=seals,
        source=Path(file),
    )


def load_settings(explicit: str | None = None) -> Settings:
    """Find and load the config file (see the module docstring)."""
    path, named = config_file(explicit)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if named:
            raise ConfigError(
                "no such file", file=str(path), hint="check --config / PINESH_CONFIG"
            ) from None
        return Settings()
    except OSError as exc:
        raise ConfigError(f"cannot read it: {exc.strerror}", file=str(path)) from None
    return parse_settings(text, str(path))


def matching_rule(settings: Settings, server: str, service: str) -> Rule | None:
    """The first rule whose servers match server (glob, no case) and that covers service."""
    name = server.lower()
    for rule in settings.rules:
        if rule.services and service not in rule.services:
            continue
        if any(fnmatchcase(name, pattern) for pattern in rule.servers):
            return rule
    return None
