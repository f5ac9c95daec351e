"""pinesh connect's relay: both directions at once, any kind of input."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

from pinesh.services.relay import relay

SIZE = 8 * 1024 * 1024


def test_large_transfers_both_ways_at_once_do_not_deadlock(tmp_path: Path) -> None:
    """The server writes 8 MB before reading; the client writes 8 MB before reading."""
    ours, server = socket.socketpair()
    client_in_r, client_in_w = os.pipe()
    client_out_r, client_out_w = os.pipe()
    received = bytearray()
    sent_back = bytearray()

    def serve() -> None:
        server.sendall(b"s" * SIZE)
        while len(received) < SIZE:
            chunk = server.recv(65536)
            if not chunk:
                break
            received.extend(chunk)
        server.close()

    def client_writes() -> None:
        view = memoryview(b"c" * SIZE)
        while view:
            view = view[os.write(client_in_w, view) :]
        os.close(client_in_w)

    def client_reads() -> None:
        while chunk := os.read(client_out_r, 65536):
            sent_back.extend(chunk)

    threads = [
        threading.Thread(target=f, daemon=True) for f in (serve, client_writes, client_reads)
    ]
    for thread in threads:
        thread.start()
    relayer = threading.Thread(target=relay, args=(ours, client_in_r, client_out_w), daemon=True)
    relayer.start()
    relayer.join(timeout=60)
    assert not relayer.is_alive(), "the relay deadlocked"
    os.close(client_out_w)
    threads[2].join(timeout=10)
    assert len(received) == SIZE and set(received) == {ord("c")}
    assert len(sent_back) == SIZE and set(sent_back) == {ord("s")}


def test_input_from_a_regular_file(tmp_path: Path) -> None:
    commands = tmp_path / "commands.txt"
    commands.write_bytes(b"a1 LOGOUT\r\n")
    ours, server = socket.socketpair()
    out_r, out_w = os.pipe()

    def serve() -> None:
        data = b""
        while not data.endswith(b"\r\n"):
            data += server.recv(100)
        server.sendall(b"echo " + data)
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    with open(commands, "rb") as stdin:
        relay(ours, stdin.fileno(), out_w)
    os.close(out_w)
    assert os.read(out_r, 100) == b"echo a1 LOGOUT\r\n"
