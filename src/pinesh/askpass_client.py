"""ssh's SSH_ASKPASS program: ask the running pinesh, print its answer.

ssh runs it with the prompt as its one argument (and SSH_ASKPASS_PROMPT set for a yes/no
question or a notice) and reads the answer from stdout. The question goes to the socket
named by PINESH_ASKPASS_SOCKET; the exit status is 0 with an answer, 1 when the person
cancelled or pinesh cannot be asked (ssh then fails and says why). Standard library only,
so it starts quickly, and so it runs as a plain file in an isolated Python (``python -I
FILE``: nothing of the directory it runs in is imported).
"""

from __future__ import annotations

import json
import os
import select
import socket
import sys
from collections.abc import Sequence

SOCKET_ENV = "PINESH_ASKPASS_SOCKET"  # names the askpass server's socket
MAX_REPLY = 65536
POLL = 0.5  # seconds between checks that ssh still waits for us


def _read_reply(conn: socket.socket) -> bytes | None:
    """The server's reply line; None if ssh (our parent) died first or the server hung up."""
    parent = os.getppid()
    data = b""
    while b"\n" not in data:
        readable, _, _ = select.select([conn], [], [], POLL)
        if not readable:
            if os.getppid() != parent:
                return None  # ssh is gone: nobody reads our answer
            continue
        chunk = conn.recv(4096)
        if not chunk or len(data) > MAX_REPLY:
            return None
        data += chunk
    return data.split(b"\n", 1)[0]


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    prompt = args[0] if args else ""
    path = os.environ.get(SOCKET_ENV)
    if not path:
        print(f"pinesh-askpass: {SOCKET_ENV} is not set", file=sys.stderr)
        return 1
    request = {"prompt": prompt, "kind": os.environ.get("SSH_ASKPASS_PROMPT", "")}
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(path)
            conn.sendall(json.dumps(request).encode() + b"\n")
            line = _read_reply(conn)
    except OSError as exc:
        print(f"pinesh-askpass: cannot reach pinesh: {exc}", file=sys.stderr)
        return 1
    if line is None:
        return 1
    try:
        answer = json.loads(line).get("answer")
    except (ValueError, AttributeError):
        return 1
    if not isinstance(answer, str):
        return 1
    sys.stdout.write(answer + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
