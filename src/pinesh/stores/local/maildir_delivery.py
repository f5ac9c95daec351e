"""Writing into a Maildir the Maildir way, for every Maildir pinesh writes.

A file is written in tmp/ under a unique name (created exclusively, fsynced), then linked
into new/ or cur/, so that a reader never sees a partial file. Used by the Maildir
folders (append) and by the outbox (``senders/outbox.py``).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import socket
import time
from datetime import datetime
from pathlib import Path

from pinesh.stores.base import Flag, StoreError
from pinesh.stores.local.folder import sync_directory
from pinesh.stores.local.maildir_names import with_flags
from pinesh.textsafe import safe_line

_counter = itertools.count()


def unique_name(size: int | None = None) -> str:
    """A new base name per the Maildir spec: time.MusecPpidQnRrandom.host, then ",S=size"
    when size is given (Dovecot trusts it: leave it out for a file that is rewritten)."""
    now = time.time()
    seconds, micros = int(now), int((now % 1) * 1_000_000)
    # The spec: "/" and ":" in the host name become octal escapes; "," too (S= follows).
    host = socket.gethostname().replace("/", "\\057").replace(":", "\\072")
    host = host.replace(",", "\\054") or "localhost"
    name = f"{seconds}.M{micros}P{os.getpid()}Q{next(_counter)}R{secrets.token_hex(8)}.{host}"
    return name if size is None else f"{name},S={size}"


def _cannot_write(maildir: Path, exc: OSError) -> StoreError:
    return StoreError(
        f"cannot write into {safe_line(str(maildir))}: {exc.strerror or exc}",
        hint="check the folder's permissions and free space",
    )


def _write_tmp(tmp: Path, message: bytes, date: datetime | None) -> bool:
    """message written to the new file tmp (fsynced, mtime set to date); False when the
    name was taken. On an error the file is removed again."""
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return False
    try:
        try:
            view = memoryview(message)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if date is not None:
            stamp = date.timestamp()
            os.utime(tmp, (stamp, stamp))
    except OSError:
        _remove(tmp)
        raise
    return True


def _new_tmp_file(maildir: Path, message: bytes, date: datetime | None, size: int | None) -> Path:
    """message written to a new file in tmp/ under a unique name (unique_name(size))."""
    for _ in range(10):
        tmp = maildir / "tmp" / unique_name(size)
        try:
            if _write_tmp(tmp, message, date):
                return tmp
        except OSError as exc:
            raise _cannot_write(maildir, exc) from exc
        # The name is another's file in tmp/ (not ours to remove): take another.
    raise StoreError(f"cannot find a unique file name in {safe_line(str(maildir))}")


def deliver(
    maildir: Path,
    message: bytes,
    flags: frozenset[Flag] = frozenset(),
    date: datetime | None = None,
    *,
    size_in_name: bool = True,
) -> tuple[str, str]:
    """Write a new message into a Maildir; return (subdirectory, file name).

    tmp/ first (mtime set to date: Dovecot's INTERNALDATE), then a hard link under the
    same base name into new/ (no flags) or cur/ (with its info), never over another
    file; then tmp/ is cleaned.
    """
    info = with_flags("", flags, True) if flags else ""
    sub = "cur" if info else "new"
    size = len(message) if size_in_name else None
    for _ in range(10):
        tmp = _new_tmp_file(maildir, message, date, size)
        filename = f"{tmp.name}:{info}" if info else tmp.name
        target = maildir / sub / filename
        try:
            try:
                os.link(tmp, target)
            except FileExistsError:
                continue
            except OSError:
                os.rename(tmp, target)  # a file system without hard links (e.g. vfat)
            sync_directory(maildir / sub)
            return sub, filename
        except OSError as exc:
            raise _cannot_write(maildir, exc) from exc
        finally:
            _remove(tmp)
    raise StoreError(f"cannot find a unique file name in {safe_line(str(maildir))}")


def rewrite(maildir: Path, sub: str, filename: str, message: bytes) -> None:
    """Replace maildir/sub/filename with message atomically (tmp/ first, then a rename over
    it): a reader sees the old file or the new one, never a partial one."""
    tmp = _new_tmp_file(maildir, message, None, None)
    try:
        os.rename(tmp, maildir / sub / filename)
    except OSError as exc:
        _remove(tmp)
        raise _cannot_write(maildir, exc) from exc
    sync_directory(maildir / sub)


def _remove(tmp: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
