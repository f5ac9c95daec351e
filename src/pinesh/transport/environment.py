"""Where this machine is: its network (for remembering routes) and rule conditions."""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass, field
from pathlib import Path


def _resolv_domain(path: Path = Path("/etc/resolv.conf")) -> str | None:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        words = line.split()
        if len(words) >= 2 and words[0] in ("domain", "search"):
            return words[1].lower().rstrip(".")
    return None


def _default_gateways() -> list[str]:
    """Default-route gateways and their interfaces, from /proc (no subprocess)."""
    found = []
    try:
        for line in Path("/proc/net/route").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 2 and fields[1] == "00000000":
                found.append(f"{fields[0]}/{fields[2]}")
    except OSError:
        pass
    try:
        for line in Path("/proc/net/ipv6_route").read_text().splitlines():
            fields = line.split()
            if len(fields) > 9 and fields[0] == "0" * 32 and fields[1] == "00":
                found.append(f"{fields[9]}/{fields[4]}")
    except OSError:
        pass
    return sorted(found)


@dataclass
class Environment:
    """Facts about where the machine is, computed lazily and cached for one run."""

    domain_override: str | None = None
    network_override: str | None = None
    reach_timeout: float = 0.5
    _reachable: dict[str, bool] = field(default_factory=dict)

    def domain(self) -> str | None:
        """This machine's DNS domain (resolv.conf domain/search, else the FQDN's)."""
        if self.domain_override is not None:
            return self.domain_override.lower().rstrip(".") or None
        domain = _resolv_domain()
        if domain:
            return domain
        # Not socket.getfqdn(): it asks DNS, which can hang for seconds on a bad network.
        name = socket.gethostname()
        return name.split(".", 1)[1].lower() if "." in name else None

    def network_id(self) -> str:
        """A short name for the network we are on: routes remembered here apply here."""
        if self.network_override is not None:
            return self.network_override
        basis = "|".join([*_default_gateways(), self.domain() or ""])
        return hashlib.sha256(basis.encode()).hexdigest()[:12]

    def reachable(self, host_port: str) -> bool:
        """Whether host:port accepts a TCP connection within reach_timeout."""
        if host_port not in self._reachable:
            host, _, port = host_port.rpartition(":")
            try:
                with socket.create_connection(
                    (host.strip("[]"), int(port)), timeout=self.reach_timeout
                ):
                    ok = True
            except (OSError, ValueError):
                ok = False
            self._reachable[host_port] = ok
        return self._reachable[host_port]

    def domain_matches(self, wanted: str) -> bool:
        domain, wanted = self.domain(), wanted.lower().strip(".")
        return domain is not None and (domain == wanted or domain.endswith("." + wanted))
