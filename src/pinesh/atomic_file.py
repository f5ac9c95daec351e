"""Replacing a file atomically: a reader sees the old file or the new one, never a part.

The new content goes to a temporary file beside the target, is synced, and is renamed
over the target; the directory is synced too, so the rename survives a crash.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def replace_file(path: Path, data: bytes, *, new_mode: int = 0o600) -> Path:
    """Replace path's content with data; the path written (a symlink's target: the link
    stays). The file keeps its mode; a new one gets new_mode. OSError when it fails, and
    then the temporary file is gone and path is as it was."""
    target = Path(os.path.realpath(path))
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = new_mode
    tmp = target.with_name(f".{target.name}.pinesh-{os.getpid()}-{os.urandom(4).hex()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return target
