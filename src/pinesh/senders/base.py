"""What every sender shares: the envelope, the result of a send, and the two errors:
ComposeError (a draft that cannot become a message) and SendError.

A sender takes an ``Outgoing`` (envelope + the exact bytes to transmit) and either returns
``Sent`` or raises ``SendError``. It never keeps mail: that is the outbox's job.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from pinesh.errors import PineshError


@dataclass(frozen=True)
class SmtpEnvelope:
    """Who the message is from (MAIL FROM, '' for the null sender) and every recipient.

    The recipients include Bcc addresses, which are never in the transmitted headers.
    """

    sender: str
    recipients: tuple[str, ...]


@dataclass(frozen=True)
class Outgoing:
    """One message ready to go: its envelope and the bytes to transmit (CRLF line ends)."""

    envelope: SmtpEnvelope
    data: bytes


@dataclass(frozen=True)
class Sent:
    """The server (or sendmail) took the message for every recipient."""

    recipients: tuple[str, ...]
    reply: str  # the server's last words, sanitized (e.g. "250 2.0.0 Ok: queued as 4F...")
    via: str  # how it went, for the status line (e.g. "SMTP over ssh lab (channel to ::1:25)")


class Stage(enum.Enum):
    """Where a send failed; the outbox and the UI decide what to say and retry from it."""

    CONNECT = "connect"  # the server could not be reached: later sends would fail the same
    GREETING = "greeting"  # EHLO/HELO refused, or the server is not speaking SMTP
    AUTH = "auth"  # login refused, or a password would have crossed a cleartext channel
    SENDER = "sender"  # MAIL FROM refused
    RECIPIENTS = "recipients"  # one or more RCPT TO refused: nothing was sent
    DATA = "data"  # DATA or the message itself refused, or the link broke while sending it
    LOCAL = "local"  # the message or a setting cannot be sent as it is (no server involved)


@dataclass(frozen=True)
class Refusal:
    """One recipient the server would not take, and its reply (sanitized)."""

    recipient: str
    reply: str
    temporary: bool  # a 4xx reply: the same recipient may work later


class ComposeError(PineshError):
    """A draft that cannot become a message: the text names the field and the problem."""


class SendError(PineshError):
    """A message was not sent; the text names the server, what it said, and what to do.

    ``server_reply`` is the server's own reply, already sanitized for the terminal.
    ``temporary`` is True when trying again later may work (4xx, network trouble).
    """

    def __init__(
        self,
        message: str,
        *,
        stage: Stage,
        hint: str | None = None,
        server_reply: str | None = None,
        temporary: bool = False,
        refusals: tuple[Refusal, ...] = (),
    ) -> None:
        super().__init__(message, hint=hint)
        self.stage = stage
        self.server_reply = server_reply
        self.temporary = temporary
        self.refusals = refusals


class Sender(Protocol):
    """Something that transmits a message: SMTP over a channel, or a sendmail program."""

    def describe(self) -> str:
        """For the status line and the outbox: where messages go, e.g. 'SMTP smtp.isp.test'."""
        ...

    def send(self, outgoing: Outgoing) -> Sent:
        """Transmit outgoing to every envelope recipient, or raise SendError."""
        ...
