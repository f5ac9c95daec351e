"""Trying each route of each configured server, as `pinesh doctor` and the setup screen show it.

One route is tried at a time, in plan order, without the route memory (a diagnosis
should neither skip a route that failed before nor teach the memory anything).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from pinesh.services.connections import Connections
from pinesh.services.servers import ConfiguredServer
from pinesh.transport.channel import Steps
from pinesh.transport.opener import RouteError, open_route
from pinesh.transport.plan import Plan
from pinesh.transport.routes import Route
from pinesh.transport.service import Service

TABLE_HEADER = (
    f"{'SERVER':<22} {'SVC':<5} {'ROUTE':<46} {'RESULT':<7} {'SSH':>7} "
    f"{'CHANNEL':>8} {'GREET':>7}  WHY"
)


@dataclass(frozen=True)
class Trial:
    """What happened when one route of one server was opened."""

    server: ConfiguredServer
    route: str  # the route, described
    result: str  # "ok", "FAIL" or "TIMEOUT"
    steps: Steps
    shared: bool  # rode on an ssh master that was already up
    why: str  # the failure's reason, or the channel and its greeting

    @property
    def ok(self) -> bool:
        return self.result == "ok"


def select_servers(
    servers: list[ConfiguredServer], only: list[str], service: str | None
) -> list[ConfiguredServer]:
    """The servers whose host is in only (all when empty) and whose service is service."""
    return [
        s
        for s in servers
        if (not only or s.spec.host in only) and (service is None or s.service is Service(service))
    ]


def try_route(
    connections: Connections, server: ConfiguredServer, plan: Plan, route: Route
) -> Trial:
    """Open route up to its verified greeting, time each step, and close it again."""
    began = time.monotonic()
    try:
        channel = open_route(
            route,
            server.service,
            server=server.spec,
            deadline=began + plan.timeout_for(route),
            masters=connections.masters(),
        )
    except RouteError as exc:
        result = "TIMEOUT" if exc.timed_out else "FAIL"
        return Trial(server, route.describe(), result, exc.steps or Steps(), False, exc.reason)
    greeting = channel.greeting.text
    why = channel.describe() + (": " + greeting[:60] if greeting else "")
    trial = Trial(server, route.describe(), "ok", channel.steps, channel.shared_master, why)
    channel.close()
    return trial


def trials(connections: Connections, server: ConfiguredServer, plan: Plan) -> Iterator[Trial]:
    """Each of plan's routes tried in turn (yielded as soon as it is known)."""
    for route in plan.routes:
        yield try_route(connections, server, plan, route)


def ordered_routes(connections: Connections, plan: Plan) -> list[Route]:
    """The routes in the order an open tries them here: what worked last time first."""
    return connections.memory().order(plan.key, plan.routes, plan.former_key)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def trial_columns(trial: Trial) -> str:
    """The doctor table's columns up to WHY: server, service, route, result, times."""
    steps = trial.steps
    ssh = "shared" if trial.shared else _ms(steps.ssh_handshake)
    return (
        f"{trial.server.spec.host:<22} {trial.server.service.value:<5} "
        f"{trial.route[:46]:<46} {trial.result:<7} {ssh:>7} "
        f"{_ms(steps.channel or steps.connect):>8} {_ms(steps.greeting):>7}"
    )


def table_row(trial: Trial) -> str:
    """One line of the doctor table (under TABLE_HEADER)."""
    return f"{trial_columns(trial)}  {trial.why}"


def no_routes_row(server: ConfiguredServer) -> str:
    return f"{server.spec.host:<22} {server.service.value:<5} (no routes)"


def note_row(note: str) -> str:
    return f"{'':<28} note: {note}"
