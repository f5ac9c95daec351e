"""pinesh, Alpine and mutt from home across the lab's slow link (the case study's network):
launch to the first INBOX index, a second folder, sending and posting, with the ssh logins
each one cost, at several round-trip times, all clients interleaved in one run.

    .venv/bin/python -m bench.bench_network [--rtts 0,40,100] [--rounds 3] [--messages 100000]
        [--folder-messages 300] [--timeout 180] [--only TEXT] [--show]

Needs root, like the test suite: it starts the netlab once (tests/lab/netlab.py: home,
ISP, mail host and router namespaces, sshd on the ISP's shell server and on the mail host,
the ISP's Postfix and INN, Dovecot) for a user of its own, pineshbench (the test suites,
which may run meanwhile, reset the lab user's Maildir), fills the mail host's INBOX (that
user's ~/Maildir, kept when it already holds --messages messages) and a second folder
`bench` (~/Maildir/.bench, --folder-messages messages). Then, for each RTT (set on the running
link), it runs every measurement once per round, in the same order each round (A B C A B
C ...). Every client runs inside the home namespace. Before the first RTT, each launch
variant runs once unmeasured (Dovecot's indexes, bytecode, Alpine's first-run files,
mutt's header cache).

Launches are measured as bench_ui_launch measures them (bench/screen.py: a new tmux
session, capture-pane every 5 ms until the message count and ten index lines are on the
screen). Every pinesh run has an XDG_CACHE_HOME of the bench's own, so its header cache
is what the variant says: cold (emptied before each launch) or warm (kept by the launch
before; an unmeasured launch fills it when empty). pinesh launches get a second time,
"confirmed": the status line shows the server's count and no longer "cached, not yet
confirmed by the server"; the first time is the first index, from the cache when one
was painted before the server answered (counted per variant). Command-line steps
(pinesh index, send, post) are timed from the start of the process to its exit; a send
is then checked to have reached the ISP's Postfix, a post to have been accepted. The ssh
logins of each measurement are the difference of sshd's "Accepted publickey" lines on
the mail host and on the ISP's shell server, before and after it. --wire then counts the
IMAP round trips of one launch per client (the relay of tests/lab/imap_wire.py). Results
go to stdout as Markdown, with ratios against Alpine with its own ssh at the same RTT (for
the second folder: Alpine -f bench); docs/benchmarks.md quotes a run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.netlab_helpers import ISP_RULES, write_home_files
from tests.lab.common import ensure_lab_user
from tests.lab.dovecot import reset_maildir
from tests.lab.imap_wire import Tally, WireLog, install_relay
from tests.lab.maildir_fill import fill_maildir
from tests.lab.netlab import NetLab, start_netlab

from bench.screen import (
    BIN,
    Launch,
    Variant,
    confirmed_shown,
    count_shown,
    launch,
    messages_in,
    mutt_ready,
)

FOLDER = "bench"  # the second folder: ~/Maildir/.bench on the mail host, IMAP name "bench"
NEWSGROUP = "local.test"
BENCH_USER = "pineshbench"  # not the tests' lab user: their sessions reset its ~/Maildir
STEP_TIMEOUT = 180.0  # seconds a command-line step may take

# pinesh's rule for the mail host: Pine's remote command over its shared master, no fallback
# (a failed ssh route must show as a failure, not as a quiet IMAPS login).
MAILHOST_RULE = """
[[rule]]
servers = ["mailhost.example.org"]
services = ["imap"]
imap_command = ["/etc/rimapd"]
fallback = []
"""

LAUNCH = "launch to the first INBOX index"
SECOND = f"a second folder ({FOLDER})"
SEND = "send a message through the ISP's shell server"
POST = "post an article through the ISP's shell server"
BASELINE = {LAUNCH: "Alpine, its own ssh", SECOND: "Alpine -f bench, its own ssh"}


@dataclass
class Measure:
    """One thing measured each round: prepare() is not timed, run() returns seconds."""

    section: str
    name: str
    run: Callable[[], float | Launch]  # a Launch may carry a second time (confirmed)
    prepare: Callable[[], None] = lambda: None
    warm_up: bool = False  # run once unmeasured before the first RTT


@dataclass
class Result:
    seconds: list[float] = field(default_factory=list)
    confirmed: list[float] = field(default_factory=list)  # pinesh: the server's count shown
    early: int = 0  # runs whose first index was the header cache's (before the server's)
    mail_logins: list[int] = field(default_factory=list)
    shell_logins: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Bench:
    """The lab, the files of a user at home, and the measurements."""

    def __init__(
        self, lab: NetLab, work: Path, count: int, folder_count: int, timeout: float
    ) -> None:
        self.timeout = timeout  # seconds a launch may take to show its index
        self.lab, self.work, self.count, self.folder_count = lab, work, count, folder_count
        self.last = ""  # the stdout of the last timed command
        user, host = lab.user.name, lab.mailhost_name
        self.folder_name = f"{{{host}/user={user}}}{FOLDER}"
        # pinesh with rules: the mail host's preauth over its master, SMTP and NNTP through
        # the ISP's shell server (as tests/integration/test_network_isp.py).
        self.config = write_home_files(lab, work, ISP_RULES + MAILHOST_RULE, timeout=30)
        self.pinerc = work / "pinerc"
        # pinesh with a pinerc only: Pine's ssh-path and ssh-command, no rule; a private
        # control and state directory so the run leaves nothing behind.
        self.config_only = work / "config-pinerc-only.toml"
        self.config_only.write_text(
            f'state_dir = "{work / "state-pinerc-only"}"\n\n'
            f'[ssh]\ncontrol_dir = "{work / "ctl-pinerc-only"}"\n'
        )
        ssh_command = f"%s %s -F {lab.ssh_config} -l %s exec /etc/r%sd"
        self.pinerc_only = work / "pinerc-only"
        self.pinerc_only.write_text(
            self.pinerc.read_text() + f"ssh-path=/usr/bin/ssh\nssh-command={ssh_command}\n"
        )
        self.env = {
            "PINESH_CONFIG": str(self.config),
            "HOME": str(work),
            "TERM": "xterm-256color",
            "PYTHONPYCACHEPREFIX": str(work / "pycache"),
            "PYTHONPATH": str(work / "src"),  # the snapshot of pinesh's source
            "PINESH_CLIENT_SERVER": "0",
            # Every pinesh run has a header cache of the bench's own (never the user's):
            # command-line steps share this one; each launch variant names its own.
            "XDG_CACHE_HOME": str(self.cache_home("cli")),
        }
        self.env_only = {
            **self.env,
            "PINESH_CONFIG": str(self.config_only),
            "XDG_CACHE_HOME": str(self.cache_home("pinerc-only")),
        }
        alpine_common = (
            "user-domain=home.example\n"
            f"inbox-path={{{host}/user={user}}}INBOX\n"
            "ssh-open-timeout=10\nrsh-open-timeout=0\n"
            "feature-list=quit-without-confirm\n"
            "last-version-used=6.26\n"  # what Alpine 2.26 writes: no first-run greeting
        )
        self.alpine_own = work / "pinerc-alpine"
        self.alpine_own.write_text(
            alpine_common + f"ssh-path=/usr/bin/ssh\nssh-command={ssh_command}\n"
        )
        self.alpine_pinesh = work / "pinerc-alpine-pinesh"
        self.alpine_pinesh.write_text(
            alpine_common + f"ssh-path={BIN / 'pinesh-connect'}\nssh-command=%s %s %s %s\n"
        )
        mutt_common = (
            f'set tunnel="ssh -F {lab.ssh_config} {host} exec /etc/rimapd"\n'
            f'set folder="imap://{user}@{host}/"\nset spoolfile="+INBOX"\n'
            "set tunnel_is_secure=yes\nset ssl_starttls=no\n"
            "set move=no\nset sort=mailbox-order\n"
        )
        (work / "hcache").mkdir()
        self.muttrc_cache = work / "muttrc-cache"
        self.muttrc_cache.write_text(mutt_common + f'set header_cache="{work / "hcache"}/"\n')
        self.muttrc_plain = work / "muttrc"
        self.muttrc_plain.write_text(mutt_common + 'set header_cache=""\n')
        self.mutt_folder = f"imap://{user}@{host}/{FOLDER}"

    # ------------------------------------------------------------------ header caches

    def cache_home(self, name: str) -> Path:
        """An XDG_CACHE_HOME of the bench's own (pinesh's cache is $XDG_CACHE_HOME/pinesh)."""
        path = self.work / "cache" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def empty_cache(self, name: str) -> None:
        """A cold cache: the directory emptied, as on a first launch."""
        path = self.cache_home(name)
        shutil.rmtree(path)
        path.mkdir()

    def cache_filled(self, name: str) -> bool:
        return any((self.cache_home(name) / "pinesh" / "imap").glob("*.sqlite"))

    # ------------------------------------------------------------------ running things

    def pinesh(self, *args: str, only: bool = False) -> list[str]:
        config, pinerc = (
            (self.config_only, self.pinerc_only) if only else (self.config, self.pinerc)
        )
        return [str(BIN / "pinesh"), "--config", str(config), "-p", str(pinerc), *args]

    def home(
        self, argv: list[str], *, input: str | None = None, only: bool = False
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **(self.env_only if only else self.env)}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode cached, as installed
        return subprocess.run(
            self.lab.home(argv), input=input, capture_output=True, text=True, env=env,
            timeout=STEP_TIMEOUT, check=False,
        )  # fmt: skip

    def timed(self, argv: list[str], *, input: str | None = None, only: bool = False) -> float:
        began = time.perf_counter()
        done = self.home(argv, input=input, only=only)
        seconds = time.perf_counter() - began
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[-4:])}: exit {done.returncode}: "
                               f"{(done.stdout + done.stderr).strip()[-500:]}")  # fmt: skip
        self.last = done.stdout
        return seconds

    def stop_masters(self) -> None:
        for config in (self.config, self.config_only):
            self.home([str(BIN / "pinesh"), "--config", str(config), "ssh", "stop"])

    def stop_pinerc_only_masters(self) -> None:
        self.home([str(BIN / "pinesh"), "--config", str(self.config_only), "ssh", "stop"])

    def start_connect_master(self) -> None:
        """The master pinesh-connect uses: Alpine passes /user=, which pinesh-connect, like
        pinesh's own opens of the same name, makes the preauth login's user (-l), so both
        ride on one master."""
        argv = [str(BIN / "pinesh-connect"), self.lab.mailhost_name, self.lab.user.name, "imap"]
        self.timed(argv, input="a LOGOUT\r\n")

    def stop_master(self, host: str) -> None:
        self.home([*self.pinesh("ssh", "stop", host)])

    def start_mail_master(self) -> None:
        """Any open through the master starts it, and it persists."""
        self.timed(self.pinesh("index", self.folder_name, "--range", "-1"))

    # ------------------------------------------------------------------ measurements

    def _launch(self, variant: Variant, show: bool) -> Callable[[], Launch]:
        return lambda: launch(variant, show=show, timeout=self.timeout)

    def _index(self, only: bool = False) -> float:
        argv = self.pinesh("--json", "index", self.folder_name, only=only)
        seconds = self.timed(argv, only=only)
        count = json.loads(self.last)["status"]["count"]
        if count != self.folder_count:
            raise RuntimeError(f"index {FOLDER}: {count} messages, not {self.folder_count}")
        return seconds

    def _send(self) -> float:
        marker = f"bench-{uuid.uuid4().hex}"
        argv = self.pinesh("--json", "send", "--to", "friend@example.com", "--subject",
                           "bench across the link")  # fmt: skip
        seconds = self.timed(argv, input=f"Sent from home through the ISP.\n{marker}\n")
        if json.loads(self.last).get("sent") is not True:
            raise RuntimeError(f"send: {self.last}")
        self.lab.postfix.wait_for_delivery(marker.encode(), timeout=60)
        return seconds

    def _post(self) -> float:
        marker = f"bench-{uuid.uuid4().hex}"
        argv = self.pinesh("--json", "post", "--newsgroups", NEWSGROUP, "--subject",
                           "bench across the link")  # fmt: skip
        seconds = self.timed(argv, input=f"Posted from home through the ISP.\n{marker}\n")
        if json.loads(self.last).get("posted") is not True:
            raise RuntimeError(f"post: {self.last}")
        return seconds

    def measures(self, show: bool) -> list[Measure]:
        lab, env, env_only = self.lab, self.env, self.env_only
        inbox, folder = count_shown(self.count), count_shown(self.folder_count)
        pinesh = lab.home([str(BIN / "pinesh"), "-p", str(self.pinerc), "-f", "INBOX"])
        only = lab.home([str(BIN / "pinesh"), "-p", str(self.pinerc_only), "-f", "INBOX"])
        # The user comes from ssh's config: with /user=... the name is too long for pinesh's
        # title bar at 150 columns, and the count ("of 300") would not be on screen.
        pinesh_f = lab.home([str(BIN / "pinesh"), "-p", str(self.pinerc), "-f",
                             f"{{{lab.mailhost_name}}}{FOLDER}"])  # fmt: skip
        alpine_own = lab.home(["alpine", "-p", str(self.alpine_own), "-i"])
        alpine_pc = lab.home(["alpine", "-p", str(self.alpine_pinesh), "-i"])
        alpine_f = lab.home(["alpine", "-p", str(self.alpine_own), "-i", "-f", self.folder_name])
        mutt_cache = lab.home(["mutt", "-n", "-F", str(self.muttrc_cache)])
        mutt_plain = lab.home(["mutt", "-n", "-F", str(self.muttrc_plain)])
        mutt_f = lab.home(["mutt", "-n", "-F", str(self.muttrc_plain), "-f", self.mutt_folder])
        mail, shell = lab.mailhost_name, lab.shell_name

        def cold() -> None:
            self.stop_master(mail)

        def launched(name: str, argv: list[str], ready: Callable[[str], bool],
                     environment: dict[str, str], prepare: Callable[[], None] = lambda: None,
                     section: str = LAUNCH,
                     confirmed: Callable[[str], bool] | None = None) -> Measure:  # fmt: skip
            variant = Variant(name, argv, environment, ready, None, confirmed=confirmed)
            return Measure(section, name, self._launch(variant, show), prepare, warm_up=True)

        def cached(name: str, argv: list[str], count: int, *, master: bool, warm: bool,
                   section: str = LAUNCH) -> Measure:  # fmt: skip
            """A pinesh launch with its own header cache: warm (kept filled by the launch
            before, an unmeasured one when empty) or cold (emptied first); its master up
            or stopped first. Timed to the first index and to the server's count."""
            home = (
                f"warm-{FOLDER if section == SECOND else 'inbox'}" if warm else f"cold-{len(names)}"
            )
            names.append(name)
            environment = {**env, "XDG_CACHE_HOME": str(self.cache_home(home))}
            variant = Variant(name, argv, environment, count_shown(count), None,
                              confirmed=confirmed_shown(count))  # fmt: skip

            def prepare() -> None:
                if warm and not self.cache_filled(home):
                    launch(variant, timeout=self.timeout)
                elif not warm:
                    self.empty_cache(home)
                if master:
                    self.start_mail_master()
                else:
                    cold()

            return Measure(section, name, self._launch(variant, show), prepare, warm_up=True)

        names: list[str] = []
        mutt_count = mutt_ready(self.count)

        def only_prepare() -> None:
            self.empty_cache("pinerc-only")
            self.stop_pinerc_only_masters()

        return [
            cached("pinesh cold master, cold cache (master stopped, cache emptied first)",
                   pinesh, self.count, master=False, warm=False),
            cached("pinesh warm master, cold cache (master up, cache emptied first)",
                   pinesh, self.count, master=True, warm=False),
            cached("pinesh warm master, warm cache (master up, INBOX read before)",
                   pinesh, self.count, master=True, warm=True),
            cached("pinesh cold master, warm cache (master stopped, INBOX read before)",
                   pinesh, self.count, master=False, warm=True),
            launched("pinesh, pinerc only (ssh-path=/usr/bin/ssh, no rule; masters stopped "
                     "and cache emptied first)", only, inbox, env_only, only_prepare,
                     confirmed=confirmed_shown(self.count)),
            launched(BASELINE[LAUNCH], alpine_own, inbox, env),
            launched("Alpine via pinesh-connect, master up", alpine_pc, inbox, env,
                     self.start_connect_master),
            launched("mutt, its own ssh tunnel, header cache", mutt_cache, mutt_count, env),
            launched("mutt, its own ssh tunnel, no header cache", mutt_plain, mutt_count, env),
            Measure(SECOND, "pinesh index bench, cold (CLI)", self._index, cold),
            Measure(SECOND, "pinesh index bench, warm (CLI)", self._index,
                    self.start_mail_master),
            Measure(SECOND, "pinesh index bench, pinerc only (CLI, right after the warm one)",
                    lambda: self._index(only=True)),
            cached("pinesh -f bench, warm master, cold cache (launch)", pinesh_f,
                   self.folder_count, master=True, warm=False, section=SECOND),
            cached("pinesh -f bench, warm master, warm cache (launch)", pinesh_f,
                   self.folder_count, master=True, warm=True, section=SECOND),
            launched(BASELINE[SECOND], alpine_f, folder, env, section=SECOND),
            launched("mutt -f bench, its own ssh tunnel, no header cache", mutt_f,
                     mutt_ready(self.folder_count), env, section=SECOND),
            Measure(SEND, "pinesh send, cold (shell master stopped first)", self._send,
                    lambda: self.stop_master(shell)),
            Measure(SEND, "pinesh send, warm (right after the cold one)", self._send),
            Measure(POST, "pinesh post, cold (shell master stopped first)", self._post,
                    lambda: self.stop_master(shell)),
            Measure(POST, "pinesh post, warm (right after the cold one)", self._post),
        ]  # fmt: skip


# ---------------------------------------------------------------------------- the run


def fill(lab: NetLab, count: int, folder_count: int) -> None:
    """INBOX with count messages and .bench with folder_count, kept when already so."""
    user = lab.user
    filled = False
    if not user.maildir.exists() or messages_in(user.maildir) != count:
        fill_maildir(reset_maildir(user), count, owner=user)
        filled = True
    box = user.maildir / f".{FOLDER}"
    if not box.exists() or messages_in(box) != folder_count:
        shutil.rmtree(box, ignore_errors=True)
        fill_maildir(user.maildir, folder_count, seed=5, folder=FOLDER, owner=user)
        filled = True
    if filled:
        time.sleep(3)  # see bench_imap_open: a real mailbox was not filled just now


def wire_pass(bench: Bench, relay_dir: Path) -> list[tuple[str, Tally]]:
    """Round trips of one launch per client, counted on the mail host's side by the relay
    of tests/lab/imap_wire.py (between sshd and imapd; see docs/benchmarks.md "IMAP round
    trips on the wire"), from the launch until the index was confirmed and the session
    killed. Each variant launches once unmeasured first (its master, its cache)."""
    lab, work = bench.lab, bench.work
    command, logs = install_relay(relay_dir)
    relay = " ".join(command[:-1])  # the relay in front of imapd, for Alpine's and mutt's ssh
    home = work / "wire-home"
    home.mkdir()
    words = ", ".join(f'"{w}"' for w in command)
    rule = MAILHOST_RULE.replace('imap_command = ["/etc/rimapd"]', f"imap_command = [{words}]")
    config = write_home_files(lab, home, ISP_RULES + rule, timeout=30)
    pinerc_alpine = home / "pinerc-alpine"
    pinerc_alpine.write_text(bench.alpine_own.read_text().replace(
        "exec /etc/r%sd", f"exec {relay} /etc/r%sd"))  # fmt: skip
    muttrc = home / "muttrc"
    muttrc.write_text(bench.muttrc_cache.read_text().replace(
        "exec /etc/rimapd", f"exec {relay} /etc/rimapd").replace(
        str(work / "hcache"), str(home)))  # fmt: skip
    env = {**bench.env, "PINESH_CONFIG": str(config)}
    pinesh = lab.home([str(BIN / "pinesh"), "-p", str(home / "pinerc"), "-f", "INBOX"])
    inbox = count_shown(bench.count)

    def cache_env(name: str) -> dict[str, str]:
        return {**env, "XDG_CACHE_HOME": str(bench.cache_home(name))}

    variants = [
        ("pinesh, cold cache (master up)", Variant("pinesh", pinesh, cache_env("wire-cold"),
         inbox, None, confirmed=confirmed_shown(bench.count)), "wire-cold"),
        ("pinesh, warm cache (master up)", Variant("pinesh", pinesh, cache_env("wire-warm"),
         inbox, None, confirmed=confirmed_shown(bench.count)), None),
        ("Alpine, its own ssh", Variant("alpine", lab.home(["alpine", "-p", str(pinerc_alpine),
         "-i"]), env, inbox, None), None),
        ("mutt, header cache", Variant("mutt", lab.home(["mutt", "-n", "-F", str(muttrc)]), env,
         mutt_ready(bench.count), None), None),
    ]  # fmt: skip
    wire = WireLog(logs)
    tallies: list[tuple[str, Tally]] = []
    for name, variant, cold in variants:
        try:
            launch(variant, timeout=bench.timeout)  # master, cache, first-run files
            if cold is not None:
                bench.empty_cache(cold)
            time.sleep(0.5)  # the relay logs the last bytes of the launch before
            wire.tally()
            launch(variant, timeout=bench.timeout)
            time.sleep(0.5)
            tallies.append((name, wire.tally()))
        except Exception as exc:  # one failure must not lose the run; say what was sent
            print(f"wire {name} failed: {exc}", file=sys.stderr)
            error = str(exc).strip().splitlines()[-3:]
            tallies.append((f"{name} (failed: {' / '.join(error)[:200]})", wire.tally()))
    bench.home([str(BIN / "pinesh"), "--config", str(config), "ssh", "stop"])
    return tallies


def report_wire(tallies: list[tuple[str, Tally]]) -> None:
    print("\n### IMAP round trips of one launch (to the confirmed index)\n")
    print("| variant | round trips | IMAP connections | commands |")
    print("|---|---:|---:|---|")
    for name, tally in tallies:
        commands = ", ".join(tally.commands)
        print(f"| {name} | {tally.round_trips} | {tally.connections} | {commands[:600]} |")


def measure_once(lab: NetLab, measure: Measure, result: Result) -> None:
    measure.prepare()
    mail, shell = lab.mailhost.authentications(), lab.shell.authentications()
    outcome = measure.run()
    time.sleep(0.2)  # sshd writes its log line; a login is logged before any data flows
    if isinstance(outcome, Launch):
        result.seconds.append(outcome.seconds)
        if outcome.confirmed is not None:
            result.confirmed.append(outcome.confirmed)
            result.early += outcome.early
    else:
        result.seconds.append(outcome)
    result.mail_logins.append(lab.mailhost.authentications() - mail)
    result.shell_logins.append(lab.shell.authentications() - shell)


def _span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}-{high}"


def report(results: dict[tuple[str, str, float], Result], measures: list[Measure],
           rtts: list[float]) -> None:  # fmt: skip
    sections = list(dict.fromkeys(m.section for m in measures))
    for section in sections:
        baseline = BASELINE.get(section)
        print(f"\n### {section}\n")
        ratio_head = f"x {baseline}" if baseline else "x"
        print(f"| variant | RTT ms | median s | min-max s | {ratio_head} | confirmed median s | "
              "confirmed min-max s | confirmed x | runs painted from cache | "
              "ssh logins per run (mail host / shell server) |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for measure in (m for m in measures if m.section == section):
            for rtt in rtts:
                result = results[(section, measure.name, rtt)]
                if not result.seconds:
                    print(f"| {measure.name} | {rtt:g} | failed | | | | | | | |")
                    continue
                median = statistics.median(result.seconds)
                base = results.get((section, baseline or "", rtt))
                base_median = statistics.median(base.seconds) if base and base.seconds else None
                ratio = f"{median / base_median:.2f}" if base_median else ""
                confirmed = " | | | "
                if result.confirmed:
                    second = statistics.median(result.confirmed)
                    second_ratio = f"{second / base_median:.2f}" if base_median else ""
                    confirmed = (f" {second:.3f} | {min(result.confirmed):.3f}-"
                                 f"{max(result.confirmed):.3f} | {second_ratio} | "
                                 f"{result.early} of {len(result.confirmed)} ")  # fmt: skip
                failed = f" ({len(result.errors)} failed)" if result.errors else ""
                print(
                    f"| {measure.name}{failed} | {rtt:g} | {median:.3f} | "
                    f"{min(result.seconds):.3f}-{max(result.seconds):.3f} | {ratio} |"
                    f"{confirmed}| "
                    f"{_span(result.mail_logins)} / {_span(result.shell_logins)} |"
                )
    print("\nRaw seconds, in run order:\n")
    for (_, name, rtt), result in results.items():
        values = ", ".join(f"{s:.3f}" for s in result.seconds)
        if result.confirmed:
            values += "; confirmed " + ", ".join(f"{s:.3f}" for s in result.confirmed)
        print(f"- {rtt:g} ms, {name}: {values}")
    errors = [(key, e) for key, r in results.items() for e in r.errors]
    if errors:
        print("\nFailures:\n")
        for (_, name, rtt), error in errors:
            print(f"- {rtt:g} ms, {name}: {error}")


def _facts() -> str:
    ssh = subprocess.run(["ssh", "-V"], capture_output=True, text=True, check=False).stderr
    load = os.getloadavg()
    return (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores; "
            f"{platform.platform()}; {ssh.strip()}; load before {load[0]:.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rtts", default="0,40,100", help="round-trip times in ms")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--folder-messages", type=int, default=300)
    parser.add_argument("--only", help="run only measurements whose name contains this")
    parser.add_argument("--timeout", type=float, default=180, help="seconds to an index")
    parser.add_argument("--show", action="store_true", help="print each screen to stderr")
    parser.add_argument(
        "--wire", action="store_true", help="then count one launch's round trips per client"
    )
    args = parser.parse_args()
    rtts = [float(word) for word in args.rtts.split(",")]
    facts = _facts()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the lab is stopped even then
    user = ensure_lab_user(BENCH_USER)
    lab = start_netlab(user, rtt_ms=rtts[0])
    work = Path(tempfile.mkdtemp(prefix="pn-bench-", dir="/tmp"))
    work.chmod(0o700)
    source = Path(__file__).resolve().parents[1] / "src" / "pinesh"
    shutil.copytree(source, work / "src" / "pinesh", ignore=shutil.ignore_patterns("__pycache__"))
    results: dict[tuple[str, str, float], Result] = {}
    began = time.monotonic()
    bench: Bench | None = None
    relay_dir = Path(tempfile.mkdtemp(prefix="pn-wire-", dir="/tmp"))
    tallies: list[tuple[str, Tally]] = []
    try:
        fill(lab, args.messages, args.folder_messages)
        bench = Bench(lab, work, args.messages, args.folder_messages, args.timeout)
        measures = [m for m in bench.measures(args.show) if not args.only or args.only in m.name]
        for measure in measures:  # not measured: indexes, bytecode, first-run files, caches
            if measure.warm_up:
                try:
                    measure.prepare()
                    outcome = measure.run()
                    seconds = outcome.seconds if isinstance(outcome, Launch) else outcome
                    print(f"warm-up {measure.name}: {seconds:.3f} s", file=sys.stderr)
                except Exception as exc:
                    print(f"warm-up of {measure.name} failed: {exc}", file=sys.stderr)
        for rtt in rtts:
            lab.net.set_link(rtt)
            for _ in range(args.rounds):
                for measure in measures:
                    result = results.setdefault((measure.section, measure.name, rtt), Result())
                    try:
                        measure_once(lab, measure, result)
                        progress = f"{result.seconds[-1]:.3f} s"
                        if result.confirmed:
                            progress += f", confirmed {result.confirmed[-1]:.3f} s"
                    except Exception as exc:  # one failure must not lose the run
                        result.errors.append(str(exc).strip().splitlines()[-1][:300])
                        progress = f"failed: {exc}"
                    print(f"{rtt:g} ms  {measure.name}: {progress}", file=sys.stderr)
        if args.wire:
            tallies = wire_pass(bench, relay_dir)
    finally:
        if bench is not None:
            bench.stop_masters()
        lab.stop()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(relay_dir, ignore_errors=True)
    print(f"{facts}. {args.messages} messages in INBOX, {args.folder_messages} in {FOLDER}; "
          f"{args.rounds} rounds per RTT; RTTs {args.rtts} ms; "
          f"{(time.monotonic() - began) / 60:.1f} min.")  # fmt: skip
    report(results, measures, rtts)
    if tallies:
        report_wire(tallies)


if __name__ == "__main__":
    main()
