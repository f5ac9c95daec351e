"""Sending mail: compose a message, keep it in the outbox, send it by SMTP or sendmail.

- ``compose``: a Draft -> RFC 5322 bytes (no Bcc on the wire) and its envelope;
- ``smtp`` (over ``smtp_protocol``'s pure parsers and ``smtp_session``): SMTP on a
  transport Channel, AUTH only where a password may cross;
- ``sendmail``: Pine's sendmail-path, run as an argv;
- ``outbox``: every message is kept before it is sent, and removed only once sent.
"""

from pinesh.senders.base import Outgoing, Refusal, Sender, SendError, Sent, SmtpEnvelope, Stage

__all__ = ["Outgoing", "Refusal", "SendError", "Sender", "Sent", "SmtpEnvelope", "Stage"]
