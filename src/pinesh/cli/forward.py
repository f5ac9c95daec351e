"""`pinesh forward [SERVER SERVICE] [--listen L]`: the forwards TCP-only clients need."""

from __future__ import annotations

import sys

from pinesh.cli.output import emit_json, line
from pinesh.config.server_spec import parse_server_spec
from pinesh.errors import PineshError
from pinesh.services.connections import Connections, load_connections
from pinesh.textsafe import safe_text
from pinesh.transport.forward import TCP_WARNING, default_socket, ensure_forward, parse_listen
from pinesh.transport.opener import RouteError
from pinesh.transport.routes import SshChannelRoute
from pinesh.transport.service import Service


def _one(
    connections: Connections,
    server: str,
    service: Service,
    listen_text: str | None,
    report: list[dict[str, object]] | None = None,
) -> bool:
    """Set up one forward and say so (on stdout, or into report for --json)."""
    masters = connections.masters()
    if listen_text is None:
        listen = default_socket(masters.directory, server, service)
    else:
        listen = parse_listen(listen_text)
    if listen.path is None:
        print(
            f"pinesh forward: warning: {TCP_WARNING.format(listen=listen.describe())}",
            file=sys.stderr,
        )
    plan = connections.plan(parse_server_spec(server), service)
    route = next((r for r in plan.routes if isinstance(r, SshChannelRoute)), None)
    if route is None:
        raise PineshError(
            f"{server} has no ssh channel route for {service.value}",
            hint='add a [[rule]] for it with via = "ssh"',
        )
    entry: dict[str, object] = {
        "server": server,
        "service": service.value,
        "listen": listen.describe(),
        "route": route.describe(),
    }
    try:
        result = ensure_forward(masters, route, service, listen, plan.timeout)
    except RouteError as exc:
        if report is not None:
            report.append({**entry, "state": "failed", "error": str(exc)})
        else:
            print(f"pinesh forward: {safe_text(str(exc))}", file=sys.stderr)
        return False
    state = "already up" if result.already_up else "up"
    if report is not None:
        report.append({**entry, "state": state})
    else:
        line(f"{listen.describe()} -> {route.describe()}: {state}")
    return True


def run_forward(
    config: str | None,
    pinerc: str | None,
    server: str | None,
    service: str | None,
    listen: str | None,
    as_json: bool = False,
) -> int:
    connections = load_connections(config, pinerc)
    report: list[dict[str, object]] | None = [] if as_json else None
    if server is not None:
        if service is None:
            raise PineshError(
                "give SERVER and SERVICE (--listen is optional: a Unix socket by default), or no "
                "arguments to set up every [[forward]] of the config"
            )
        ok = _one(connections, server, Service.parse(service), listen, report)
        if report is not None:
            emit_json({"forwards": report})
        return 0 if ok else 1
    forwards = connections.settings.forwards
    if not forwards:
        raise PineshError(
            "no [[forward]] in the config",
            hint="add one, or run: pinesh forward SERVER SERVICE",
        )
    results = [
        _one(connections, f.server, Service.parse(f.service), f.listen, report) for f in forwards
    ]
    if report is not None:
        emit_json({"forwards": report})
    return 0 if all(results) else 1
