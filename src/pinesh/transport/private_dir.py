"""The per-user runtime directory that holds ssh control sockets, locks and forwards."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pinesh.errors import PineshError


def ensure_private_dir(path: Path) -> Path:
    """Create path (mode 0700) or check it: a real directory, ours, closed to others.

    A directory someone else made (e.g. planted in /tmp) is refused, never used: a control
    socket in it would let them take over our ssh connections.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(path)
    except OSError as exc:
        raise PineshError(f"cannot create the runtime directory {path}: {exc}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise PineshError(
            f"the runtime directory {path} is not a directory (or is a symbolic link)",
            hint="remove it, or set ssh.control_dir in the pinesh config",
        )
    if info.st_uid != os.getuid():
        raise PineshError(
            f"the runtime directory {path} belongs to uid {info.st_uid}, not to you",
            hint="someone else may have planted it: remove it, or set ssh.control_dir",
        )
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path
