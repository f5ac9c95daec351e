"""The IMAP driver's errors, and what an exception from imaplib/IMAPClient means for us.

Ours: ImapError (a StoreError saying which Failure it was; ImapUnsupported when the
server lacks a capability), ImapSyntaxError (a reply, or a value to send, that does not
fit IMAP's grammar: raised by the pure parsers in ``protocol``), ReplyTooLarge (a line or
literal past our bounds, refused by the reader before it is allocated).

IMAPClient and imaplib raise many kinds of exceptions, and a hostile reply can make their
parsers raise plain ValueError, IndexError or TypeError. The connection turns every one
of them into an ImapError; classify() decides which kind it is:

- LOST: the connection is gone (EOF, reset, timeout, BYE): reconnect and retry once;
- BROKEN: the server's reply breaks the protocol: drop the connection, do not retry;
- REFUSED: the server answered NO or BAD: the connection is fine, the command failed;
- UNSUPPORTED: the server lacks a capability the command needs.
"""

from __future__ import annotations

import ast
import enum
import imaplib
import re

from imapclient import exceptions as imapclient_errors  # type: ignore[import-untyped]

from pinesh.stores.base import StoreError, Unsupported
from pinesh.textsafe import safe_line


class Failure(enum.Enum):
    """What kind of failure an IMAP exception is (see above)."""

    LOST = "lost"
    BROKEN = "broken"
    REFUSED = "refused"
    UNSUPPORTED = "unsupported"


class ImapError(StoreError):
    """A StoreError from an IMAP command, saying what kind of failure it was."""

    def __init__(self, message: str, failure: Failure, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.failure = failure


class ImapUnsupported(ImapError, Unsupported):  # noqa: N818 - as base.Unsupported
    """The server lacks a capability the command needs."""

    def __init__(self, message: str) -> None:
        ImapError.__init__(self, message, Failure.UNSUPPORTED)


class ImapSyntaxError(ValueError):
    """A reply (or a value to send) that does not fit IMAP's grammar or shape."""


class ReplyTooLarge(Exception):  # noqa: N818 - it is the server's reply, not our error
    """The server sent something we refuse to read (an absurd size, an endless line)."""


# Exceptions IMAPClient's parsers raise on replies they cannot make sense of.
_PARSE_ERRORS = (
    ValueError,  # includes UnicodeDecodeError
    IndexError,
    KeyError,
    TypeError,
    AttributeError,
    RecursionError,  # deeply nested parentheses
    AssertionError,
)

# imaplib raises `abort` for a lost connection but also for some garbage; these are garbage.
_GARBAGE_ABORTS = ("unexpected response", "unexpected tagged response", "unterminated line")

# How IMAPClient and imaplib word a tagged NO or BAD.
_REFUSAL_MARKS = (" failed: ", "command error: BAD", "command error: NO")

_BYTES_REPR = re.compile(r"""\[?(b'(?:[^'\\]|\\.)*'|b"(?:[^"\\]|\\.)*")\]?""")

MAX_SHOWN = 300  # characters of a server's words shown in an error


def classify(exc: BaseException) -> Failure | None:
    """The kind of failure exc is, or None when it is not an IMAP failure at all."""
    if isinstance(exc, imapclient_errors.CapabilityError):
        return Failure.UNSUPPORTED
    if isinstance(exc, ReplyTooLarge | imapclient_errors.ProtocolError):
        return Failure.BROKEN
    if isinstance(exc, imaplib.IMAP4.readonly):
        return Failure.REFUSED
    if isinstance(exc, imaplib.IMAP4.abort):
        text = str(exc)
        return Failure.BROKEN if any(m in text for m in _GARBAGE_ABORTS) else Failure.LOST
    if isinstance(exc, imapclient_errors.LoginError):
        return Failure.REFUSED
    if isinstance(exc, imaplib.IMAP4.error):
        text = str(exc)
        return Failure.REFUSED if any(m in text for m in _REFUSAL_MARKS) else Failure.BROKEN
    if isinstance(exc, OSError):  # EOF, reset, broken pipe, timeout (TimeoutError)
        return Failure.LOST
    if isinstance(exc, _PARSE_ERRORS):
        return Failure.BROKEN
    return None


def _unrepr(match: re.Match[str]) -> str:
    try:
        value = ast.literal_eval(match[1])
    except (ValueError, SyntaxError):
        return match[0]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else match[0]


def server_words(exc: BaseException) -> str:
    """What the exception says (often the server's own text), safe to show and bounded.

    imaplib quotes the server's words as a list of bytes reprs ("BAD [b'...']"); they
    are shown as the text they hold, with control characters escaped (safe_line).
    """
    text = str(exc)
    if isinstance(exc, TimeoutError) and not text:
        text = "timed out"
    text = _BYTES_REPR.sub(_unrepr, text.removeprefix("command: "))
    shown = safe_line(text)
    return shown if len(shown) <= MAX_SHOWN else shown[:MAX_SHOWN] + "..."
