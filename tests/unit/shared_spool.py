"""A shared spool for tests (a directory of mode 1777, as /tmp or some /var/mail), and a
way to act in it as another local user.

Files another user planted are made by root and given to OTHER_UID with os.chown; the
user whose mail it is acts in a child process as ME_UID, so that the sticky bit applies to
it as it would to a real user (root may remove anyone's file).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

OTHER_UID = 1001  # the lab's user pineshlab, where it exists; any uid does for chown
ME_UID = 65534  # nobody: the owner of the mailbox, when a test acts as a plain user

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another uid needs root")


@contextmanager
def shared_spool() -> Iterator[Path]:
    """A fresh directory of mode 1777 that every user can reach (pytest's tmp_path is
    private to root), removed afterwards."""
    spool = Path(tempfile.mkdtemp(prefix="pinesh-spool-", dir="/tmp"))
    try:
        spool.chmod(0o1777)
        yield spool
    finally:
        shutil.rmtree(spool, ignore_errors=True)


def planted(path: Path) -> Path:
    """path, given to OTHER_UID: a file another user put there."""
    os.chown(path, OTHER_UID, OTHER_UID, follow_symlinks=False)
    return path


def as_user(uid: int, action: Callable[[], object]) -> str:
    """Run action in a child process as uid; what it returned or raised, as text:
    "returned ..." or "ExceptionType: message"."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never back into pytest
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            try:
                outcome = f"returned {action()!r}"
            except BaseException as exc:
                outcome = f"{type(exc).__name__}: {exc}"
            os.write(write_end, outcome.encode("utf-8", "replace"))
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        text = pipe.read().decode()
    os.waitpid(pid, 0)
    return text
