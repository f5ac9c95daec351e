"""Which route worked, per network: the next open tries it first and skips known waits.

Stored as JSON in the state directory, written atomically under a lock, since several
pinesh processes (the client, `pinesh connect` runs) may record at once.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pinesh.transport.json_state import locked_state, read_state
from pinesh.transport.routes import Route, is_secure

TIMEOUT_MEMORY = 3600.0  # seconds a timed-out route stays at the back of the line


class RouteMemory:
    """Remembered route outcomes for one network."""

    def __init__(self, path: Path, network: str) -> None:
        self.path = path
        self.network = network

    def _locked(self) -> contextlib.AbstractContextManager[dict[str, Any]]:
        return locked_state(self.path)

    def _read(self) -> dict[str, Any]:
        return read_state(self.path)

    def _entry(self, data: dict[str, Any], plan_key: str, former_key: str | None) -> dict[str, Any]:
        """The entry for plan_key on this network, replacing parts of the wrong shape.

        An entry only stored under former_key (an older pinesh's key for the same plan)
        is moved to plan_key; the move lasts when data is written back.
        """
        network = data.get(self.network)
        if not isinstance(network, dict):
            network = data[self.network] = {}
        if plan_key not in network and former_key is not None and former_key in network:
            network[plan_key] = network.pop(former_key)
        entry = network.get(plan_key)
        if not isinstance(entry, dict):
            entry = network[plan_key] = {}
        if not isinstance(entry.get("timed_out"), dict):
            entry["timed_out"] = {}
        return entry

    def order(
        self, plan_key: str, routes: Sequence[Route], former_key: str | None = None
    ) -> list[Route]:
        """routes reordered: the one that last worked first, recent timeouts last."""
        entry = self._entry(self._read(), plan_key, former_key)
        good = entry.get("good")
        timed_out = entry["timed_out"]
        now = time.time()

        def rank(index_route: tuple[int, Route]) -> tuple[int, int]:
            index, route = index_route
            # Never promote a cleartext route: one bad moment for TLS must not make a
            # downgrade stick on this network.
            if route.key == good and is_secure(route):
                return (0, index)
            if now - _stamp(timed_out.get(route.key)) < TIMEOUT_MEMORY:
                return (2, index)
            return (1, index)

        return [route for _, route in sorted(enumerate(routes), key=rank)]

    def record(
        self,
        plan_key: str,
        route: Route,
        ok: bool,
        timed_out: bool = False,
        former_key: str | None = None,
    ) -> None:
        """Remember route's outcome for plan_key on this network."""
        with self._locked() as data:
            entry = self._entry(data, plan_key, former_key)
            stamps = entry["timed_out"]
            if ok:
                entry["good"] = route.key
                stamps.pop(route.key, None)
            else:
                if entry.get("good") == route.key:
                    entry.pop("good")
                if timed_out:
                    stamps[route.key] = time.time()


def _stamp(value: object) -> float:
    """A stored time, or 0 for anything that is not a number."""
    return float(value) if isinstance(value, int | float) else 0.0
