"""`pinesh doctor`: try every route of every configured server and print what happened."""

from __future__ import annotations

from pinesh.services.connections import load_connections
from pinesh.services.diagnosis import (
    TABLE_HEADER,
    no_routes_row,
    note_row,
    select_servers,
    table_row,
    trials,
)
from pinesh.services.mail import header_cache_line
from pinesh.services.servers import configured_servers
from pinesh.transport.service import Service


def run_doctor(config: str | None, pinerc: str | None, only: list[str], service: str | None) -> int:
    connections = load_connections(config, pinerc)
    for rc_problem in connections.pinerc.problems:
        print(f"pinerc: {rc_problem}")
    servers, problems = configured_servers(connections.pinerc, connections.settings)
    for problem in problems:
        print(f"config: {problem}")
    servers = select_servers(servers, only, service)
    if not servers:
        print(
            "no servers are configured (pinerc inbox-path, smtp-server, nntp-server, "
            "or [[rule]]s in the pinesh config)"
        )
        return 1
    print(TABLE_HEADER)
    all_ok = True
    for server in servers:
        plan = connections.plan(server.spec, server.service)
        if not plan.routes:
            print(no_routes_row(server))
            all_ok = False
        server_ok = False
        for trial in trials(connections, server, plan):
            print(table_row(trial))
            server_ok = server_ok or trial.ok
        all_ok = all_ok and server_ok
        for note in plan.notes:
            print(note_row(note))
    imap = {s.spec.identity(): s.spec for s in servers if s.service is Service.IMAP}
    for spec in imap.values():
        print(header_cache_line(connections.settings.cache, spec))
    return 0 if all_ok else 1
