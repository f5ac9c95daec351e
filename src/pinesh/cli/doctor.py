"""`pinesh doctor`: try every route of every configured server and print what happened."""

from __future__ import annotations

import time

from pinesh.services.connections import load_connections
from pinesh.services.servers import configured_servers
from pinesh.transport.channel import Steps
from pinesh.transport.opener import RouteError, open_route
from pinesh.transport.service import Service


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def run_doctor(config: str | None, pinerc: str | None, only: list[str], service: str | None) -> int:
    connections = load_connections(config, pinerc)
    for rc_problem in connections.pinerc.problems:
        print(f"pinerc: {rc_problem}")
    servers, problems = configured_servers(connections.pinerc, connections.settings)
    for problem in problems:
        print(f"config: {problem}")
    servers = [
        s
        for s in servers
        if (not only or s.spec.host in only) and (service is None or s.service is Service(service))
    ]
    if not servers:
        print(
            "no servers are configured (pinerc inbox-path, smtp-server, nntp-server, "
            "or [[rule]]s in the pinesh config)"
        )
        return 1
    header = (
        f"{'SERVER':<22} {'SVC':<5} {'ROUTE':<46} {'RESULT':<7} {'SSH':>7} "
        f"{'CHANNEL':>8} {'GREET':>7}  WHY"
    )
    print(header)
    all_ok = True
    for server in servers:
        plan = connections.plan(server.spec, server.service)
        if not plan.routes:
            print(f"{server.spec.host:<22} {server.service.value:<5} (no routes)")
            all_ok = False
        server_ok = False
        for route in plan.routes:
            began = time.monotonic()
            try:
                channel = open_route(
                    route,
                    server.service,
                    server=server.spec.host,
                    deadline=began + plan.timeout_for(route),
                    masters=connections.masters(),
                )
            except RouteError as exc:
                steps, result, why = exc.steps or Steps(), "FAIL", exc.reason
                shared = False
                if exc.timed_out:
                    result = "TIMEOUT"
            else:
                steps, result, shared = channel.steps, "ok", channel.shared_master
                why = channel.describe() + (
                    ": " + channel.greeting.text[:60] if channel.greeting.text else ""
                )
                channel.close()
                server_ok = True
            ssh = "shared" if shared else _ms(steps.ssh_handshake)
            print(
                f"{server.spec.host:<22} {server.service.value:<5} "
                f"{route.describe()[:46]:<46} {result:<7} {ssh:>7} "
                f"{_ms(steps.channel or steps.connect):>8} {_ms(steps.greeting):>7}  {why}"
            )
        all_ok = all_ok and server_ok
        for note in plan.notes:
            print(f"{'':<28} note: {note}")
    return 0 if all_ok else 1
