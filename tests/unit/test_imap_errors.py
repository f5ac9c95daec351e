"""Which failures mean a lost connection (retry), a broken reply (drop), or a refusal."""

from __future__ import annotations

import imaplib

import pytest
from imapclient import exceptions as imapclient_errors  # type: ignore[import-untyped]

from pinesh.stores.imap.errors import MAX_SHOWN, Failure, ReplyTooLarge, classify, server_words


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (imaplib.IMAP4.abort("command: FETCH => socket error: EOF"), Failure.LOST),
        (imaplib.IMAP4.abort("shutting down"), Failure.LOST),  # a BYE
        (ConnectionResetError(104, "reset"), Failure.LOST),
        (BrokenPipeError(32, "pipe"), Failure.LOST),
        (TimeoutError("timed out"), Failure.LOST),
        (imaplib.IMAP4.abort("unexpected response: b'hello'"), Failure.BROKEN),
        (imaplib.IMAP4.abort("socket error: unterminated line: b'x'"), Failure.BROKEN),
        (ReplyTooLarge("a literal of 9 bytes"), Failure.BROKEN),
        (imapclient_errors.ProtocolError("Tuple incomplete"), Failure.BROKEN),
        (ValueError("unexpected message list format"), Failure.BROKEN),
        (IndexError("tuple index out of range"), Failure.BROKEN),
        (RecursionError(), Failure.BROKEN),
        (imaplib.IMAP4.error("command SEARCH illegal in state AUTH"), Failure.BROKEN),
        (imaplib.IMAP4.error("select failed: Mailbox doesn't exist"), Failure.REFUSED),
        (imaplib.IMAP4.error("SEARCH command error: BAD [b'bad']"), Failure.REFUSED),
        (imaplib.IMAP4.readonly("mailbox status changed to READ-ONLY"), Failure.REFUSED),
        (imapclient_errors.LoginError("nope"), Failure.REFUSED),
        (imapclient_errors.CapabilityError("no MOVE"), Failure.UNSUPPORTED),
        (KeyboardInterrupt(), None),
        (RuntimeError("a bug of ours"), None),
    ],
)
def test_classify(exc: BaseException, kind: Failure | None) -> None:
    assert classify(exc) is kind


def test_server_words_are_safe_and_bounded() -> None:
    words = server_words(imaplib.IMAP4.error("x failed: b'\\x1b[31mred\\x07'"))
    assert words == "x failed: \\x1b[31mred\\x07"
    assert "\x1b" not in words
    assert len(server_words(imaplib.IMAP4.error("y" * 5000))) == MAX_SHOWN + 3
    assert server_words(TimeoutError()) == "timed out"
    assert server_words(imaplib.IMAP4.abort("command: SEARCH => socket error: EOF")) == (
        "SEARCH => socket error: EOF"
    )
