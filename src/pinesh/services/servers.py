"""The servers a user's configuration names, per service (for doctor and the setup screen)."""

from __future__ import annotations

from dataclasses import dataclass

from pinesh.config.pinerc import Pinerc
from pinesh.config.server_spec import ServerSpec, parse_server_spec
from pinesh.config.settings import Settings
from pinesh.errors import PineshError
from pinesh.transport.service import Service


@dataclass(frozen=True)
class ConfiguredServer:
    spec: ServerSpec
    service: Service
    source: str  # where it was named, e.g. "pinerc inbox-path"


def _braced(name: str) -> str | None:
    """The server part of a Pine mailbox name ``{server}mailbox``."""
    if name.startswith("{") and "}" in name:
        return name[1 : name.index("}")]
    return None


def configured_servers(rc: Pinerc, settings: Settings) -> tuple[list[ConfiguredServer], list[str]]:
    """Every (server, service) the configs name, in order, and the names that did not parse."""
    found: list[ConfiguredServer] = []
    problems: list[str] = []

    def add(text: str, default: Service, source: str) -> None:
        try:
            spec = parse_server_spec(text)
        except PineshError as exc:
            problems.append(f"{source}: {exc.message}")
            return
        service = Service.NNTP if spec.service == "nntp" else default
        if not any(s.spec.host == spec.host and s.service is service for s in found):
            found.append(ConfiguredServer(spec, service, source))

    mailboxes = [("inbox-path", rc.get("inbox-path") or "")]
    for var in ("folder-collections", "news-collections", "incoming-folders"):
        mailboxes += [(var, item.split()[-1]) for item in rc.get_list(var) if item.split()]
    for var, name in mailboxes:
        server = _braced(name)
        if server is not None:
            add(server, Service.IMAP, f"pinerc {var}")
    for text in rc.get_list("smtp-server"):
        add(text, Service.SMTP, "pinerc smtp-server")
    for text in rc.get_list("nntp-server"):
        add(text, Service.NNTP, "pinerc nntp-server")
    for rule in settings.rules:
        for pattern in rule.servers:
            if any(c in pattern for c in "*?["):
                continue
            for service in rule.services or ("imap", "smtp", "nntp"):
                add(pattern, Service(service), f"config rule line {rule.line}")
    return found, problems
