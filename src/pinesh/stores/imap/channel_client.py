"""IMAPClient over a transport Channel: the socket is open and the greeting already read.

imaplib reads the greeting itself when it connects, so the reader here first hands it the
greeting bytes the transport consumed, then reads the socket. The reader also bounds
what a server may send: a line longer than MAX_LINE or a literal longer than the
client's ``max_literal`` raises ReplyTooLarge before anything that large is allocated.
"""

from __future__ import annotations

import imaplib
import socket
import ssl
from typing import TYPE_CHECKING

from imapclient import IMAPClient  # type: ignore[import-untyped]

from pinesh.stores.imap.errors import ReplyTooLarge
from pinesh.transport.channel import Channel

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

# bytes of one response line: a UID SEARCH of a 1,000,000-message folder is ~7 MB.
# (imaplib's own limit, 1 MB, would refuse folders past ~150,000 messages.)
MAX_LINE = 16 * 1024 * 1024
MAX_LITERAL = 16 * 1024 * 1024  # bytes; parts are fetched in chunks far smaller
_RECV = 65536


class SocketReader:
    """Lines and literals from a socket, starting with bytes already read from it."""

    def __init__(
        self, sock: socket.socket, pending: bytes, *, max_line: int, max_literal: int
    ) -> None:
        self._sock = sock
        self._buf = bytearray(pending)
        self._max_line = max_line
        self._max_literal = max_literal

    def has_data(self) -> bool:
        """Whether a read would find bytes without waiting for the network."""
        if self._buf:
            return True
        # A TLS socket may hold decrypted bytes that select() cannot see.
        return isinstance(self._sock, ssl.SSLSocket) and self._sock.pending() > 0

    def _fill(self) -> None:
        chunk = self._sock.recv(_RECV)
        if not chunk:
            # EOF: the server (or the ssh process carrying it) went away.
            raise imaplib.IMAP4.abort("socket error: EOF")
        self._buf += chunk

    def readline(self) -> bytes:
        """One line, its line ending included."""
        start = 0
        while True:
            end = self._buf.find(b"\n", start)
            if end >= 0:
                line = bytes(self._buf[: end + 1])
                del self._buf[: end + 1]
                return line
            if len(self._buf) > self._max_line:
                raise ReplyTooLarge(f"a reply line longer than {self._max_line} bytes")
            start = len(self._buf)
            self._fill()

    def read(self, size: int) -> bytes:
        """Exactly size bytes (a literal)."""
        if size > self._max_literal:
            raise ReplyTooLarge(
                f"a literal of {size} bytes (more than the {self._max_literal} accepted)"
            )
        have = len(self._buf)
        if have >= size:
            out = bytes(self._buf[:size])
            del self._buf[:size]
            return out
        data = bytearray(size)
        view = memoryview(data)
        view[:have] = self._buf
        self._buf.clear()
        got = have
        while got < size:
            n = self._sock.recv_into(view[got:], min(size - got, 1 << 20))
            if n == 0:
                raise imaplib.IMAP4.abort("socket error: EOF in the middle of a literal")
            got += n
        return bytes(data)


class ChannelIMAP4(imaplib.IMAP4):
    """imaplib's IMAP4 on a Channel's socket, replaying the greeting the transport read."""

    def __init__(self, channel: Channel, *, timeout: float | None, max_literal: int) -> None:
        self.channel = channel
        self._timeout = timeout
        self._max_literal = max_literal
        super().__init__(channel.server.host)

    def open(self, host: str = "", port: int = 143, timeout: float | None = None) -> None:
        self.host = host
        self.port = port
        self.sock = self.channel.sock
        # Before imaplib's first command (CAPABILITY): a silent server must not hang us.
        self.sock.settimeout(self._timeout)
        self.reader = SocketReader(
            self.sock, self.channel.greeting.raw, max_line=MAX_LINE, max_literal=self._max_literal
        )

    def read(self, size: int) -> bytes:
        return self.reader.read(size)

    def readline(self) -> bytes:
        return self.reader.readline()

    def send(self, data: ReadableBuffer) -> None:
        self.sock.sendall(data)

    def shutdown(self) -> None:
        self.channel.close()


class ChannelIMAPClient(IMAPClient):  # type: ignore[misc]
    """IMAPClient whose connection is a Channel (UIDs everywhere, aware datetimes)."""

    def __init__(
        self, channel: Channel, *, timeout: float | None, max_literal: int = MAX_LITERAL
    ) -> None:
        self._channel = channel
        self._max_literal = max_literal
        super().__init__(channel.server.host, ssl=False, timeout=timeout, use_uid=True)
        # IMAPClient turns imaplib's debug output on (every line, literals repr()'d, the
        # LOGIN line with the password): costly for 1 MiB chunks, and a leak into logs.
        self._imap.debug = 0
        self.normalise_times = False

    def _create_IMAP4(self) -> ChannelIMAP4:  # noqa: N802 - IMAPClient's name
        return ChannelIMAP4(
            self._channel, timeout=self._timeout.read, max_literal=self._max_literal
        )

    @property
    def imap(self) -> ChannelIMAP4:
        """The imaplib connection underneath (for IDLE and untagged responses)."""
        imap = self._imap
        assert isinstance(imap, ChannelIMAP4)
        return imap
