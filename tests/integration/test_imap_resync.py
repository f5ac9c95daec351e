"""Resynchronising a cached mailbox in the opening exchange, against the lab's real Dovecot:
what changed since a Known (flags set, a message expunged, one appended) told in ONE
round trip by each method, counted on the server's end of the wire (tests/lab/imap_wire.py).

Dovecot offers QRESYNC; the CONDSTORE and flag-search methods are reached by telling
imapd to advertise less (``-o imap_capability=...``): the server is the same, the client
believes it can do only what the greeting says.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pinesh.config.server_spec import ServerSpec
from pinesh.stores.base import Flag, StoreError
from pinesh.stores.imap.commands import Known, Resync
from pinesh.stores.imap.connection import Connection, Connector
from pinesh.stores.imap.folder import ImapFolder
from pinesh.stores.imap.store import CHUNK_SIZE, ImapStore
from pinesh.transport.channel import Channel
from pinesh.transport.service import Service
from tests.integration.helpers import connections, imap_command_rule, short_dir, stop_masters
from tests.lab.dovecot import LabDovecot
from tests.lab.imap_wire import Tally, WireLog, install_relay
from tests.lab.maildir_fill import FilledMessage, fill_maildir
from tests.lab.sshd import LabSshd

pytestmark = pytest.mark.lab

BASE_CAPS = "IMAP4rev1 LITERAL+ ENABLE IDLE UIDPLUS MOVE SORT ESEARCH"
# What imapd is told to advertise for each method (None: Dovecot's own list).
ADVERTISED = {
    "qresync": None,
    "condstore": BASE_CAPS + " CONDSTORE",
    "flag-searches": BASE_CAPS,
}
OPENING = {
    "qresync": ["ENABLE", "SELECT", "UID SEARCH", "UID SEARCH"],
    "condstore": ["SELECT", "UID FETCH", "UID SEARCH", "UID SEARCH"],
    "flag-searches": ["SELECT"] + ["UID SEARCH"] * 5,
}
NEW_MESSAGE = (
    b"From: ann@pinesh.test\r\nTo: lab@pinesh.test\r\nSubject: after the cache\r\n"
    b"Message-ID: <resync-new@pinesh.test>\r\n\r\nnew since the cache was written\r\n"
)


@dataclass
class Wired:
    """The lab's imapd behind the logging relay, advertising what it was told to."""

    open_channel: Callable[[], Channel]
    wire: WireLog

    def connector(self) -> Connector:
        return Connector(self.open_channel, label="lab", user=None, password=None, timeout=30)

    def open(self, mailbox: str, known: Known | None) -> tuple[Connection, Tally]:
        """A connection of mailbox opened knowing known; what the opening cost on the wire."""
        connection = self.connector()(mailbox)
        connection.known = lambda: known
        self.wire.tally()  # what came before is not this opening's
        connection.ensure()
        return connection, self.wire.tally()


@contextlib.contextmanager
def wired(sshd: LabSshd, advertised: str | None) -> Iterator[Wired]:
    relay_dir = Path(tempfile.mkdtemp(prefix="pn-wire-", dir="/tmp"))
    command, logs = install_relay(relay_dir)
    if advertised is not None:
        command += ["-o", f"imap_capability={advertised}"]
    rule = imap_command_rule(command)
    try:
        with short_dir() as work:
            conns = connections(sshd, work, rule)
            try:
                yield Wired(
                    lambda: conns.open(ServerSpec("lab"), Service.IMAP).channel, WireLog(logs)
                )
            finally:
                stop_masters(conns)
    finally:
        shutil.rmtree(relay_dir, ignore_errors=True)


def _plain(messages: list[FilledMessage]) -> list[int]:
    """UIDs of messages neither flagged nor trashed nor answered by the fill."""
    return [m.uid_hint for m in messages if not set(m.flags) & set("FTR")]


@pytest.mark.parametrize("method", list(ADVERTISED))
def test_a_warm_open_learns_the_changes_in_one_round_trip(
    sshd: LabSshd, dovecot: LabDovecot, lab_maildir: Path, method: str
) -> None:
    messages = fill_maildir(lab_maildir, 12, seed=11, owner=dovecot.user)
    flagged, expunged = _plain(messages)[:2]
    with wired(sshd, ADVERTISED[method]) as lab:
        cold, tally = lab.open("INBOX", None)
        assert tally.round_trips == 1
        assert cold.uidvalidity is not None
        known = Known(cold.uidvalidity, cold.highestmodseq if method != "flag-searches" else None)
        assert (known.highestmodseq is not None) == (method != "flag-searches")
        cold.close()

        other = ImapStore(lab.open_channel, name="lab").open("INBOX")
        other.set_flags([flagged], frozenset({Flag.FLAGGED}), True)
        other.set_flags([expunged], frozenset({Flag.DELETED}), True)
        gone = other.expunge()
        assert expunged in gone
        new = other.append(NEW_MESSAGE, frozenset({Flag.SEEN}))
        assert new is not None
        other.close()

        warm, tally = lab.open("INBOX", known)
        try:
            print(f"{method}: {tally.round_trips} round trip(s), {tally.commands}")
            assert tally.round_trips == 1
            assert tally.commands == OPENING[method]
            resync = warm.resync
            opening = warm.opening
            assert resync is not None and opening is not None and opening.uids is not None
            assert resync.method == method
            assert expunged not in opening.uids and new in opening.uids
            _check(method, resync, known, flagged=flagged, gone=set(gone), new=new)
            assert opening.unseen is not None and new not in opening.unseen
        finally:
            warm.close()


def _check(
    method: str, resync: Resync, known: Known, *, flagged: int, gone: set[int], new: int
) -> None:
    if method == "flag-searches":
        assert flagged in resync.flag_sets[Flag.FLAGGED]
        assert not gone & resync.flag_sets[Flag.DELETED]
        assert set(resync.flag_sets) == {Flag.FLAGGED, Flag.DELETED, Flag.ANSWERED}
        assert resync.changed == {} and resync.vanished == frozenset()
        assert resync.highestmodseq is None
        return
    assert resync.flag_sets == {}
    assert Flag.FLAGGED in resync.changed[flagged]
    assert resync.changed[new] == frozenset({Flag.SEEN})
    assert known.highestmodseq is not None and resync.highestmodseq is not None
    assert resync.highestmodseq > known.highestmodseq
    if method == "qresync":
        assert gone <= resync.vanished
    else:
        assert resync.vanished == frozenset()  # CONDSTORE cannot tell: the UIDs say


def test_a_new_uidvalidity_gives_no_resync_and_the_new_value(
    sshd: LabSshd, dovecot: LabDovecot, lab_maildir: Path
) -> None:
    fill_maildir(lab_maildir, 5, seed=12, folder="Work", owner=dovecot.user)
    with wired(sshd, None) as lab:
        cold, _ = lab.open("Work", None)
        assert cold.uidvalidity is not None and cold.highestmodseq is not None
        known = Known(cold.uidvalidity, cold.highestmodseq)
        cold.close()
        admin = ImapStore(lab.open_channel, name="lab")
        admin.rename("Work", "Old")
        admin.create("Work")
        admin.close()
        warm, tally = lab.open("Work", known)
        try:
            assert tally.round_trips == 1
            assert warm.resync is None
            assert warm.uidvalidity is not None and warm.uidvalidity != known.uidvalidity
            assert warm.opening is not None and warm.opening.uids == []
        finally:
            warm.close()


class KnowingConnector(Connector):
    """A Connector whose connections send a Known (so QRESYNC is enabled on them)."""

    known: Callable[[], Known | None] = staticmethod(lambda: None)

    def __call__(self, mailbox: str | None, *, read_only: bool = False) -> Connection:
        connection = super().__call__(mailbox, read_only=read_only)
        connection.known = self.known
        return connection


def test_expunge_move_and_news_with_qresync_enabled(
    sshd: LabSshd, dovecot: LabDovecot, lab_maildir: Path
) -> None:
    messages = fill_maildir(lab_maildir, 20, seed=13, owner=dovecot.user)
    trashed = {m.uid_hint for m in messages if "T" in m.flags}
    moved, deleted, by_other = _plain(messages)[:3]
    with wired(sshd, None) as lab:
        cold, _ = lab.open("INBOX", None)
        assert cold.uidvalidity is not None and cold.highestmodseq is not None
        known = Known(cold.uidvalidity, cold.highestmodseq)
        cold.close()
        admin = ImapStore(lab.open_channel, name="lab")
        admin.create("Saved")
        connector = KnowingConnector(
            lab.open_channel, label="lab", user=None, password=None, timeout=30
        )
        connector.known = lambda: known
        inbox = ImapFolder("INBOX", connector, read_only=False, chunk_size=CHUNK_SIZE)
        saved = ImapFolder("Saved", connector, read_only=False, chunk_size=CHUNK_SIZE)
        connection = inbox._connection
        told: list[frozenset[int]] = []
        forget = connection.on_vanished

        def on_vanished(uids: frozenset[int]) -> None:
            told.append(uids)
            forget(uids)

        connection.on_vanished = on_vanished
        try:
            assert connection.ensure().qresync_enabled
            resync = inbox.resync()
            assert resync is not None and resync.method == "qresync"
            assert resync.changed == {} and resync.vanished == frozenset()

            inbox.move_to([moved], saved)
            assert told == [frozenset({moved})]
            assert saved.status().count == 1
            assert connection.exists == 19

            inbox.set_flags([deleted], frozenset({Flag.DELETED}), True)
            gone = inbox.expunge()
            assert set(gone) == trashed | {deleted}
            assert told[1] == frozenset(gone)
            assert connection.exists == 19 - len(gone) == inbox.status().count

            other = ImapStore(lab.open_channel, name="lab").open("INBOX")
            other.set_flags([by_other], frozenset({Flag.DELETED}), True)
            assert other.expunge() == [by_other]
            other.close()
            inbox.check()  # Dovecot tells of the other's expunge at the NOOP: VANISHED
            assert told[2] == frozenset({by_other})
            assert connection.exists == 18 - len(gone) == len(inbox.uids())
        finally:
            for folder in (inbox, saved):
                with contextlib.suppress(StoreError):
                    folder.close()
            admin.close()
