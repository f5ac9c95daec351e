"""Launch to the first INBOX index under tmux, 100,000 messages over ssh preauth: pinesh,
Alpine and mutt against the same lab servers in one run, cold (no ssh master) and warm.

    .venv/bin/python -m bench.bench_ui_launch [--rounds 5] [--messages 100000]

Needs root, like the test suite: it starts the lab's sshd, prepares Dovecot's preauth and
fills the lab user's ~/Maildir (kept when it already holds --messages messages). Each
launch is a new tmux session running the client; the screen is read with capture-pane
every 5 ms until the index is there with the message count on screen (pinesh and Alpine:
"of 100000" in the title bar; mutt: "Msgs:100000" in its status bar) and at least ten
index lines. The time counts from just before `tmux new-session`; the tmux overhead is
measured the same way with a program that prints at once, and given apart.

Variants: pinesh on a 20-message local Maildir (no ssh: what the UI alone costs); pinesh
cold (its master stopped first) and warm (master up); Alpine with its own ssh
(`ssh-path`, c-client's `exec /etc/rimapd`: a new login every time) and through
`pinesh-connect` with pinesh's master up; mutt with `tunnel="ssh ... exec imap"` and with
`tunnel="pinesh connect ..."`; pinesh through its opt-in fork server (cli/client_server.py,
PINESH_CLIENT_SERVER=1; the server is started by the unmeasured first launch and stays up),
warm and cold. Peak RSS is the client process's VmHWM when the index is up (for the fork
server: the forked child's, which counts the pages it shares with the server). All pinesh
variants run a snapshot of the source tree copied at the start (PYTHONPATH), so that edits
made meanwhile neither mix versions nor make the fork server refuse clients; a fork-server
launch the server did not serve is counted and reported. Results go to stdout as Markdown;
docs/benchmarks.md quotes a run.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.integration.helpers import PREAUTH_RULE, write_config
from tests.lab.common import ensure_lab_user, make_lab_dir
from tests.lab.dovecot import prepare_preauth, reset_maildir
from tests.lab.maildir_fill import fill_maildir
from tests.lab.sshd import LabSshd, start_sshd

BIN = Path(sys.executable).parent
POLL = 0.005  # seconds between screen reads
TIMEOUT = 180.0  # seconds a client may take to show its index
LOCAL_MESSAGES = 20


@dataclass(frozen=True)
class Variant:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready: Callable[[str], bool]
    master: bool | None  # pinesh's master: False stopped first, True started first
    forked: bool = False  # through the fork server: the RSS is the child's


SERVER_LOG = "client-server.log"


@dataclass
class Launch:
    seconds: float
    rss_mb: float
    served: bool = True  # a fork-server variant: the launch was a fork of the server


def _index_lines(screen: str) -> int:
    return sum(1 for line in screen.splitlines() if re.search(r"\b\d+\b.*\S{3}", line))


def _count_shown(count: int) -> Callable[[str], bool]:
    """pinesh and Alpine: 'of 100000' (or 'of 100,000') in the title bar, index lines."""
    forms = (f"of {count}", f"of {count:,}")

    def ready(screen: str) -> bool:
        lines = screen.splitlines()
        title = lines[0] if lines else ""
        return any(form in title for form in forms) and _index_lines(screen) >= 10

    return ready


def _mutt_ready(count: int) -> Callable[[str], bool]:
    def ready(screen: str) -> bool:
        return f"Msgs:{count}" in screen and _index_lines(screen) >= 10

    return ready


def _tmux(*args: str) -> str:
    done = subprocess.run(["tmux", *args], capture_output=True, text=True, check=False)
    return done.stdout


def _vm_hwm_mb(pid: int) -> float:
    """A process's peak RSS (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _fork_child(log: Path, client: int) -> int | None:
    """The fork server's child that served the thin client pid client, from its log."""
    text = log.read_text() if log.exists() else ""
    match = re.search(rf"client pid {client} \(\d+x\d+\) served by child (\d+)", text)
    return int(match.group(1)) if match else None


def launch(variant: Variant, show: bool = False, log: Path | None = None) -> Launch:
    """Start variant under tmux, wait for its index, read its peak RSS, end it."""
    session = f"bench-{uuid.uuid4().hex[:8]}"
    assignments = [f"{k}={shlex.quote(v)}" for k, v in variant.env.items()]
    # Bytecode is cached (in the prefix the env names), as for an installed pinesh: the
    # test environment may say PYTHONDONTWRITEBYTECODE, which would compile every launch.
    words = ["exec", "env", "-u", "PYTHONDONTWRITEBYTECODE", *assignments]
    command = " ".join([*words, *map(shlex.quote, variant.argv)])
    began = time.perf_counter()
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "150", "-y", "45", command],
        check=True,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            screen = _tmux("capture-pane", "-p", "-t", session)
            if variant.ready(screen):
                seconds = time.perf_counter() - began
                break
            if "Exit this greeting" in screen:  # Alpine's first-run greeting
                _tmux("send-keys", "-t", session, "E")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{variant.name}: no index after {TIMEOUT} s:\n{screen}")
            time.sleep(POLL)
        # The pane's process is the client itself: sh and env exec it.
        pane = int(_tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())
        served = True
        if variant.forked and log is not None:
            child = _fork_child(log, pane)
            served = child is not None
            pane = child if child is not None else pane
        rss = _vm_hwm_mb(pane)
        if show:
            print(f"--- {variant.name}: {seconds:.3f} s\n{screen}", file=sys.stderr)
        return Launch(seconds, rss, served)
    finally:
        _tmux("kill-session", "-t", session)
        time.sleep(0.3)  # let the client and its ssh go before the next launch


def _ready_shown(screen: str) -> bool:
    return "READY" in screen


def tmux_overhead(rounds: int) -> float:
    """Median time to see the first output of a program that prints at once."""
    times = []
    for _ in range(rounds):
        variant = Variant("tmux", ["sh", "-c", "echo READY; sleep 30"], {}, _ready_shown, None)
        times.append(launch(variant).seconds)
    return statistics.median(times)


def variants(lab: LabSshd, work: Path, count: int) -> list[Variant]:
    config = write_config(lab, work, PREAUTH_RULE, timeout=30)
    user = lab.user.name
    env = {
        "PINESH_CONFIG": str(config),
        "HOME": str(work),
        "TERM": "xterm-256color",
        "PYTHONPYCACHEPREFIX": str(work / "pycache"),
        "PYTHONPATH": str(work / "src"),  # the snapshot of pinesh's source
        "PINESH_CLIENT_SERVER": "0",
    }
    served = {**env, "PINESH_CLIENT_SERVER": "1"}
    pinerc = work / "pinerc"
    pinerc.write_text(f"user-domain=pinesh.test\ninbox-path={{lab/user={user}}}INBOX\n")
    pinesh = [str(BIN / "pinesh"), "-p", str(pinerc), "-f", "INBOX"]
    alpine_common = (
        "user-domain=pinesh.test\n"
        f"inbox-path={{lab/user={user}}}INBOX\n"
        "ssh-open-timeout=10\nrsh-open-timeout=0\n"
        "feature-list=quit-without-confirm\n"
        "last-version-used=6.26\n"  # what Alpine 2.26 writes: no first-run greeting
    )
    alpine_own = work / "pinerc-alpine"
    alpine_own.write_text(
        alpine_common
        + f"ssh-path={shutil.which('ssh')}\n"
        + f"ssh-command=%s -F {lab.client_config} %s -l %s exec /etc/r%sd\n"
    )
    alpine_pinesh = work / "pinerc-alpine-pinesh"
    alpine_pinesh.write_text(
        alpine_common + f"ssh-path={BIN / 'pinesh-connect'}\nssh-command=%s %s %s %s\n"
    )
    mutt_common = (
        f'set folder="imap://{user}@lab/"\nset spoolfile="+INBOX"\n'
        "set tunnel_is_secure=yes\nset ssl_starttls=no\n"
        'set header_cache=""\nset move=no\nset sort=mailbox-order\n'
    )
    mutt_own = work / "muttrc"
    mutt_own.write_text(
        f'set tunnel="ssh -F {lab.client_config} lab exec /usr/lib/dovecot/imap"\n' + mutt_common
    )
    mutt_pinesh = work / "muttrc-pinesh"
    mutt_pinesh.write_text(f'set tunnel="{BIN / "pinesh"} connect lab {user} imap"\n' + mutt_common)
    title = _count_shown(count)
    local = work / "Maildir"  # the floor: the same client on a small local folder, no ssh
    fill_maildir(local, LOCAL_MESSAGES, seed=2)
    pinerc_local = work / "pinerc-local"
    pinerc_local.write_text(f"inbox-path=#md/{local}\n")
    floor = [str(BIN / "pinesh"), "-p", str(pinerc_local), "-f", "INBOX"]
    alpine = ["alpine", "-p"]
    mutt = ["mutt", "-n", "-F"]
    return [
        Variant(f"pinesh, local Maildir of {LOCAL_MESSAGES} (no ssh: the UI alone)", floor,
                env, _count_shown(LOCAL_MESSAGES), None),
        Variant(f"pinesh via fork server, local Maildir of {LOCAL_MESSAGES}", floor, served,
                _count_shown(LOCAL_MESSAGES), None, forked=True),
        Variant("pinesh cold (no master)", pinesh, env, title, False),
        Variant("pinesh warm (master up)", pinesh, env, title, True),
        Variant("pinesh via fork server, warm (server and master up)", pinesh, served, title,
                True, forked=True),
        Variant("pinesh via fork server, cold (server up, no master)", pinesh, served, title,
                False, forked=True),
        Variant("Alpine, its own ssh", [*alpine, str(alpine_own), "-i"], env, title, None),
        Variant("Alpine via pinesh-connect, master up", [*alpine, str(alpine_pinesh), "-i"],
                env, title, True),
        Variant("mutt, its own ssh tunnel", [*mutt, str(mutt_own)], env, _mutt_ready(count),
                None),
        Variant("mutt via pinesh connect, master up", [*mutt, str(mutt_pinesh)], env,
                _mutt_ready(count), True),
    ]  # fmt: skip


def _messages_in(maildir: Path) -> int:
    return sum(1 for sub in ("cur", "new") for _ in (maildir / sub).iterdir())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--only", help="run only variants whose name contains this")
    parser.add_argument("--show", action="store_true", help="print each screen to stderr")
    args = parser.parse_args()
    user = ensure_lab_user()
    prepare_preauth(user)
    lab = start_sshd(user, make_lab_dir("bench-ui"))
    work = Path(tempfile.mkdtemp(prefix="pu-", dir="/tmp"))
    work.chmod(0o700)
    source = Path(__file__).resolve().parents[1] / "src" / "pinesh"
    shutil.copytree(source, work / "src" / "pinesh", ignore=shutil.ignore_patterns("__pycache__"))
    log = work / "state" / SERVER_LOG
    pinesh = [str(BIN / "pinesh"), "--config", str(work / "config.toml")]
    stop = [*pinesh, "ssh", "stop"]
    # Any open through the master starts it, and it persists: the CLI reads one line.
    start = [*pinesh, "-p", str(work / "pinerc"), "index", "INBOX", "--range", "-1"]
    results: dict[str, list[Launch]] = {}
    try:
        if not user.maildir.exists() or _messages_in(user.maildir) != args.messages:
            fill_maildir(reset_maildir(user), args.messages, owner=user)
            time.sleep(3)  # see bench_imap_open: a real mailbox was not filled just now
        chosen = [
            v for v in variants(lab, work, args.messages) if not args.only or args.only in v.name
        ]
        overhead = tmux_overhead(args.rounds)
        for variant in chosen:  # not measured: Dovecot's index, bytecode, first-run files
            launch(variant, show=args.show, log=log)  # (the first fork-server one starts it)
        for _ in range(args.rounds):
            for variant in chosen:
                if variant.master is False:
                    subprocess.run(stop, capture_output=True, check=False)
                elif variant.master:
                    subprocess.run(
                        start, capture_output=True, check=True, env={**os.environ, **variant.env}
                    )
                results.setdefault(variant.name, []).append(
                    launch(variant, show=args.show, log=log)
                )
    finally:
        subprocess.run(stop, capture_output=True, check=False)
        _stop_fork_servers(log)
        lab.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.messages} messages; {args.rounds} launches each; tmux overhead "
          f"(new-session to first output) {overhead * 1000:.0f} ms, included below.\n")  # fmt: skip
    print("| launch to first index | median s | min s | max s | peak RSS MB |")
    print("|---|---:|---:|---:|---:|")
    for name, runs in results.items():
        times = [r.seconds for r in runs]
        missed = sum(1 for r in runs if not r.served)
        note = f" ({missed} of {len(runs)} not served by the server)" if missed else ""
        print(
            f"| {name}{note} | {statistics.median(times):.3f} | {min(times):.3f} | "
            f"{max(times):.3f} | {max(r.rss_mb for r in runs):.0f} |"
        )


def _stop_fork_servers(log: Path) -> None:
    """End the fork servers the run started (their pids are in the log)."""
    text = log.read_text() if log.exists() else ""
    for pid in {int(p) for p in re.findall(r"\[(\d+)\] listening on", text)}:
        try:
            if b"serve_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, 15)
        except OSError:
            pass


if __name__ == "__main__":
    main()
