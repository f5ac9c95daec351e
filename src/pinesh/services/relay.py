"""Relay bytes between a pair of file descriptors and a socket until both sides are done."""

from __future__ import annotations

import contextlib
import os
import selectors
import socket

CHUNK = 65536


def relay(sock: socket.socket, read_fd: int, write_fd: int) -> None:
    """Copy read_fd -> sock and sock -> write_fd; return when the server side ends.

    EOF from read_fd half-closes the socket (the server sees the client leave); EOF from
    the socket ends the relay, since nothing more can come back.
    """
    sock.setblocking(True)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ, "sock")
    selector.register(read_fd, selectors.EVENT_READ, "in")
    try:
        while True:
            for key, _ in selector.select():
                if key.data == "sock":
                    data = sock.recv(CHUNK)
                    if not data:
                        return
                    _write_all(write_fd, data)
                else:
                    data = os.read(read_fd, CHUNK)
                    if not data:
                        selector.unregister(read_fd)
                        with contextlib.suppress(OSError):
                            sock.shutdown(socket.SHUT_WR)
                        continue
                    sock.sendall(data)
    finally:
        selector.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
