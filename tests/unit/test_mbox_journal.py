"""The redo journal of an mbox rewrite in a shared spool, where another user can put a
file at the journal's name (the crash-recovery tests are with the folder, in
test_mbox_store.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pinesh.stores.base import Flag
from pinesh.stores.local.mbox_folder import MboxFolder
from pinesh.stores.local.mbox_journal import find_journals, journal_paths
from tests.unit.shared_spool import ME_UID, OTHER_UID, as_user, needs_root, planted, shared_spool

pytestmark = needs_root

ONE = b"From a@b Mon Jan  1 00:00:00 2024\nSubject: one\n\nfirst\n\n"
TWO = b"From c@d Tue Jan  2 00:00:00 2024\nSubject: two\n\nsecond\n\n"
PLANTED = b"PINESH-MBOX-JOURNAL 1\nnot yours\n"


@pytest.fixture
def spool(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with shared_spool() as directory:
        # Our own journals fall back to the state directory: keep it in the spool too.
        monkeypatch.setenv("XDG_STATE_HOME", str(directory / f"state-{ME_UID}"))
        yield directory


def _plant_journal(box: Path, fifo: bool) -> Path:
    journal = journal_paths(box)[0]
    if fifo:
        os.mkfifo(journal)
    else:
        journal.write_bytes(PLANTED)
    return planted(journal)


@pytest.mark.parametrize("fifo", [False, True])
def test_another_users_journal_is_left_and_the_mailbox_still_opens(spool: Path, fifo: bool) -> None:
    box = spool / "box"
    box.write_bytes(ONE + TWO)
    journal = _plant_journal(box, fifo)
    assert find_journals(box) == ([], [journal])
    with MboxFolder(box, read_only=True) as folder:  # no "repair" needed
        assert folder.status().count == 2
        assert folder.journal_warning is not None
        assert str(journal) in folder.journal_warning
        assert f"not a journal of yours: {journal}" in folder.journal_warning
    with MboxFolder(box) as folder:
        folder.set_flags([1], frozenset({Flag.DELETED}), True)
        assert folder.expunge() == [1]
    assert box.read_bytes() == TWO
    assert os.path.lexists(journal)
    if not fifo:
        assert journal.read_bytes() == PLANTED  # never replaced by ours either
    assert os.lstat(journal).st_uid == OTHER_UID


def test_a_plain_user_expunges_past_another_users_journal(spool: Path) -> None:
    box = spool / "box"
    box.write_bytes(ONE + TWO)
    os.chown(box, ME_UID, ME_UID)
    journal = _plant_journal(box, fifo=False)

    def expunge_first() -> list[int]:
        with MboxFolder(box) as folder:
            folder.set_flags([1], frozenset({Flag.DELETED}), True)
            return folder.expunge()

    # The sticky bit keeps the mailbox's owner from removing or replacing that file.
    assert as_user(ME_UID, expunge_first) == "returned [1]"
    assert box.read_bytes() == TWO
    assert journal.read_bytes() == PLANTED
