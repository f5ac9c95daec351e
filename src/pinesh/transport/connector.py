"""Open a service with fallback: try the plan's routes in order, remember what worked."""

from __future__ import annotations

import time
from dataclasses import dataclass

from pinesh.errors import PineshError
from pinesh.transport.channel import Channel
from pinesh.transport.masters import MasterPool
from pinesh.transport.memory import RouteMemory
from pinesh.transport.opener import RouteError, open_route
from pinesh.transport.plan import Plan


class UnreachableError(PineshError):
    """Every route of a plan failed; ``attempts`` says why each one did."""

    def __init__(self, plan: Plan, attempts: list[RouteError]) -> None:
        lines = [f"cannot reach {plan.service.value} on {plan.server.host}:"]
        lines += [f"  - {attempt}" for attempt in attempts]
        if not attempts:
            lines.append("  no route is configured for it")
        super().__init__("\n".join(lines), hint="`pinesh doctor` tries each route and says more")
        self.plan = plan
        self.attempts = attempts


@dataclass
class Opened:
    """A channel and the failures that came before it (shown as the fallback's reasons)."""

    channel: Channel
    fell_back_from: list[RouteError]


def open_plan(plan: Plan, masters: MasterPool | None, memory: RouteMemory | None = None) -> Opened:
    """Try plan's routes (remembered-good first) until one greets; raise UnreachableError."""
    routes = memory.order(plan.key, plan.routes, plan.former_key) if memory else list(plan.routes)
    failures: list[RouteError] = []
    for route in routes:
        try:
            channel = open_route(
                route,
                plan.service,
                server=plan.server,
                deadline=time.monotonic() + plan.timeout_for(route),
                masters=masters,
            )
        except RouteError as exc:
            failures.append(exc)
            if memory:
                memory.record(
                    plan.key, route, ok=False, timed_out=exc.timed_out, former_key=plan.former_key
                )
            continue
        if memory:
            memory.record(plan.key, route, ok=True, former_key=plan.former_key)
        return Opened(channel, failures)
    raise UnreachableError(plan, failures)
