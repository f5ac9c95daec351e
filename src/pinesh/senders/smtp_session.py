"""Reading SMTP replies from a channel's socket, with deadlines, as SendError on trouble."""

from __future__ import annotations

import time

from pinesh.senders.base import SendError, Stage
from pinesh.senders.smtp_protocol import Reply, SmtpProtocolError, split_reply
from pinesh.textsafe import safe_line
from pinesh.transport.channel import Channel


class SmtpSession:
    """One SMTP conversation over an open channel (its greeting already read)."""

    def __init__(self, channel: Channel, timeout: float) -> None:
        self.channel = channel
        self.timeout = timeout
        self._buffer = b""

    @property
    def server(self) -> str:
        return safe_line(self.channel.server.host) or "the SMTP server"

    def command(self, line: bytes, stage: Stage, *, timeout: float | None = None) -> Reply:
        """Send one command line and read its reply."""
        self.send(line, stage, timeout=timeout)
        return self.reply(stage, timeout=timeout)

    def send(self, data: bytes, stage: Stage, *, timeout: float | None = None) -> None:
        sock = self.channel.sock
        try:
            sock.settimeout(timeout or self.timeout)
            sock.sendall(data)
        except TimeoutError:
            raise self._broken(stage, "it stopped taking data (timed out)") from None
        except OSError as exc:
            raise self._broken(stage, f"the connection broke: {exc.strerror or exc}") from None

    def reply(self, stage: Stage, *, timeout: float | None = None) -> Reply:
        """The next complete reply, within the timeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        sock = self.channel.sock
        while True:
            try:
                reply, self._buffer = split_reply(self._buffer)
            except SmtpProtocolError as exc:
                raise SendError(
                    f"{self.server} does not speak SMTP as expected: {exc.message}",
                    stage=stage,
                    hint="check that the route reaches an SMTP server (`pinesh doctor`)",
                ) from None
            if reply is not None:
                return reply
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._broken(stage, "no reply in time")
            try:
                sock.settimeout(remaining)
                chunk = sock.recv(65536)
            except TimeoutError:
                raise self._broken(stage, "no reply in time") from None
            except OSError as exc:
                raise self._broken(stage, f"the connection broke: {exc.strerror or exc}") from None
            if not chunk:
                raise self._broken(stage, "it closed the connection")
            self._buffer += chunk

    def _broken(self, stage: Stage, what: str) -> SendError:
        """A SendError for a lost or silent server, with ssh's own words when it said any."""
        said = self.channel.child.stderr.text(wait=0.2) if self.channel.child else ""
        detail = f" (ssh said: {said})" if said else ""
        hint = None
        if stage is Stage.DATA:
            # Before the final dot the server drops what it got (RFC 5321 4.1.1.4); the
            # reply after it is read apart, in SmtpSender._transact.
            hint = "the server did not take the message; it is kept to send again"
        return SendError(
            f"{self.server}: {what} during {stage.value}{detail}",
            stage=stage,
            temporary=True,
            hint=hint,
        )
