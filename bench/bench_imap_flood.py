"""Peak RSS of pinesh against a hostile IMAP server: UID SEARCH answered by 200 MB of
"* OK" lines, or by ESEARCH "ALL 1:9999999".

    .venv/bin/python -m bench.bench_imap_flood

No lab needed: the server is a child process at the other end of a socketpair, so the
flood it makes is not in pinesh's RSS. Each case runs in a fresh child process, so its
peak RSS is its own. Results go to stdout as Markdown; docs/security.md quotes a run.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time

from pinesh.config.server_spec import ServerSpec
from pinesh.stores.base import StoreError
from pinesh.stores.imap.store import ImapStore
from pinesh.transport.channel import Channel
from pinesh.transport.greeting import parse_greeting
from pinesh.transport.routes import DirectRoute, Security
from pinesh.transport.service import Service

FLOOD_BYTES = 200_000_000
SELECTED = (
    b"* 3 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 4] ok\r\n"
    b"* OK [READ-WRITE] selected\r\n"
)
# name: (capabilities, the reply's untagged lines: a line and how many times)
CASES = {
    "200 MB of `* OK` lines": (b"IMAP4rev1", b"* OK\r\n", FLOOD_BYTES // 6),
    '`* ESEARCH (TAG "a1") UID ALL 1:9999999`': (
        b"IMAP4rev1 ESEARCH",
        b'* ESEARCH (TAG "a1") UID ALL 1:9999999\r\n',
        1,
    ),
}


def serve(sock: socket.socket, capabilities: bytes, search_reply: bytes) -> None:
    """A server that answers every command OK, UID SEARCH with search_reply first."""
    buf = b""
    while True:
        while b"\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                return
            buf += chunk
        line, _, buf = buf.partition(b"\r\n")
        tag, _, command = line.partition(b" ")
        verb = command.upper()
        if verb.startswith(b"UID SEARCH"):
            out = search_reply
        elif verb.startswith(b"CAPABILITY"):
            out = b"* CAPABILITY " + capabilities + b"\r\n"
        elif verb.startswith((b"SELECT", b"EXAMINE")):
            out = SELECTED
        else:
            out = b""
        try:
            sock.sendall(out + tag + b" OK done\r\n")
        except OSError:
            return  # cut off by the client


def run_case(name: str) -> dict[str, object]:
    """One case in this process: the server forked off, the UID list asked for."""
    capabilities, line, times = CASES[name]
    ours, theirs = socket.socketpair()
    if os.fork() == 0:
        ours.close()
        serve(theirs, capabilities, line * times)  # made here: not in pinesh's RSS
        os._exit(0)
    theirs.close()
    greeting = b"* PREAUTH ready\r\n"
    channel = Channel(
        ours,
        Service.IMAP,
        ServerSpec("hostile.test"),
        DirectRoute("hostile.test", 993, Security.TLS),
        parse_greeting(Service.IMAP, greeting),
        encrypted=True,
        shared_master=False,
    )
    store = ImapStore(lambda: channel, name="hostile.test", timeout=600)
    folder = store.open("INBOX")
    start = time.perf_counter()
    try:
        outcome = f"{len(folder.uids())} UIDs"
    except StoreError as exc:
        outcome = exc.message
    seconds = time.perf_counter() - start
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "outcome": outcome,
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--case":
        print(json.dumps(run_case(sys.argv[2])))
        return
    print("| reply to UID SEARCH | peak RSS | seconds | what pinesh did |")
    print("|---|---|---|---|")
    for name in CASES:
        child = subprocess.run(
            [sys.executable, "-m", "bench.bench_imap_flood", "--case", name],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(child.stdout)
        print(
            f"| {name} | {result['peak_rss_mb']} MB | {result['seconds']} | {result['outcome']} |"
        )


if __name__ == "__main__":
    main()
