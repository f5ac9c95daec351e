"""Locking an mbox file the way MTAs and other mail programs expect.

Three locks, as the programs that share a spool take them (Debian defaults):

- the **dot-lock** ``PATH.lock``: Postfix local(8)/virtual(8) (``mailbox_delivery_lock`` and
  ``virtual_mailbox_lock`` = ``fcntl, dotlock``), c-client (Pine, Alpine, UW imapd),
  procmail, mutt, Dovecot. Made NFS-safe as liblockfile and c-client make it: a unique
  file holding our pid is hard-linked to ``PATH.lock``. A lock is stale when its pid
  (if it holds one) is gone from this host, or after STALE_SECONDS (c-client and
  liblockfile wait 5 minutes, Postfix ``stale_lock_time`` 500 s).
- an **fcntl** (POSIX record) lock on the whole file: Postfix, mutt, Dovecot, procmail.
  Taken as an open-file-description lock (F_OFD_SETLK) where Linux has it: it conflicts
  with the others' classic fcntl locks, but is not dropped when this process closes
  *another* descriptor of the same file (classic POSIX locks are: opening a folder twice
  would silently unlock it).
- a **flock**: c-client on Linux, Dovecot optionally.

Writers take all three, the dot-lock first (as Postfix, c-client and Dovecot do, so that
we never wait for them in the opposite order); readers take shared kernel locks only, which
keep an MTA (Postfix always takes fcntl) from writing while we read. Where the directory
is not writable (``/var/mail`` is root:mail 2775), no dot-lock can be made; like c-client
("Mailbox vulnerable") and Postfix (``MBOX_DOT_LOCK_MAY_FAIL``) we carry on with the
kernel locks and say so in ``MailboxLock.warning``. (c-client would use its set-gid
helper /usr/bin/mlock there; pinesh does not yet.)

Waiting is by polling with a deadline, never an unbounded blocking call: a stuck peer makes
a StoreError that names the lock and its holder.

In a shared spool (mode 1777, as /tmp or some /var/mail), any local user can put a file at
``PATH.lock``. A lock file is therefore read without blocking and without following a link,
and only a regular file counts as a dot-lock: a FIFO, link or directory there is reported
at once (opening a FIFO would wait forever for a writer). A stale lock that belongs to
another user cannot be removed by us (the sticky bit): that too is reported, naming the
file and its owner, rather than waited for.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pwd
import secrets
import socket
import stat
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pinesh.filelock import poll_until, try_flock
from pinesh.stores.base import StoreError
from pinesh.textsafe import safe_line

STALE_SECONDS = 300.0  # c-client's LOCKTIMEOUT and liblockfile's: 5 minutes
LOCK_TIMEOUT = 60.0  # Postfix retries its locks for ~20 s; wait longer than it holds them
_POLL = (0.01, 0.02, 0.05, 0.1, 0.2)  # back-off between attempts, then the last one


def _sleeps() -> Iterator[float]:
    yield from _POLL
    while True:
        yield _POLL[-1]


def lock_path(path: Path) -> Path:
    """The dot-lock of a mailbox: PATH.lock."""
    return path.with_name(path.name + ".lock")


def _holder(lock: Path) -> int | None:
    """The pid a dot-lock names (c-client, liblockfile and we write one), if any.

    Read without blocking and never through a link: whoever can write the directory
    decides what lies there.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(lock, flags)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        text = os.read(fd, 32).strip()
    except OSError:
        return None
    finally:
        os.close(fd)
    return int(text) if text.isdigit() and 0 < int(text) < 2**31 else None


def owner_name(uid: int) -> str:
    """A file owner as people know it: "name (uid N)", or "uid N" without a name."""
    try:
        return f"{safe_line(pwd.getpwuid(uid).pw_name)} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFDIR: "a directory",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
}


def _not_a_lock_file(lock: Path, info: os.stat_result) -> StoreError:
    kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
    return StoreError(
        f"{safe_line(str(lock))} is not a lock file but {kind}, owned by "
        f"{owner_name(info.st_uid)}: no mail program can lock the mailbox while it is there",
        hint="ask its owner or the system administrator to remove it "
        "(pinesh never removes what is not a lock file)",
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def is_stale(lock: Path, now: float, stale_after: float = STALE_SECONDS) -> bool:
    """Whether a dot-lock may be broken: its pid is dead here, or it is older than
    stale_after (by ctime, as Postfix judges; a holder refreshes it with touch())."""
    try:
        info = os.lstat(lock)
    except FileNotFoundError:
        return False  # gone already: just try again
    if not stat.S_ISREG(info.st_mode):
        return False  # not a lock file at all: never ours to break
    pid = _holder(lock)
    if pid is not None and not _alive(pid):
        return True
    return now - max(info.st_ctime, info.st_mtime) > stale_after


class DotLock:
    """PATH.lock, made by hard-linking a unique file (safe on NFS, as liblockfile does)."""

    def __init__(self, path: Path, stale_after: float = STALE_SECONDS) -> None:
        self.path = lock_path(path)
        self.stale_after = stale_after
        self._identity: tuple[int, int] | None = None  # (dev, ino) of the lock we hold

    @property
    def held(self) -> bool:
        return self._identity is not None

    def acquire(self, timeout: float = LOCK_TIMEOUT) -> bool:
        """Take the lock, breaking a stale one. False: the directory takes no lock files
        (not writable), so there can be no dot-lock. StoreError when it stays locked."""
        unique = self.path.with_name(
            f".{self.path.name}.{socket.gethostname().replace('/', '_')}"
            f".{os.getpid()}.{secrets.token_hex(4)}"
        )
        try:
            fd = os.open(unique, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                return False
            raise StoreError(
                f"cannot make the lock file {safe_line(str(self.path))}: {exc.strerror}",
                hint="check that the mailbox's directory exists and has free space",
            ) from exc
        try:
            os.write(fd, f"{os.getpid()}\n".encode())
            os.close(fd)
            self._link(unique, timeout)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(unique)
        return True

    def _link(self, unique: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for pause in _sleeps():
            try:
                os.link(unique, self.path)
                linked = True
            except FileExistsError:
                linked = False
            except OSError:
                # NFS may report failure for a link that was made: the link count tells.
                linked = os.stat(unique).st_nlink == 2
            if linked:
                info = os.lstat(self.path)
                self._identity = (info.st_dev, info.st_ino)
                return
            try:
                info = os.lstat(self.path)
            except FileNotFoundError:
                continue  # released meanwhile: try again at once
            if not stat.S_ISREG(info.st_mode):
                raise _not_a_lock_file(self.path, info)
            if is_stale(self.path, time.time(), self.stale_after):
                self._break_stale(info)
                continue
            if time.monotonic() > deadline:
                pid = _holder(self.path)
                who = f" (held by pid {pid})" if pid else ""
                raise StoreError(
                    f"the mailbox is locked by another program: {safe_line(str(self.path))}{who}",
                    hint="wait and try again; if no mail program is running, remove the lock file",
                )
            time.sleep(pause)

    def _break_stale(self, info: os.stat_result) -> None:
        """Remove a stale lock; a StoreError when it is not ours to remove."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass  # someone else broke it first
        except OSError as exc:
            # A sticky directory: only the lock's owner (or root) may remove it, and it
            # will not go away by waiting.
            raise StoreError(
                f"the stale lock file {safe_line(str(self.path))} of "
                f"{owner_name(info.st_uid)} cannot be removed: {exc.strerror}",
                hint="no program holds it any more; ask its owner or the system "
                "administrator to remove it",
            ) from exc

    def touch(self) -> None:
        """Refresh the lock, so that nobody breaks it as stale during a long rewrite."""
        if self._identity is not None:
            with contextlib.suppress(OSError):
                os.utime(self.path, follow_symlinks=False)

    def release(self) -> None:
        """Remove the lock, if it is still ours (a peer may have broken it as stale)."""
        if self._identity is None:
            return
        try:
            info = os.lstat(self.path)
            # The same inode number alone proves little (a new file may reuse it at once).
            if (info.st_dev, info.st_ino) == self._identity and _holder(self.path) == os.getpid():
                os.unlink(self.path)
        except FileNotFoundError:
            pass
        finally:
            self._identity = None


# Linux open-file-description locks; struct flock is (short, short, off_t, off_t, pid_t).
_OFD_SETLK: int | None = getattr(fcntl, "F_OFD_SETLK", None)
_FLOCK_STRUCT = "@hhqqi"


def _fcntl_lock(fd: int, kind: int) -> None:
    """One non-blocking attempt at a whole-file fcntl lock (kind: F_RDLCK, F_WRLCK, F_UNLCK)."""
    if _OFD_SETLK is not None:
        request = struct.pack(_FLOCK_STRUCT, kind, os.SEEK_SET, 0, 0, 0).ljust(64, b"\0")
        fcntl.fcntl(fd, _OFD_SETLK, request)
        return
    # Classic POSIX locks: released when this process closes any descriptor of the file.
    operation = {fcntl.F_RDLCK: fcntl.LOCK_SH, fcntl.F_WRLCK: fcntl.LOCK_EX}.get(kind)
    if operation is None:
        fcntl.lockf(fd, fcntl.LOCK_UN)
    else:
        fcntl.lockf(fd, operation | fcntl.LOCK_NB)


def _busy(exc: OSError) -> bool:
    return exc.errno in (errno.EACCES, errno.EAGAIN, errno.EWOULDBLOCK)


def kernel_lock(fd: int, exclusive: bool, timeout: float, what: Path) -> None:
    """fcntl then flock on fd, waiting up to timeout; StoreError when they stay taken."""
    kind = fcntl.F_WRLCK if exclusive else fcntl.F_RDLCK
    have_fcntl = False

    def attempt() -> bool:
        nonlocal have_fcntl
        try:
            if not have_fcntl:
                _fcntl_lock(fd, kind)
                have_fcntl = True
            return try_flock(fd, shared=not exclusive)
        except OSError as exc:
            if not _busy(exc):
                kernel_unlock(fd)
                raise StoreError(f"cannot lock {safe_line(str(what))}: {exc.strerror}") from exc
            return False

    if not poll_until(attempt, time.monotonic() + timeout, _POLL):
        kernel_unlock(fd)
        raise StoreError(
            f"{safe_line(str(what))} stays locked by another program",
            hint="another mail program is writing it; wait and try again",
        )


def kernel_unlock(fd: int) -> None:
    """Release our fcntl and flock locks on fd."""
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    with contextlib.suppress(OSError):
        _fcntl_lock(fd, fcntl.F_UNLCK)


@dataclass
class MailboxLock:
    """What a held mailbox lock is made of."""

    path: Path
    dot: DotLock | None
    warning: str | None = None  # set when no dot-lock could be made


@contextlib.contextmanager
def locked_mailbox(
    path: Path, fd: int, *, exclusive: bool, timeout: float = LOCK_TIMEOUT
) -> Iterator[MailboxLock]:
    """Hold the mailbox's locks: exclusive (writing) is dot-lock, fcntl and flock;
    shared (reading) is fcntl and flock only, as mutt and Dovecot read."""
    dot: DotLock | None = None
    warning = None
    if exclusive:
        dot = DotLock(path)
        if not dot.acquire(timeout):
            warning = (
                f"no dot-lock for {safe_line(str(path))}: its directory takes no lock files "
                "(locked with fcntl and flock only)"
            )
            dot = None
    try:
        kernel_lock(fd, exclusive, timeout, path)
        try:
            yield MailboxLock(path, dot, warning)
        finally:
            kernel_unlock(fd)
    finally:
        if dot is not None:
            dot.release()
