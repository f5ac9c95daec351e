"""The mailbox's dot-lock in a shared spool, where another user can put any file at
PATH.lock (the other lock tests are with the folder, in test_mbox_store.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pinesh.stores.base import Flag, StoreError
from pinesh.stores.local.locking import DotLock, lock_path
from pinesh.stores.local.mbox_folder import MboxFolder
from tests.unit.shared_spool import ME_UID, OTHER_UID, as_user, needs_root, planted, shared_spool

pytestmark = needs_root

MESSAGE = b"From a@b Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody\n\n"
DEAD_PID = 2**31 - 1  # a pid a lock file may name, above any pid_max: never alive


@pytest.fixture
def spool() -> Iterator[Path]:
    with shared_spool() as directory:
        yield directory


def _make_fifo(path: Path) -> None:
    os.mkfifo(path)


def _make_link(path: Path) -> None:
    target = path.with_name("elsewhere")
    target.write_text(f"{os.getpid()}\n")  # names a live process: would be waited for
    path.symlink_to(target)


def _make_directory(path: Path) -> None:
    path.mkdir()


PLANTS: dict[str, tuple[Callable[[Path], None], str]] = {
    "fifo": (_make_fifo, "a FIFO"),
    "link": (_make_link, "a symbolic link"),
    "directory": (_make_directory, "a directory"),
}


@pytest.mark.timeout(60)  # before the fix, opening the FIFO waited for a writer forever
@pytest.mark.parametrize("plant", PLANTS)
def test_a_lock_that_is_not_a_file_is_reported_at_once_and_left(spool: Path, plant: str) -> None:
    box = spool / "box"
    make, kind = PLANTS[plant]
    make(lock_path(box))
    planted(lock_path(box))
    with pytest.raises(StoreError) as error:
        DotLock(box).acquire(timeout=0.3)
    text = str(error.value)
    assert f"{lock_path(box)} is not a lock file but {kind}" in text
    assert f"uid {OTHER_UID}" in text and "remove it" in text
    assert os.path.lexists(lock_path(box))


@pytest.mark.timeout(60)  # before the fix, each of these hung on the FIFO
@pytest.mark.parametrize("operation", ["append", "expunge", "flush"])
def test_a_fifo_at_the_lock_fails_writes_clearly_and_reads_still_work(
    spool: Path, operation: str
) -> None:
    box = spool / "box"
    box.write_bytes(MESSAGE)
    os.mkfifo(lock_path(box))
    planted(lock_path(box))
    folder = MboxFolder(box)
    assert folder.status().count == 1  # reading takes no dot-lock
    fifo = r"box\.lock is not a lock file but a FIFO"
    with pytest.raises(StoreError, match=fifo):
        if operation == "append":
            folder.append(b"Subject: two\n\nx\n")
        elif operation == "expunge":
            folder.set_flags([1], frozenset({Flag.DELETED}), True)
            folder.expunge()
        else:
            folder.set_flags([1], frozenset({Flag.SEEN}), True)
            folder.flush()
    if operation != "append":
        with pytest.raises(StoreError, match=fifo):
            folder.close()  # the flag changes cannot be written at close either
    folder.close()
    assert box.read_bytes() == MESSAGE
    assert lock_path(box).exists()


def test_a_stale_lock_of_another_user_is_reported_not_raised_raw(spool: Path) -> None:
    box = spool / "box"
    lock_path(box).write_text(f"{DEAD_PID}\n")  # its holder is gone: stale
    planted(lock_path(box))

    def take() -> bool:
        return DotLock(box).acquire(timeout=0.3)

    outcome = as_user(ME_UID, take)  # the sticky bit keeps a plain user from removing it
    assert outcome.startswith("StoreError: "), outcome
    assert f"the stale lock file {lock_path(box)} of " in outcome
    assert f"uid {OTHER_UID}" in outcome and "cannot be removed" in outcome
    assert "ask its owner or the system administrator to remove it" in outcome
    assert lock_path(box).read_text() == f"{DEAD_PID}\n"
