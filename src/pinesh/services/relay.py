"""Relay bytes between a pair of file descriptors and a socket until the server side ends."""

from __future__ import annotations

import contextlib
import os
import socket
import threading

CHUNK = 65536


def _client_to_server(read_fd: int, sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := os.read(read_fd, CHUNK):
            sock.sendall(data)
    # The client is done (or gone): let the server see EOF and finish.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)


def relay(sock: socket.socket, read_fd: int, write_fd: int) -> None:
    """Copy read_fd -> sock and sock -> write_fd; return when the server side ends.

    One thread per direction, blocking I/O: a full pipe one way never stalls the other
    (a single select loop with blocking writes can deadlock when both sides send a
    lot), and read_fd may be anything os.read() takes, a regular file or /dev/null too.
    """
    sock.setblocking(True)
    upstream = threading.Thread(target=_client_to_server, args=(read_fd, sock), daemon=True)
    upstream.start()
    while data := sock.recv(CHUNK):
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view) :]
