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
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from tests.integration.helpers import PREAUTH_RULE, write_config
from tests.lab.common import ensure_lab_user, make_lab_dir
from tests.lab.dovecot import prepare_preauth, reset_maildir
from tests.lab.maildir_fill import fill_maildir
from tests.lab.sshd import LabSshd, start_sshd

from bench.screen import (
    BIN,
    SERVER_LOG,
    Launch,
    Variant,
    count_shown,
    launch,
    messages_in,
    mutt_ready,
    tmux_overhead,
)

LOCAL_MESSAGES = 20


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
    title = count_shown(count)
    local = work / "Maildir"  # the floor: the same client on a small local folder, no ssh
    fill_maildir(local, LOCAL_MESSAGES, seed=2)
    pinerc_local = work / "pinerc-local"
    pinerc_local.write_text(f"inbox-path=#md/{local}\n")
    floor = [str(BIN / "pinesh"), "-p", str(pinerc_local), "-f", "INBOX"]
    alpine = ["alpine", "-p"]
    mutt = ["mutt", "-n", "-F"]
    return [
        Variant(f"pinesh, local Maildir of {LOCAL_MESSAGES} (no ssh: the UI alone)", floor,
                env, count_shown(LOCAL_MESSAGES), None),
        Variant(f"pinesh via fork server, local Maildir of {LOCAL_MESSAGES}", floor, served,
                count_shown(LOCAL_MESSAGES), None, forked=True),
        Variant("pinesh cold (no master)", pinesh, env, title, False),
        Variant("pinesh warm (master up)", pinesh, env, title, True),
        Variant("pinesh, fork server on but not up (master up; the launch starts it)", pinesh,
                served, title, True, server_down=True),
        Variant("pinesh via fork server, warm (server and master up)", pinesh, served, title,
                True, forked=True),
        Variant("pinesh via fork server, cold (server up, no master)", pinesh, served, title,
                False, forked=True),
        Variant("Alpine, its own ssh", [*alpine, str(alpine_own), "-i"], env, title, None),
        Variant("Alpine via pinesh-connect, master up", [*alpine, str(alpine_pinesh), "-i"],
                env, title, True),
        Variant("mutt, its own ssh tunnel", [*mutt, str(mutt_own)], env, mutt_ready(count),
                None),
        Variant("mutt via pinesh connect, master up", [*mutt, str(mutt_pinesh)], env,
                mutt_ready(count), True),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument(
        "--only", help="run only variants whose name matches this regular expression"
    )
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
        if not user.maildir.exists() or messages_in(user.maildir) != args.messages:
            fill_maildir(reset_maildir(user), args.messages, owner=user)
            time.sleep(3)  # see bench_imap_open: a real mailbox was not filled just now
        chosen = [
            v
            for v in variants(lab, work, args.messages)
            if not args.only or re.search(args.only, v.name)
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
                listening = _listening(log)
                if variant.server_down:
                    _stop_fork_servers(log, wait=True)
                results.setdefault(variant.name, []).append(
                    launch(variant, show=args.show, log=log)
                )
                if variant.server_down:  # the next variants need the server it started
                    _wait_listening(log, listening + 1)
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


def _stop_fork_servers(log: Path, wait: bool = False) -> None:
    """End the fork servers the run started (their pids are in the log); wait: until gone."""
    text = log.read_text() if log.exists() else ""
    for pid in {int(p) for p in re.findall(r"\[(\d+)\] listening on", text)}:
        try:
            if b"serve_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, 15)
        except OSError:
            continue
        deadline = time.monotonic() + 10
        while wait and _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)


def _alive(pid: int) -> bool:
    """pid runs (a zombie nobody reaps, as in a container without init, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _listening(log: Path) -> int:
    return log.read_text().count("listening on") if log.exists() else 0


def _wait_listening(log: Path, count: int, timeout: float = 60) -> None:
    """Wait until count servers in all have listened (one was started just now)."""
    deadline = time.monotonic() + timeout
    while _listening(log) < count and time.monotonic() < deadline:
        time.sleep(0.05)


if __name__ == "__main__":
    main()
