"""The IMAP header cache against the lab's real Dovecot over ssh preauth: what a second
opening costs on the wire, what another client changed in between, reading offline, and
flag changes made offline reaching the server at the next opening.

Every session of a test shares the test's own $XDG_CACHE_HOME (tests/conftest.py), so
the second session finds what the first one kept. The relay of tests/lab/imap_wire.py
counts round trips and commands on the server's end.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pinesh.config.pine_settings import pine_settings
from pinesh.errors import PineshError
from pinesh.services.connections import load_connections
from pinesh.services.folder_view import FolderView
from pinesh.services.mail import MailSession
from pinesh.stores.base import Flag
from tests.integration.helpers import imap_command_rule, short_dir, stop_masters, write_config
from tests.lab.dovecot import LabDovecot
from tests.lab.imap_wire import WireLog, install_relay
from tests.lab.maildir_fill import fill_maildir
from tests.lab.sshd import LabSshd

pytestmark = pytest.mark.lab

MESSAGES = 120
FLAGGED = frozenset({Flag.FLAGGED})


@pytest.fixture
def filled(
    sshd: LabSshd, dovecot: LabDovecot, lab_maildir: Path
) -> Iterator[tuple[Path, Path, Path]]:
    """(work directory, relay log directory, the Maildir): INBOX with MESSAGES messages."""
    fill_maildir(lab_maildir, MESSAGES, seed=11, owner=dovecot.user)
    relay_dir = Path(tempfile.mkdtemp(prefix="pn-hc-", dir="/tmp"))
    try:
        with short_dir() as work:
            yield work, relay_dir, lab_maildir
    finally:
        shutil.rmtree(relay_dir, ignore_errors=True)


def _session(
    sshd: LabSshd, work: Path, command: list[str], name: str = "s", *, cache: bool = True
) -> MailSession:
    """A session whose IMAP runs command on the lab host (no fallback); its own config
    directory per name, the cache shared (the test's $XDG_CACHE_HOME) unless cache is
    False (another mail client, which changes the mailbox behind the cache's back)."""
    rule = imap_command_rule(command)
    if not cache:
        rule += "\n[cache]\nenabled = false\n"
    home = work / name
    home.mkdir(exist_ok=True)
    config = write_config(sshd, work, rule)
    pinerc = home / "pinerc"
    pinerc.write_text(f"user-domain=pinesh.test\ninbox-path={{lab/user={sshd.user.name}}}INBOX\n")
    connections = load_connections(str(config), str(pinerc))
    return MailSession(connections, pine_settings(connections.pinerc), data_dir=home / "data")


def _first_look(session: MailSession) -> tuple[list[int], int]:
    """Open INBOX as the client does: the window where the index starts (the first unseen)
    and the newest one, then read the message the cursor starts on; close. The UIDs in
    order, and the UID read."""
    view = FolderView.open(session, "INBOX")
    try:
        view.summary()
        start = view.opening_start()
        start = view.count - 1 if start is None else start
        view.window(max(0, start - 20), start + 20)
        view.window(view.count - 20, view.count)
        read = view.uid_at(start)
        view.read_protected(read)
        return list(view.order.uids), read
    finally:
        view.close()


def _warmed(sshd: LabSshd, work: Path, command: list[str]) -> tuple[list[int], int]:
    """A first session that reads INBOX as the client does (_first_look), then ends."""
    first = _session(sshd, work, command, "one")
    try:
        return _first_look(first)
    finally:
        first.close()
        stop_masters(first.connections)


def _maildir_flags(maildir: Path) -> dict[int, str]:
    """Each message's Maildir flags by the UID fill_maildir gave it (its order)."""
    files = sorted(
        (p for sub in ("cur", "new") for p in (maildir / sub).iterdir()),
        key=lambda p: int(p.name.split(".")[0]),
    )
    return {i: (p.name.split(":2,")[1] if ":2," in p.name else "") for i, p in enumerate(files, 1)}


def test_a_warm_cache_opens_in_one_round_trip_and_reads_nothing_twice(
    sshd: LabSshd, filled: tuple[Path, Path, Path]
) -> None:
    work, relay_dir, _ = filled
    command, logs = install_relay(relay_dir)
    wire = WireLog(logs)
    first = _session(sshd, work, command, "one")
    try:
        uids, read = _first_look(first)
    finally:
        first.close()
    assert len(uids) == MESSAGES
    cold = wire.tally()
    assert "UID FETCH" in cold.commands  # envelopes, structure and text came from the server

    second = _session(sshd, work, command, "two")
    try:
        view = FolderView.open(second, "INBOX")
        view.summary()
        view.window(view.count - 20, view.count)
        opening = wire.tally()
        assert opening.round_trips == 1, opening
        assert opening.commands[:2] == ["ENABLE", "SELECT"], opening  # QRESYNC (Dovecot)
        assert "UID FETCH" not in opening.commands  # the window came from the cache
        readable = view.read_protected(read).readable  # read (and seen) before: nothing to ask
        assert readable.text
        assert wire.tally().round_trips == 0
        view.close()
    finally:
        second.close()
        stop_masters(second.connections)


def test_what_another_client_changed_is_resynced_at_the_next_opening(
    sshd: LabSshd, dovecot: LabDovecot, filled: tuple[Path, Path, Path]
) -> None:
    work, relay_dir, maildir = filled
    command, _ = install_relay(relay_dir)
    _warmed(sshd, work, command)
    # Another client, meanwhile: flags the newest message, deletes and expunges message
    # 3, and new mail comes.
    another = _session(sshd, work, command, "other", cache=False)
    try:
        other = FolderView.open(another, "INBOX")
        other.set_flags([MESSAGES], FLAGGED, True)
        other.set_flags([3], frozenset({Flag.DELETED}), True)
        gone = set(other.expunge())  # 3, and those fill_maildir marked deleted (T)
        assert 3 in gone
        other.close()
    finally:
        another.close()
    fill_maildir(maildir, 2, seed=12, owner=dovecot.user)

    second = _session(sshd, work, command, "two")
    try:
        cached = FolderView.from_cache(second, "INBOX", "cached")
        assert cached is not None and cached.provisional
        view = FolderView.open(second, "INBOX")
        assert not view.provisional
        assert view.count == MESSAGES - len(gone) + 2  # two new
        assert all(view.index_of(uid) is None for uid in gone)
        newest = view.window(view.count - 3, view.count)
        by_uid = {e.uid: e for e in newest}
        assert Flag.FLAGGED in by_uid[MESSAGES].flags  # from the cache, flags resynced
        assert len(by_uid) == 3
        view.close()
        again = FolderView.from_cache(second, "INBOX", "cached")
        assert again is not None and again.count == MESSAGES - len(gone) + 2
        assert all(again.index_of(uid) is None for uid in gone)
    finally:
        second.close()
        stop_masters(second.connections)


def test_offline_the_cached_index_and_messages_read_and_flag_changes_are_kept(
    sshd: LabSshd, filled: tuple[Path, Path, Path]
) -> None:
    work, relay_dir, maildir = filled
    command, _ = install_relay(relay_dir)
    uids, read = _warmed(sshd, work, command)

    offline = _session(sshd, work, ["/bin/false"], "off")
    try:
        with pytest.raises(PineshError):
            FolderView.open(offline, "INBOX")
        view = FolderView.from_cache(offline, "INBOX", "offline")
        assert view is not None
        assert list(view.order.uids) == uids
        assert "offline" in view.summary()
        window = view.window(view.count - 20, view.count)
        assert len(window) == 20 and {e.uid for e in window} >= {MESSAGES}
        assert view.read_protected(read).readable.text  # read before: kept
        never_read = next(u for u in uids if u != read)
        with pytest.raises(PineshError, match="not read before"):
            view.read_protected(never_read)
        view.set_flags([MESSAGES - 1], FLAGGED, True)
        assert Flag.FLAGGED in (view.envelope(MESSAGES - 1) or window[0]).flags
        view.close()
    finally:
        offline.close()
    assert "F" not in _maildir_flags(maildir)[MESSAGES - 1]  # not on the server yet

    back = _session(sshd, work, command, "back")
    try:
        view = FolderView.open(back, "INBOX")  # the kept change is sent on opening
        view.close()
    finally:
        back.close()
        stop_masters(back.connections)
    assert "F" in _maildir_flags(maildir)[MESSAGES - 1]
    again = _session(sshd, work, command, "again")
    try:
        cached = FolderView.from_cache(again, "INBOX", "cached")
        assert cached is not None
        assert cached.send_kept_changes() == 0  # sent once, not again
    finally:
        again.close()
