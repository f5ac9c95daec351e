"""`pinesh doctor`: try every route of every configured server and print what happened."""

from __future__ import annotations

from pinesh.cli.output import emit_json, line
from pinesh.config.alpine_settings import unhonoured
from pinesh.services.connections import load_connections
from pinesh.services.diagnosis import (
    TABLE_HEADER,
    Trial,
    no_routes_row,
    note_row,
    select_servers,
    table_row,
    trials,
)
from pinesh.services.mail import header_cache_line
from pinesh.services.servers import configured_servers
from pinesh.transport.service import Service


def run_doctor(
    config: str | None,
    pinerc: str | None,
    only: list[str],
    service: str | None,
    as_json: bool = False,
) -> int:
    """Each route of each server tried, as a table (lines as they are known) or one JSON
    object at the end; 0 when every server has a route that works."""
    say = (lambda text: None) if as_json else line
    connections = load_connections(config, pinerc)
    rc_problems = [str(p) for p in connections.pinerc.problems]
    for problem in rc_problems:
        say(f"pinerc: {problem}")
    ignored = unhonoured(connections.pinerc)
    for item in ignored:
        say(f"pinerc: set, not honoured by pinesh: {item}")
    servers, problems = configured_servers(connections.pinerc, connections.settings)
    for problem in problems:
        say(f"config: {problem}")
    servers = select_servers(servers, only, service)
    report: dict[str, object] = {
        "pinerc_problems": rc_problems,
        "pinerc_not_honoured": ignored,
        "config_problems": [str(p) for p in problems],
    }
    if not servers:
        text = (
            "no servers are configured (pinerc inbox-path, smtp-server, nntp-server, "
            "or [[rule]]s in the pinesh config)"
        )
        if as_json:
            emit_json({**report, "ok": False, "servers": [], "error": text})
        else:
            print(text)
        return 1
    say(TABLE_HEADER)
    all_ok = True
    results = []
    for server in servers:
        plan = connections.plan(server.spec, server.service)
        if not plan.routes:
            say(no_routes_row(server))
            all_ok = False
        server_ok = False
        tried = []
        for trial in trials(connections, server, plan):
            say(table_row(trial))
            tried.append(_trial(trial))
            server_ok = server_ok or trial.ok
        all_ok = all_ok and server_ok
        for note in plan.notes:
            say(note_row(note))
        results.append(
            {
                "server": server.spec.host,
                "service": server.service.value,
                "ok": server_ok,
                "routes": tried,
                "notes": list(plan.notes),
            }
        )
    imap = {s.spec.identity(): s.spec for s in servers if s.service is Service.IMAP}
    caches = [header_cache_line(connections.settings.cache, spec) for spec in imap.values()]
    for cache_line in caches:
        say(cache_line)
    if as_json:
        emit_json({**report, "ok": all_ok, "servers": results, "header_caches": caches})
    return 0 if all_ok else 1


def _trial(trial: Trial) -> dict[str, object]:
    steps = trial.steps
    return {
        "route": trial.route,
        "result": trial.result,
        "shared_master": trial.shared,
        "seconds": {
            "ssh_login": steps.ssh_handshake,
            "connect": steps.connect,
            "channel": steps.channel,
            "tls": steps.tls,
            "greeting": steps.greeting,
            "total": steps.total,
        },
        "why": trial.why,
    }
