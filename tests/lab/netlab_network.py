"""The case study's network, made of namespaces: home, the ISP, the mail host, and a router.

    home 192.0.2.10 ══ slow link (delay_link) ══ wan (router) ─┬─ isp  198.51.100.0/24
                                                               │   shell .22  smtp .25  news .119
                                                               └─ mail 203.0.113.0/24
                                                                   mailhost .10

Every address is in an RFC 5737 documentation range and exists only inside these
namespaces; none has a route out of them. Each namespace has its own /etc/hosts (the lab's
names) and DNS search domain (home.example, isp.example, example.org), as a DHCP server
would give it. All traffic from home crosses the slow link, whose round-trip time and rate
can change while the lab runs.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab.common import LabError, live_program, run
from tests.lab.netns import add_namespace, namespaces, ns_run, remove_namespace

HOME_DOMAIN = "home.example"
ISP_DOMAIN = "isp.example"
MAIL_DOMAIN = "example.org"

HOME_ADDRESS = "192.0.2.10"
HOME_GATEWAY = "192.0.2.1"
ISP_GATEWAY = "198.51.100.1"
SHELL_ADDRESS = "198.51.100.22"
SMTP_ADDRESS = "198.51.100.25"
NEWS_ADDRESS = "198.51.100.119"
ISP_NETWORK = "198.51.100.0/24"
MAIL_GATEWAY = "203.0.113.1"
MAILHOST_ADDRESS = "203.0.113.10"

SHELL_NAME = f"shell.{ISP_DOMAIN}"
SMTP_NAME = f"smtp.{ISP_DOMAIN}"
NEWS_NAME = f"news.{ISP_DOMAIN}"
MAILHOST_NAME = f"mailhost.{MAIL_DOMAIN}"

HOSTS = f"""{SHELL_ADDRESS} {SHELL_NAME}
{SMTP_ADDRESS} {SMTP_NAME}
{NEWS_ADDRESS} {NEWS_NAME}
{MAILHOST_ADDRESS} {MAILHOST_NAME}
{HOME_ADDRESS} pc.{HOME_DOMAIN}
"""

OWNERS = Path("/run/pinesh-netlab")  # one file per running lab: its prefix, holding its pid
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Network:
    """The lab's namespaces and the slow link's relay; stop() removes all of it."""

    prefix: str
    relay: subprocess.Popen[str] | None = field(default=None, repr=False)
    rtt_ms: float = 0.0
    rate_kbit: float = 0.0

    @property
    def home(self) -> str:
        return f"{self.prefix}-home"

    @property
    def isp(self) -> str:
        return f"{self.prefix}-isp"

    @property
    def mail(self) -> str:
        return f"{self.prefix}-mail"

    @property
    def wan(self) -> str:
        return f"{self.prefix}-wan"

    def all(self) -> tuple[str, ...]:
        return (self.home, self.isp, self.mail, self.wan)

    def _tell(self, command: str) -> None:
        relay = self.relay
        if relay is None or relay.stdin is None or relay.stdout is None:
            raise LabError("the slow link's relay is not running")
        relay.stdin.write(command + "\n")
        relay.stdin.flush()
        answer = relay.stdout.readline().strip()
        if answer != "ok":
            raise LabError(f"the slow link refused {command!r}: {answer or 'it exited'}")

    def set_link(self, rtt_ms: float, rate_kbit: float = 0.0) -> None:
        """Give the home link this round-trip time and rate (kbit/s, 0: unlimited)."""
        self._tell(f"delay {rtt_ms / 2}")
        self._tell(f"rate {rate_kbit}")
        self.rtt_ms, self.rate_kbit = rtt_ms, rate_kbit

    def stop(self) -> None:
        for namespace in self.all():
            remove_namespace(namespace)
        if self.relay is not None:
            with contextlib.suppress(OSError):
                if self.relay.stdin:
                    self.relay.stdin.close()
            try:
                self.relay.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.relay.kill()
                self.relay.wait()
        (OWNERS / self.prefix).unlink(missing_ok=True)


def reap_stale_networks() -> None:
    """Remove the namespaces of labs whose test session died before its teardown."""
    if not OWNERS.is_dir():
        return
    for owner in OWNERS.iterdir():
        try:
            pid = int(owner.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = 0
        if pid and live_program(pid):
            continue
        for namespace in namespaces():
            if namespace.startswith(f"{owner.name}-"):
                remove_namespace(namespace)
        owner.unlink(missing_ok=True)


def _ip(namespace: str, *words: str) -> None:
    ns_run(namespace, ["ip", *words], what=f"set up the network ({' '.join(words)})")


def _start_relay(net: Network, rtt_ms: float, rate_kbit: float) -> tuple[str, str]:
    ends = (f"{net.prefix}h", f"{net.prefix}w")
    argv = [sys.executable, "-m", "tests.lab.delay_link", *ends]
    argv += ["--one-way-ms", str(rtt_ms / 2), "--rate-kbit", str(rate_kbit)]
    net.relay = subprocess.Popen(
        argv,
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert net.relay.stdout is not None
    if net.relay.stdout.readline().strip() != "ready":
        raise LabError(f"the slow link's relay did not start (exit {net.relay.wait()})")
    net.rtt_ms, net.rate_kbit = rtt_ms, rate_kbit
    return ends


def _join(net: Network, inside: str, interface: str, addresses: list[str], gateway: str) -> None:
    """A veth pair from the router to inside, with addresses and a default route there."""
    router_end = f"to-{inside.rsplit('-', 1)[1]}"
    run(
        ["ip", "link", "add", interface, "netns", inside, "type", "veth", "peer", "name",
         router_end, "netns", net.wan],
        what=f"link {inside} to the router",
    )  # fmt: skip
    for address in addresses:
        _ip(inside, "addr", "add", f"{address}/24", "dev", interface)
    _ip(inside, "link", "set", interface, "up")
    _ip(inside, "route", "add", "default", "via", gateway)
    _ip(net.wan, "addr", "add", f"{gateway}/24", "dev", router_end)
    _ip(net.wan, "link", "set", router_end, "up")


def build_network(rtt_ms: float = 0.0, rate_kbit: float = 0.0) -> Network:
    """Create the namespaces, the slow link and the routes; stop() undoes it all."""
    reap_stale_networks()
    OWNERS.mkdir(mode=0o755, exist_ok=True)
    net = Network("pn" + uuid.uuid4().hex[:6])
    (OWNERS / net.prefix).write_text(f"{os.getpid()}\n")
    try:
        for namespace, domain in (
            (net.home, HOME_DOMAIN),
            (net.isp, ISP_DOMAIN),
            (net.mail, MAIL_DOMAIN),
            (net.wan, "wan.example"),
        ):
            add_namespace(namespace, HOSTS, domain)
        ns_run(net.wan, ["sysctl", "-qw", "net.ipv4.ip_forward=1"], what="make wan a router")
        home_end, wan_end = _start_relay(net, rtt_ms, rate_kbit)
        run(["ip", "link", "set", home_end, "netns", net.home], what="move the link's home end")
        run(["ip", "link", "set", wan_end, "netns", net.wan], what="move the link's wan end")
        _ip(net.home, "addr", "add", f"{HOME_ADDRESS}/24", "dev", home_end)
        _ip(net.home, "link", "set", home_end, "up")
        _ip(net.home, "route", "add", "default", "via", HOME_GATEWAY)
        _ip(net.wan, "addr", "add", f"{HOME_GATEWAY}/24", "dev", wan_end)
        _ip(net.wan, "link", "set", wan_end, "up")
        _join(net, net.isp, "isp0", [SHELL_ADDRESS, SMTP_ADDRESS, NEWS_ADDRESS], ISP_GATEWAY)
        _join(net, net.mail, "mail0", [MAILHOST_ADDRESS], MAIL_GATEWAY)
    except BaseException:
        net.stop()
        raise
    return net
