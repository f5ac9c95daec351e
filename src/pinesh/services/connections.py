"""Everything needed to reach servers, assembled once from the config files."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pinesh.config.pinerc import Pinerc, load_pinerc
from pinesh.config.pinesh_toml import load_settings
from pinesh.config.remote_shell import RemoteShell, remote_shells
from pinesh.config.server_spec import ServerSpec
from pinesh.config.settings import Settings
from pinesh.paths import pinerc_file, state_dir
from pinesh.transport.connector import Opened, open_plan
from pinesh.transport.environment import Environment
from pinesh.transport.masters import MasterPool
from pinesh.transport.memory import RouteMemory
from pinesh.transport.plan import Plan, plan_routes
from pinesh.transport.service import Service


@dataclass
class Connections:
    """Settings, Pine's settings, the ssh masters and the route memory, for one run."""

    settings: Settings
    pinerc: Pinerc
    env: Environment = field(default_factory=Environment)
    _masters: MasterPool | None = None
    _memory: RouteMemory | None = None

    _shells: list[RemoteShell] | None = None

    @property
    def shells(self) -> list[RemoteShell]:
        # Parsed once: remote_shells() records its problems in the pinerc each time.
        if self._shells is None:
            self._shells = remote_shells(self.pinerc)
        return self._shells

    def masters(self) -> MasterPool:
        if self._masters is None:
            self._masters = MasterPool(self.settings.ssh)
        return self._masters

    def memory(self) -> RouteMemory:
        if self._memory is None:
            state = self.settings.state_dir or state_dir()
            self._memory = RouteMemory(state / "routes.json", self.env.network_id())
        return self._memory

    def plan(self, server: ServerSpec, service: Service) -> Plan:
        return plan_routes(server, service, self.settings, shells=self.shells, env=self.env)

    def open(self, server: ServerSpec, service: Service) -> Opened:
        """Open service on server by the first route that works (remembered one first)."""
        return open_plan(self.plan(server, service), self.masters(), self.memory())


def load_connections(config: str | None = None, pinerc: str | None = None) -> Connections:
    """Read pinesh's config and the pinerc (missing default files mean defaults)."""
    settings = load_settings(config)
    named = pinerc is not None or bool(os.environ.get("PINERC"))
    rc = load_pinerc(pinerc_file(pinerc), named=named)
    return Connections(settings, rc)
