"""The outbox: kept before sending, removed only once sent, reasons recorded, never lost."""

from __future__ import annotations

import fcntl
import mailbox
import os
import stat
from pathlib import Path

import pytest

from pinesh.senders.base import Outgoing, SendError, Sent, SmtpEnvelope, Stage
from pinesh.senders.outbox import (
    META_HEADER,
    Outbox,
    OutboxError,
    decode_entry,
)

ENVELOPE = SmtpEnvelope(
    "jane@pinesh.test", ("friend@elsewhere.example", "hidden@elsewhere.example")
)
MESSAGE = (
    b"From: Jane <jane@pinesh.test>\r\nTo: friend@elsewhere.example\r\n"
    b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\nbody line\r\n.\r\nlast\r\n"
)


def outgoing(subject: str = "hello") -> Outgoing:
    return Outgoing(ENVELOPE, MESSAGE.replace(b"=?utf-8?q?Gr=C3=BC=C3=9Fe?=", subject.encode()))


class FakeSender:
    """A Sender that answers from a script of results, and sees the outbox while sending."""

    def __init__(self, outbox: Outbox, results: list[Exception | None]) -> None:
        self.outbox = outbox
        self.results = results
        self.sent: list[Outgoing] = []
        self.kept_while_sending: list[int] = []

    def describe(self) -> str:
        return "fake"

    def send(self, outgoing: Outgoing) -> Sent:
        self.kept_while_sending.append(len(self.outbox.keys()))
        result = self.results.pop(0)
        if result is not None:
            raise result
        self.sent.append(outgoing)
        return Sent(outgoing.envelope.recipients, "250 2.0.0 Ok: queued", "fake")


def refused(
    text: str = "554 5.7.1 Relay access denied", stage: Stage = Stage.RECIPIENTS
) -> SendError:
    return SendError(f"smtp.test refused: {text}", stage=stage, server_reply=text)


def test_round_trip_keeps_envelope_and_bytes(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    key = box.add(Outgoing(ENVELOPE, MESSAGE))
    meta, data = box.load(key)
    assert data == MESSAGE
    assert meta.envelope == ENVELOPE  # the Bcc recipient is kept, though not in the headers
    assert meta.attempts == 0 and meta.last_error is None
    [entry] = box.list()
    assert entry.key == key and entry.subject == "Grüße"
    assert entry.envelope.recipients == ENVELOPE.recipients
    assert entry.size == len(MESSAGE) and entry.problem is None
    raw = (tmp_path / "outbox" / "new" / key).read_bytes()
    assert raw.startswith(META_HEADER) and b"\r\n" not in raw  # a Maildir file: LF ends


def test_outbox_is_private_and_a_real_maildir(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    key = box.add(outgoing())
    assert stat.S_IMODE((tmp_path / "outbox").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "outbox" / "new" / key).stat().st_mode) == 0o600
    assert list((tmp_path / "outbox" / "tmp").iterdir()) == []  # nothing left half-written
    reader = mailbox.Maildir(tmp_path / "outbox", create=False)
    [message] = list(reader)
    assert message["Subject"] == "hello"
    assert message["X-Pinesh-Outbox"] is not None


def test_sent_message_is_written_before_and_removed_after(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    sender = FakeSender(box, [None])
    attempt = box.send_or_keep(sender, outgoing())
    assert attempt.ok and attempt.error is None
    assert sender.kept_while_sending == [1]  # on disk while the server was talking
    assert box.list() == []
    assert sender.sent[0].data == outgoing().data
    assert "250 2.0.0 Ok" in attempt.describe()


def test_failed_message_is_kept_with_the_reason(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    attempt = box.send_or_keep(FakeSender(box, [refused()]), outgoing())
    assert not attempt.ok and isinstance(attempt.error, SendError)
    assert "Relay access denied" in attempt.describe()
    [entry] = box.list()
    assert entry.attempts == 1 and entry.last_attempt is not None
    assert entry.last_error is not None and "Relay access denied" in entry.last_error
    _, data = box.load(entry.key)
    assert data == outgoing().data  # the message itself is untouched


def test_recorded_reasons_are_sanitized(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    box.send_or_keep(FakeSender(box, [refused("550 \x1b]0;owned\x07 no")]), outgoing())
    [entry] = box.list()
    assert entry.last_error is not None
    assert "\x1b" not in entry.last_error and "\\x1b" in entry.last_error


def test_flush_sends_all_and_reports_each(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    failing = FakeSender(box, [refused("451 4.3.0 later", Stage.DATA)] * 3)
    for subject in ("first", "second", "third"):
        box.send_or_keep(failing, outgoing(subject))
    assert [e.subject for e in box.list()] == ["first", "second", "third"]  # oldest first
    sender = FakeSender(box, [None, refused(), None])
    results = box.flush(sender)
    assert [r.ok for r in results] == [True, False, True]
    [left] = box.list()
    assert left.subject == "second" and left.attempts == 2
    assert [m.data for m in sender.sent] == [outgoing("first").data, outgoing("third").data]


def test_flush_stops_trying_when_the_server_is_unreachable(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    for subject in ("a", "b", "c"):
        box.add(outgoing(subject))
    down = SendError("cannot reach smtp.test", stage=Stage.CONNECT, temporary=True)
    sender = FakeSender(box, [down, None, None])
    results = box.flush(sender)
    assert len(sender.kept_while_sending) == 1  # one timeout, not three
    assert [r.ok for r in results] == [False, False, False]
    assert results[1].note is not None and "not tried" in results[1].note
    assert "cannot reach" in results[2].describe()
    assert len(box.list()) == 3


def test_unwritable_outbox_sends_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    box = Outbox(blocker / "outbox")
    sender = FakeSender(box, [None])
    with pytest.raises(OutboxError, match="outbox"):
        box.send_or_keep(sender, outgoing())
    assert sender.sent == [] and sender.kept_while_sending == []


def test_message_being_sent_elsewhere_is_left_alone(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    key = box.add(outgoing())
    sender = FakeSender(box, [None])
    fd = os.open(tmp_path / "outbox" / "new" / key, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as another pinesh sending it would hold it
        [result] = box.flush(sender)
    finally:
        os.close(fd)
    assert not result.ok and result.note is not None and "another pinesh" in result.note
    assert sender.sent == [] and len(box.list()) == 1


def test_damaged_file_is_reported_and_kept(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    box.add(outgoing())
    damaged = tmp_path / "outbox" / "new" / "1700000000.M1P1Q1Rdead.host"
    damaged.write_bytes(b"From: someone\n\nno meta line\n")
    entries = box.list()
    assert [e.problem is not None for e in entries] == [True, False]  # oldest first
    assert entries[0].problem is not None and "damaged" in entries[0].problem
    results = box.flush(FakeSender(box, [None]))
    assert [r.ok for r in results] == [False, True]
    assert isinstance(results[0].error, OutboxError)
    assert damaged.exists()


def test_a_bug_in_a_sender_keeps_the_message(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    with pytest.raises(ZeroDivisionError):
        box.send_or_keep(FakeSender(box, [ZeroDivisionError("bug")]), outgoing())
    [entry] = box.list()
    assert entry.last_error == "bug" and entry.attempts == 1


@pytest.mark.parametrize(
    "raw",
    [
        b"X-Pinesh-Outbox: not json\nx",
        b'X-Pinesh-Outbox: {"v": 2}\nx',
        b'X-Pinesh-Outbox: {"v": 1, "from": "a@b", "to": []}\nx',
        b'X-Pinesh-Outbox: {"v": 1, "from": "a@b", "to": [1]}\nx',
        b'X-Pinesh-Outbox: {"v": 1, "from": "a@b", "to": ["c@d"], "attempts": "x"}\nx',
        b"Subject: no meta\n\nx",
    ],
)
def test_damaged_meta_lines_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        decode_entry(raw)


def test_keys_cannot_escape_the_outbox(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    for key in ("../../etc/passwd", ".hidden"):
        with pytest.raises(OutboxError):
            box.load(key)
