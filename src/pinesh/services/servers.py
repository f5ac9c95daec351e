"""The servers a user's configuration names, per service (for doctor and the setup screen)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pinesh.config.pine_settings import BadServerSetting, server_settings
from pinesh.config.pinerc import Pinerc
from pinesh.config.server_spec import ServerSpec, parse_server_spec
from pinesh.config.settings import Settings
from pinesh.errors import PineshError
from pinesh.stores.names import Driver, NameContext, parse_collection_name
from pinesh.transport.service import Service


@dataclass(frozen=True)
class ConfiguredServer:
    spec: ServerSpec
    service: Service
    source: str  # where it was named, e.g. "pinerc inbox-path"


def configured_servers(rc: Pinerc, settings: Settings) -> tuple[list[ConfiguredServer], list[str]]:
    """Every (server, service) the configs name, in order, and the names that did not parse."""
    found: list[ConfiguredServer] = []
    problems: list[str] = []

    def add(spec: ServerSpec, default: Service, source: str) -> None:
        service = Service.NNTP if spec.service == "nntp" else default
        if not any(s.spec.host == spec.host and s.service is service for s in found):
            found.append(ConfiguredServer(spec, service, source))

    def add_text(text: str, default: Service, source: str) -> None:
        try:
            spec = parse_server_spec(text)
        except PineshError as exc:
            problems.append(f"{source}: {exc.message}")
            return
        add(spec, default, source)

    mailboxes = [("inbox-path", rc.get("inbox-path") or "")]
    for var in ("folder-collections", "news-collections", "incoming-folders"):
        mailboxes += [(var, item.split()[-1]) for item in rc.get_list(var) if item.split()]
    # Only {server} names: they need no context, and #news. names use nntp-server below.
    context = NameContext(Path.home())
    for var, name in mailboxes:
        if not name.startswith("{"):
            continue
        try:
            mailbox = parse_collection_name(name, context)
        except PineshError as exc:
            problems.append(f"pinerc {var}: {exc.message}")
            continue
        if mailbox is not None and mailbox.server is not None:
            news = mailbox.driver is Driver.NNTP
            add(mailbox.server, Service.NNTP if news else Service.IMAP, f"pinerc {var}")
    for setting, default in (("smtp-server", Service.SMTP), ("nntp-server", Service.NNTP)):
        for entry in server_settings(rc, setting):
            if isinstance(entry.server, BadServerSetting):
                problems.append(entry.server.error().message)
            else:
                add(entry.server, default, f"pinerc {setting}")
    for rule in settings.rules:
        for pattern in rule.servers:
            if any(c in pattern for c in "*?["):
                continue
            for service in rule.services or ("imap", "smtp", "nntp"):
                add_text(pattern, Service(service), f"config rule line {rule.line}")
    return found, problems
