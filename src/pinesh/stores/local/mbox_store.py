"""The mbox store: a directory of mbox files (and subdirectories), one folder each.

Listing, creating, renaming and deleting folders; an open folder is an ``MboxFolder``
(``mbox_folder.py``), a Maildir found among them a ``MaildirFolder``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from pinesh.stores.base import Folder, FolderInfo, Store, StoreError
from pinesh.stores.local.folder import pattern_regex
from pinesh.stores.local.locking import locked_mailbox
from pinesh.stores.local.maildir_folder import MaildirFolder, is_maildir
from pinesh.stores.local.mbox_folder import MboxFolder
from pinesh.textsafe import safe_line

_HIDDEN_SUFFIXES = (".lock", ".pinesh-journal")
MAX_LIST_DEPTH = 16


def looks_like_mbox(path: Path) -> bool:
    """An empty file, or one that starts with a From line."""
    # Without blocking: in a shared directory a FIFO may take the file's place.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        start = os.read(fd, 5)
    except OSError:
        return False
    finally:
        os.close(fd)
    return start in (b"", b"From ")


class MboxStore(Store):
    """A directory of mail folders, as Pine's ``~/mail``: mbox files and Maildirs.

    Names are paths relative to the directory, with "/" between levels.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _path(self, name: str) -> Path:
        parts = name.strip("/").split("/")
        if (
            not name.strip("/")
            or name.startswith("/")
            or any(p in ("", ".", "..") or not p.isprintable() for p in parts)
        ):
            raise StoreError(
                f"{safe_line(name)!r} is not a folder name in {safe_line(str(self.directory))}",
                hint="use a name relative to the folder directory, without '..'",
            )
        return self.directory.joinpath(*parts)

    def _walk(self, directory: Path, prefix: str, depth: int) -> Iterator[FolderInfo]:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            return
        for entry in names:
            if entry.startswith(".") or entry.endswith(_HIDDEN_SUFFIXES):
                continue  # dot files, lock files, journals
            path = directory / entry
            name = prefix + entry
            if path.is_dir():
                if is_maildir(path):
                    yield FolderInfo(name, entry)
                elif depth < MAX_LIST_DEPTH and not path.is_symlink():
                    yield FolderInfo(name, entry + "/", selectable=False, has_children=True)
                    yield from self._walk(path, name + "/", depth + 1)
            elif path.is_file() and looks_like_mbox(path):
                yield FolderInfo(name, entry)

    def list_folders(self, pattern: str = "*") -> list[FolderInfo]:
        matcher = pattern_regex(pattern, "/")
        return [f for f in self._walk(self.directory, "", 0) if matcher.match(f.name)]

    def open(self, name: str, read_only: bool = False) -> Folder:
        path = self._path(name)
        if path.is_dir():
            if is_maildir(path):
                return MaildirFolder(path, read_only, name=name)
            raise StoreError(
                f"{safe_line(name)!r} is a directory of folders, not a folder",
                hint="open one of the folders in it",
            )
        return MboxFolder(path, read_only, name=name)

    def create(self, name: str) -> None:
        """An empty mbox file; a name that ends in "/" makes a directory instead."""
        path = self._path(name)
        try:
            if name.endswith("/"):
                path.mkdir(mode=0o700)
            else:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
        except FileExistsError as exc:
            raise StoreError(f"the folder {safe_line(name)!r} exists already") from exc
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder {safe_line(name)!r}: {exc.strerror}",
                hint="check that its directory exists and is writable",
            ) from exc

    def rename(self, old: str, new: str) -> None:
        source, target = self._path(old), self._path(new)
        if not source.exists():
            raise StoreError(f"no folder {safe_line(old)!r} to rename")
        if target.exists():
            raise StoreError(f"cannot rename {safe_line(old)!r}: {safe_line(new)!r} exists")
        try:
            if source.is_file():
                # link + unlink, not rename: it fails rather than replace a file that
                # appeared at the new name meanwhile.
                with _exclusive(source):
                    os.link(source, target)
                    os.unlink(source)
            else:
                os.rename(source, target)
        except OSError as exc:
            raise StoreError(
                f"cannot rename {safe_line(old)!r}: {exc.strerror}",
                hint="check the directory's permissions",
            ) from exc

    def delete(self, name: str) -> None:
        """Delete an mbox file (under its locks), an empty directory, or a Maildir."""
        path = self._path(name)
        try:
            if path.is_file():
                with _exclusive(path):
                    os.unlink(path)
            elif is_maildir(path):
                others = [p.name for p in path.iterdir() if p.is_dir()]
                if set(others) - {"cur", "new", "tmp"}:
                    raise StoreError(
                        f"the Maildir {safe_line(name)!r} holds other directories; not deleted",
                        hint="move them away first",
                    )
                shutil.rmtree(path)
            elif path.is_dir():
                path.rmdir()
            else:
                raise StoreError(f"no folder {safe_line(name)!r} to delete")
        except OSError as exc:
            raise StoreError(
                f"cannot delete {safe_line(name)!r}: {exc.strerror}",
                hint="a directory must be empty first" if path.is_dir() else None,
            ) from exc


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold an mbox file's write locks (for deleting or renaming it)."""
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise StoreError(
                f"{safe_line(str(path))} is not a mailbox file",
                hint="it changed since it was listed; list the folders again",
            )
        with locked_mailbox(path, fd, exclusive=True):
            yield
    finally:
        os.close(fd)
