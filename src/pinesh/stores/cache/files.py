"""The header cache's file: a private directory, a 0600 file, never a planted link.

The file's name is a hash of the caller's server key, so nothing a server says (a
mailbox name, CVE-2018-14355) ever becomes part of a path. A file that is not a pinesh
cache (corrupt, foreign, another schema) is moved aside, never trusted or deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import time
import urllib.parse
from pathlib import Path

from pinesh.textsafe import safe_line


class CacheUnavailable(Exception):  # noqa: N818 - the name the callers code against
    """The cache cannot be used (its directory or file is not safely ours); run without."""


def cache_file(root: Path, server_key: str) -> Path:
    """Where the cache of the server named server_key lives below root."""
    digest = hashlib.sha256(server_key.encode("utf-8", "surrogatepass")).hexdigest()
    return root / "imap" / f"{digest[:32]}.sqlite"


def _shown(path: Path) -> str:
    return safe_line(str(path))


def ensure_private_dir(path: Path) -> None:
    """Create path (0700) or check it: a real directory, ours, not writable by others.

    Like transport.private_dir, but a directory others can write to is refused (they could
    swap the file between our checks and our opening) and the words speak of the cache.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # ~/.cache: the usual mode
        path.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError as exc:
        raise CacheUnavailable(
            f"cannot create the cache directory {_shown(path)}: {exc.strerror}"
        ) from exc
    if not stat.S_ISDIR(info.st_mode):
        raise CacheUnavailable(
            f"the cache directory {_shown(path)} is not a directory (or is a symbolic link):"
            " remove it to use the header cache"
        )
    if info.st_uid != os.getuid():
        raise CacheUnavailable(
            f"the cache directory {_shown(path)} belongs to uid {info.st_uid}, not to you:"
            " someone else may have planted it; remove it to use the header cache"
        )
    if info.st_mode & 0o022:
        raise CacheUnavailable(
            f"the cache directory {_shown(path)} is writable by others:"
            f" run `chmod 700 {_shown(path)}` to use the header cache"
        )
    if info.st_mode & 0o077:
        try:
            os.chmod(path, 0o700)  # ours and closed to writers: only reading to close
        except OSError as exc:
            raise CacheUnavailable(
                f"cannot make the cache directory {_shown(path)} private: {exc.strerror}"
            ) from exc


def _check_file(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise CacheUnavailable(
            f"the cache file {_shown(path)} is not a regular file (or is a symbolic link):"
            " remove it to use the header cache"
        )
    if info.st_uid != os.getuid():
        raise CacheUnavailable(
            f"the cache file {_shown(path)} belongs to uid {info.st_uid}, not to you:"
            " remove it to use the header cache"
        )


def prepare_file(path: Path) -> str:
    """Make path safe to open (creating it 0600 when missing); return the sqlite3 URI.

    The checks run on an fd opened with O_NOFOLLOW, compared with the name afterwards, so
    a link or another's file planted at path is refused, never followed.
    """
    ensure_private_dir(path.parent.parent)
    ensure_private_dir(path.parent)
    flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            fd = os.open(path, flags | os.O_NONBLOCK)  # NONBLOCK: a planted FIFO
    except OSError as exc:
        raise CacheUnavailable(
            f"cannot open the cache file {_shown(path)}: {exc.strerror}"
            " (a symbolic link is refused): remove it to use the header cache"
        ) from exc
    try:
        info = os.fstat(fd)
        _check_file(path, info)
        if info.st_mode & 0o077:
            os.fchmod(fd, 0o600)
        # sqlite3 opens the name again: it must still be the file checked.
        again = os.lstat(path)
        if (again.st_dev, again.st_ino) != (info.st_dev, info.st_ino):
            raise CacheUnavailable(f"the cache file {_shown(path)} was replaced while opening")
    except OSError as exc:
        raise CacheUnavailable(f"cannot check the cache file {_shown(path)}: {exc}") from exc
    finally:
        os.close(fd)
    return "file:" + urllib.parse.quote(str(path)) + "?mode=rw"


def move_aside(path: Path) -> Path:
    """Rename a file that is no pinesh cache to NAME.corrupt-<unix time>, with its WAL.

    The -wal goes with it: left in place, SQLite would replay its pages into the new file.
    """
    stamp = int(time.time())
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    os.replace(path, target)
    wal = path.with_name(path.name + "-wal")
    with contextlib.suppress(FileNotFoundError):
        os.replace(wal, target.with_name(target.name + "-wal"))
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path.with_name(path.name + "-shm"))  # an index of the WAL, rebuilt
    return target
