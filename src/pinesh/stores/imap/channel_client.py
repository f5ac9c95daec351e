"""IMAPClient over a transport Channel: the socket is open and the greeting already read.

imaplib reads the greeting itself when it connects, so the reader here first hands it the
greeting bytes the transport consumed, then reads the socket. The reader also bounds
what a server may send: a line longer than MAX_LINE or a literal longer than the
client's ``max_literal`` raises ReplyTooLarge before anything that large is allocated.

imaplib keeps every untagged response until someone takes it, so a server that answers a
command with endless "* OK" lines would fill the memory. ChannelIMAP4 counts what it
keeps (each response's data plus UNTAGGED_ENTRY_COST) and raises ReplyTooLarge rather
than keep more than ``max_untagged``; the Connection drops what is left after each
command, so the allowance is in effect per command.
"""

from __future__ import annotations

import imaplib
import socket
import ssl
from itertools import chain
from typing import TYPE_CHECKING

from imapclient import IMAPClient  # type: ignore[import-untyped]

from pinesh.stores.imap.errors import ReplyTooLarge
from pinesh.stores.imap.protocol.responses import greeting_capabilities
from pinesh.transport.channel import Channel

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

# bytes of one response line: a UID SEARCH of a 1,000,000-message folder is ~7 MB.
# (imaplib's own limit, 1 MB, would refuse folders past ~150,000 messages.)
MAX_LINE = 16 * 1024 * 1024
MAX_LITERAL = 16 * 1024 * 1024  # bytes; parts are fetched in chunks far smaller
# Untagged responses kept for one command: the largest honest ones are one SEARCH line
# (MAX_LINE) or one literal (MAX_LITERAL); four times that leaves room for the rest.
MAX_UNTAGGED = 64 * 1024 * 1024
# What Python spends to keep one response beyond its data (bytes object, list slot): a
# flood of empty "* OK" lines costs memory even though its data is nothing.
UNTAGGED_ENTRY_COST = 64
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


def _kept_size(data: object) -> int:
    """What one untagged response costs to keep: its bytes (a literal's too) and objects."""
    if isinstance(data, tuple):  # (line, literal)
        return UNTAGGED_ENTRY_COST + sum(_kept_size(part) for part in data)
    return UNTAGGED_ENTRY_COST + (len(data) if isinstance(data, bytes) else 0)


class ChannelIMAP4(imaplib.IMAP4):
    """imaplib's IMAP4 on a Channel's socket, replaying the greeting the transport read."""

    def __init__(
        self, channel: Channel, *, timeout: float | None, max_literal: int, max_untagged: int
    ) -> None:
        self.channel = channel
        self._timeout = timeout
        self._max_literal = max_literal
        self._max_untagged = max_untagged
        # What untagged_responses holds (see _kept_size), counted at each command and
        # added to as responses come; never more than max_untagged.
        self._untagged_kept = 0
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

    def _get_capabilities(self) -> None:
        # imaplib asks CAPABILITY after the greeting, always: a round trip for what a
        # greeting with [CAPABILITY ...] (Dovecot's PREAUTH, most OKs) has said already.
        told = greeting_capabilities(self.channel.greeting.raw.split(b"\r\n", 1)[0])
        if told is None:
            super()._get_capabilities()  # type: ignore[misc]  # imaplib's, not in typeshed
            return
        self.capabilities = tuple(sorted(told))

    def readline(self) -> bytes:
        return self.reader.readline()

    def send(self, data: ReadableBuffer) -> None:
        self.sock.sendall(data)

    def _new_tag(self) -> bytes:
        # Every command takes a tag here, imaplib's own and IMAPClient's raw ones alike.
        # Counted afresh: what was taken (popped) since is no longer kept.
        self._untagged_kept = sum(map(_kept_size, chain(*self.untagged_responses.values())))
        tag: bytes = super()._new_tag()  # type: ignore[misc]  # imaplib's, not in typeshed
        return tag

    def _append_untagged(self, typ: str, dat: object) -> None:
        """Keep one untagged response, unless it takes what is kept past max_untagged."""
        kept = self._untagged_kept + _kept_size(dat)
        if kept > self._max_untagged:
            raise ReplyTooLarge(
                f"more than {self._max_untagged} bytes of untagged responses to one command"
            )
        self._untagged_kept = kept
        super()._append_untagged(typ, dat)  # type: ignore[misc]  # not in typeshed either

    def _log(self, line: str) -> None:
        # imaplib keeps the repr() of the last ten lines each way for print_log(): ten
        # MAX_LINE lines of 8-bit bytes would hold 640 MB, and our LOGIN line is among
        # them. Nothing is kept.
        pass

    def _get_line(self) -> bytes:
        # imaplib's own makes that repr() of every line (four times a line of 8-bit
        # bytes) even when nothing keeps it. Same checks, no repr.
        line = self.readline()
        if not line:
            raise self.abort("socket error: EOF")
        if not line.endswith(b"\r\n"):
            raise self.abort(f"socket error: unterminated line: {line[:100]!r}")
        return line[:-2]

    def shutdown(self) -> None:
        self.channel.close()


class ChannelIMAPClient(IMAPClient):  # type: ignore[misc]
    """IMAPClient whose connection is a Channel (UIDs everywhere, aware datetimes)."""

    def __init__(
        self,
        channel: Channel,
        *,
        timeout: float | None,
        max_literal: int = MAX_LITERAL,
        max_untagged: int = MAX_UNTAGGED,
    ) -> None:
        self._channel = channel
        self._max_literal = max_literal
        self._max_untagged = max_untagged
        super().__init__(channel.server.host, ssl=False, timeout=timeout, use_uid=True)
        # IMAPClient turns imaplib's debug output on (every line, literals repr()'d, the
        # LOGIN line with the password): costly for 1 MiB chunks, and a leak into logs.
        self._imap.debug = 0
        self.normalise_times = False
        # ENABLE QRESYNC (RFC 7162) holds for the connection: sent once (commands.open_mailbox);
        # refused is a server that offers it but would not enable it.
        self.qresync_enabled = False
        self.qresync_refused = False

    def _create_IMAP4(self) -> ChannelIMAP4:  # noqa: N802 - IMAPClient's name
        return ChannelIMAP4(
            self._channel,
            timeout=self._timeout.read,
            max_literal=self._max_literal,
            max_untagged=self._max_untagged,
        )

    @property
    def imap(self) -> ChannelIMAP4:
        """The imaplib connection underneath (for IDLE and untagged responses)."""
        imap = self._imap
        assert isinstance(imap, ChannelIMAP4)
        return imap
