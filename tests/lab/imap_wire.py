"""What an IMAP client says on the wire, recorded on the server's side of the lab.

A relay sits between the ssh channel and the preauth imapd (the rule's imap_command runs
``/usr/bin/python3 RELAY LOGDIR /usr/lib/dovecot/imap``): it copies bytes both ways and writes each
chunk it read to LOGDIR/<pid>.wire, before passing it on, with the side it came from. So
the log holds what crossed, in the order the server's end saw it, and a client's bytes
are logged only after the reply they waited for.

A round trip is a time the client waited for the server: one run of client chunks with no
server bytes between them. Commands are the client's command lines (literals and IDLE's
DONE not counted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

IMAPD = "/usr/lib/dovecot/imap"

RELAY_SCRIPT = r"""
import os, subprocess, sys, threading

logdir, argv = sys.argv[1], sys.argv[2:]
log = open(os.path.join(logdir, "%d.wire" % os.getpid()), "ab", buffering=0)
lock = threading.Lock()
child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)


def pump(src, dst, side):
    while True:
        data = os.read(src, 65536)
        if not data:
            break
        with lock:  # logged before it is passed on: the order seen is the order on the wire
            log.write(b"%s %d\n" % (side, len(data)) + data + b"\n")
        view = memoryview(data)
        while view:
            view = view[os.write(dst, view):]
    os.close(dst)


up = threading.Thread(target=pump, args=(0, child.stdin.fileno(), b"C"), daemon=True)
up.start()
pump(child.stdout.fileno(), 1, b"S")
sys.exit(child.wait())
"""

_LITERAL = re.compile(rb"\{(\d+)\+?\}$")


@dataclass(frozen=True)
class Chunk:
    """Bytes read at once from one side: C (the client) or S (the server)."""

    side: str
    data: bytes


def install_relay(directory: Path) -> tuple[list[str], Path]:
    """Write the relay into directory (readable by the lab user) with a log directory the
    lab user may write; the imap_command that runs imapd behind it, and the log directory."""
    directory.chmod(0o755)
    script = directory / "imap-relay.py"
    script.write_text(RELAY_SCRIPT)
    script.chmod(0o644)
    logs = directory / "wire"
    logs.mkdir()
    logs.chmod(0o1777)
    return ["/usr/bin/python3", str(script), str(logs), IMAPD], logs


def parse_log(data: bytes) -> list[Chunk]:
    """The chunks of one relay log; a record cut short at the end (still being written) is
    left out."""
    out: list[Chunk] = []
    at = 0
    while True:
        end = data.find(b"\n", at)
        if end < 0:
            return out
        side, size = data[at:end].split(b" ")
        start = end + 1
        if start + int(size) + 1 > len(data):
            return out
        out.append(Chunk(side.decode(), data[start : start + int(size)]))
        at = start + int(size) + 1


def read_logs(logs: Path) -> dict[str, list[Chunk]]:
    """Every connection's chunks so far, by log file name."""
    return {p.name: parse_log(p.read_bytes()) for p in sorted(logs.glob("*.wire"))}


def round_trips(chunks: list[Chunk]) -> int:
    """How many times the client waited: the runs of client chunks."""
    runs = 0
    previous = "S"
    for chunk in chunks:
        if chunk.side == "C" and previous != "C":
            runs += 1
        previous = chunk.side
    return runs


def command_names(client: bytes) -> list[str]:
    """The commands in what a client sent ("UID FETCH", "SELECT"...), literals skipped."""
    names: list[str] = []
    at = 0
    while at < len(client):
        end = client.find(b"\r\n", at)
        if end < 0:
            break
        line = client[at:end]
        at = end + 2
        words = line.split(b" ")
        if len(words) >= 2 and line.upper() != b"DONE":
            name = words[1].upper()
            if name == b"UID" and len(words) >= 3:
                name += b" " + words[2].upper()
            names.append(name.decode("ascii", "replace"))
        literal = _LITERAL.search(line)
        if literal:
            at += int(literal.group(1))
    return names


@dataclass(frozen=True)
class Tally:
    """What one action cost on the wire, over every connection it used."""

    round_trips: int
    commands: list[str]
    connections: int


class WireLog:
    """The relay's logs, read in steps: each tally covers what came since the last one."""

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self._seen: dict[str, int] = {}

    def tally(self) -> Tally:
        trips = 0
        commands: list[str] = []
        used = 0
        for name, chunks in read_logs(self._logs).items():
            new = chunks[self._seen.get(name, 0) :]
            self._seen[name] = len(chunks)
            client = b"".join(c.data for c in new if c.side == "C")
            if client:
                used += 1
            trips += round_trips(new)
            commands += command_names(client)
        return Tally(trips, commands, used)
