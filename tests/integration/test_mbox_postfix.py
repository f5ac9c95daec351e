"""No mail is lost when the real Postfix delivers into an mbox while pinesh expunges it.

The lab Postfix's virtual(8) delivers into mbox files with its own locking, in two
configurations: Debian's default (dot-lock, then open, then fcntl) and fcntl only (open,
then fcntl: Postfix holds the file open while it waits for our lock, the case that loses
mail when a rewrite renames a new file over the mailbox). A thread sends mail over SMTP,
round after round, while pinesh flags messages DELETED and expunges, over and over. At the
end every message Postfix accepted is in the mbox exactly once, or pinesh deleted it, and
never both; and the file parses as an mbox that Postfix still delivers to.
"""

from __future__ import annotations

import collections
import os
import re
import smtplib
import threading
import time
import uuid
from pathlib import Path

import pytest

from pinesh.stores.base import Flag
from pinesh.stores.local import mbox_journal as mbox_module
from pinesh.stores.local.mbox_folder import MboxFolder
from pinesh.stores.local.mbox_format import scan_bytes
from pinesh.stores.local.mbox_journal import Journal
from tests.integration.helpers import fault_rounds
from tests.lab.common import LabError
from tests.lab.postfix import MBOX_ADDRESS, MBOX_FCNTL_ADDRESS, LabPostfix

pytestmark = pytest.mark.lab

ROUNDS = fault_rounds(20)  # PINESH_FAULT_ROUNDS=100 for the recorded run (docs/security.md)
PER_ROUND = 10
SLOW_REWRITE = 0.3  # seconds a rewrite holds the locks in the odd rounds


TARGETS = {
    "dotlock": (MBOX_ADDRESS, "mbox"),
    "fcntl-only": (MBOX_FCNTL_ADDRESS, "mbox_fcntl"),
}


def _mbox(postfix: LabPostfix, target: str) -> Path:
    path = getattr(postfix, TARGETS[target][1])
    assert isinstance(path, Path)
    return path


def _message(marker: str, number: int, recipient: str = MBOX_ADDRESS) -> str:
    # A body line "From ..." that Postfix must quote and pinesh must keep through rewrites.
    return (
        f"From: pineshlab@pinesh.test\r\nTo: {recipient}\r\nSubject: race {number}\r\n"
        f"Message-ID: <{marker}@pinesh.test>\r\n\r\nbody {marker}\r\n"
        f"From the race, at 10:00 in 2025\r\n"
    )


class Sender(threading.Thread):
    """Sends PER_ROUND messages each time it is told to, recording what Postfix accepted."""

    def __init__(self, postfix: LabPostfix, recipient: str) -> None:
        super().__init__(daemon=True)
        self.postfix = postfix
        self.recipient = recipient
        self.run_id = f"race-{uuid.uuid4().hex[:8]}"  # this test's messages, not older ones
        self.accepted: list[str] = []
        self.go = threading.Semaphore(0)
        self.round_done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with smtplib.SMTP(self.postfix.host, self.postfix.port, timeout=30) as smtp:
                for _ in range(ROUNDS):
                    self.go.acquire()
                    for _ in range(PER_ROUND):
                        marker = f"{self.run_id}-{uuid.uuid4().hex}"
                        smtp.sendmail(
                            "pineshlab@pinesh.test",
                            [self.recipient],
                            _message(marker, len(self.accepted), self.recipient),
                        )
                        self.accepted.append(marker)
                        time.sleep(0.01)
                    self.round_done.set()
        except BaseException as exc:  # reported by the test, with Postfix's log
            self.error = exc
            self.round_done.set()


def _markers(data: bytes) -> list[str]:
    """The race markers of the messages in an mbox, in file order (one per message)."""
    out = []
    for entry in scan_bytes(data):
        message = data[entry.head : entry.content_end]
        start = message.find(b"Message-ID: <race-")
        if start >= 0:
            out.append(message[start + 13 : message.index(b"@", start)].decode())
    return out


def _wait_for_file(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_size):
        if time.monotonic() > deadline:
            raise LabError(f"postfix made no mbox at {path} in {timeout:.0f} s")
        time.sleep(0.05)


@pytest.mark.parametrize("target", TARGETS)
def test_postfix_delivers_into_an_mbox_with_its_own_locks(postfix: LabPostfix, target: str) -> None:
    recipient, mbox = TARGETS[target][0], _mbox(postfix, target)
    marker = f"race-{uuid.uuid4().hex}"
    with smtplib.SMTP(postfix.host, postfix.port, timeout=30) as smtp:
        smtp.sendmail("pineshlab@pinesh.test", [recipient], _message(marker, 0, recipient))
    postfix.wait_for_empty_queue()
    data = mbox.read_bytes()
    assert marker in _markers(data)
    # Postfix quoted the body's From line (mboxo); pinesh reads it back unquoted.
    assert b"\n>From the race, at 10:00 in 2025\n" in data
    assert mbox.stat().st_uid != 0  # the lab user's, as strict ownership wants
    with MboxFolder(mbox, read_only=True) as folder:
        (envelope,) = [
            e for e in folder.envelopes(folder.uids()) if e.message_id == f"<{marker}@pinesh.test>"
        ]
        assert b"\nFrom the race, at 10:00 in 2025\n" in folder.fetch_message(envelope.uid)


def _delivery_delays(log: str, run_id: str) -> list[float]:
    """How long each delivery of this run took in virtual(8), from Postfix's log."""
    ids = set(re.findall(rf"(\w+): message-id=<{run_id}-", log))
    delays = []
    for line in log.splitlines():
        queue_id = line.split(": ", 2)[1] if line.count(": ") >= 2 else ""
        match = re.search(r"delays=[\d.]+/[\d.]+/[\d.]+/([\d.]+),.* status=sent", line)
        if match and queue_id in ids:
            delays.append(float(match[1]))
    return delays


def _expunge_even(folder: MboxFolder, run_id: str) -> list[str]:
    """Flag this run's even-numbered messages DELETED and expunge; their markers."""
    doomed = {
        e.uid: str(e.message_id)[1:].split("@")[0]
        for e in folder.envelopes(folder.uids())
        if (e.message_id or "")[1:].startswith(run_id) and int(e.subject.split()[-1]) % 2 == 0
    }
    folder.set_flags(list(doomed), frozenset({Flag.DELETED}), True)
    removed = folder.expunge()
    assert sorted(removed) == sorted(doomed)
    return [doomed[uid] for uid in removed]


@pytest.mark.parametrize("target", TARGETS)
def test_no_mail_is_lost_when_postfix_delivers_during_expunges(
    postfix: LabPostfix,
    target: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    recipient, mbox = TARGETS[target][0], _mbox(postfix, target)
    # In odd rounds a rewrite keeps the locks a while, so that Postfix surely finds the
    # mailbox locked mid-rewrite, and waits, while it delivers.
    slow = threading.Event()
    apply_journal = mbox_module.apply_journal

    def slow_apply(fd: int, journal: Journal, tick: object = None) -> None:
        if slow.is_set():
            time.sleep(SLOW_REWRITE)
        apply_journal(fd, journal)

    monkeypatch.setattr(mbox_module, "apply_journal", slow_apply)
    postfix.wait_for_empty_queue()
    owner = mbox.stat().st_uid if mbox.exists() else None
    sender = Sender(postfix, recipient)
    sender.start()
    sender.go.release()
    _wait_for_file(mbox)
    deleted: list[str] = []
    expunges = arrivals_after_expunge = 0
    with MboxFolder(mbox) as folder:
        for round_number in range(ROUNDS):
            if round_number:
                sender.round_done.clear()
                sender.go.release()
            if round_number % 2:
                slow.set()
            else:
                slow.clear()
            expunged = False
            while True:
                finished = sender.round_done.is_set()
                if folder.check() and expunged:
                    arrivals_after_expunge += 1  # delivered between two of our rewrites
                removed = _expunge_even(folder, sender.run_id)
                deleted += removed
                expunges += 1
                expunged = expunged or bool(removed)
                if finished:
                    break
                time.sleep(0.005)
        sender.join(timeout=60)
        assert sender.error is None, f"{sender.error}\n--- postfix log ---\n{postfix.log_text()}"
        slow.clear()
        postfix.wait_for_empty_queue()
        folder.check()
        deleted += _expunge_even(folder, sender.run_id)

    data = mbox.read_bytes()
    in_mbox = [m for m in _markers(data) if m.startswith(sender.run_id)]
    counts = collections.Counter(in_mbox)
    accepted = set(sender.accepted)
    log = postfix.log_text()
    assert len(accepted) == ROUNDS * PER_ROUND
    assert not [m for m, n in counts.items() if n > 1], "duplicated messages"
    assert not set(in_mbox) & set(deleted), "deleted messages came back"
    lost = accepted - set(in_mbox) - set(deleted)
    delays = _delivery_delays(log, sender.run_id)
    with capsys.disabled():
        print(
            f"\nFIGURES mbox-{target}: rounds={ROUNDS} accepted={len(accepted)} "
            f"expunges={expunges} arrivals_between_rewrites={arrivals_after_expunge} "
            f"deliveries_that_waited={sum(1 for d in delays if d >= 0.5)} "
            f"deleted={len(deleted)} in_mbox={len(in_mbox)} lost={len(lost)} "
            f"duplicated={sum(1 for n in counts.values() if n > 1)}"
        )
    assert not lost, f"lost {len(lost)} messages, e.g. {sorted(lost)[:3]}\n{log[-4000:]}"
    assert len(deleted) == len(set(deleted)) == len(in_mbox) == len(accepted) // 2
    # The race really happened: mail arrived between our rewrites, again and again, and
    # Postfix found our locks taken mid-rewrite and waited (deliver_lock_delay is 1 s)
    # before appending: the deliveries an unsafe rewrite would lose.
    assert expunges > 2 * ROUNDS
    assert arrivals_after_expunge >= ROUNDS // 2
    # Postfix never met a mailbox replaced under it (it checks the link count after
    # locking, and defers): a rename-over rewrite makes it log this for every collision.
    assert f"{mbox}: file status changed unexpectedly" not in log
    assert len(delays) == len(accepted)
    assert sum(1 for d in delays if d >= 0.5) >= ROUNDS // 4, sorted(delays)[-10:]
    # Still Postfix's file, and intact: same owner (strict_mailbox_ownership; a copy
    # renamed over it would be root's), every message's From line quoted, no lock left.
    if owner is not None:
        assert mbox.stat().st_uid == owner
    assert data.count(b"\n>From the race, at 10:00 in 2025\n") == len(scan_bytes(data))
    assert not [p for p in os.listdir(mbox.parent) if p.endswith(".lock")]
