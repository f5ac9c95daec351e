"""The Maildir store: a Maildir and its Maildir++ folders, "INBOX" the root, "A.B" ROOT/.A.B.

Listing, creating, renaming and deleting folders; an open folder is a ``MaildirFolder``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pinesh.stores.base import FolderInfo, Store, StoreError
from pinesh.stores.local.folder import pattern_regex
from pinesh.stores.local.maildir_folder import MaildirFolder, is_maildir
from pinesh.textsafe import safe_line

INBOX = "INBOX"


def check_folder_name(name: str) -> str:
    """A Maildir++ folder name ("Lists.python"), or StoreError saying what is wrong."""
    if (
        not name
        or "/" in name
        or name.startswith(".")
        or name.endswith(".")
        or ".." in name
        or not name.isprintable()
    ):
        raise StoreError(
            f"{safe_line(name)!r} is not a Maildir folder name",
            hint="use printable characters, no '/', and '.' only between levels (A.B)",
        )
    if name.upper() == INBOX:
        raise StoreError("INBOX is the Maildir itself", hint="choose another name")
    return name


_FOLDER_FILES = ("maildirfolder",)


class MaildirStore(Store):
    """A Maildir and its Maildir++ folders: "INBOX" is the root, "A.B" is ROOT/.A.B."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        if name.upper() == INBOX:
            return self.root
        return self.root / f".{check_folder_name(name)}"

    def _folder_names(self) -> list[str]:
        try:
            names = os.listdir(self.root)
        except OSError as exc:
            raise StoreError(
                f"cannot list the Maildir {safe_line(str(self.root))}: {exc.strerror}",
                hint="check that it exists",
            ) from exc
        return sorted(
            n[1:]
            for n in names
            if n.startswith(".") and n not in (".", "..") and is_maildir(self.root / n)
        )

    def list_folders(self, pattern: str = "*") -> list[FolderInfo]:
        names = self._folder_names()
        existing = set(names)
        implied = {n.rsplit(".", i)[0] for n in names for i in range(1, n.count(".") + 1)}
        matcher = pattern_regex(pattern, ".")
        out = []
        if matcher.match(INBOX):
            out.append(FolderInfo(INBOX, INBOX))
        for name in sorted(existing | implied):
            if not matcher.match(name):
                continue
            children = any(other.startswith(name + ".") for other in existing)
            out.append(
                FolderInfo(
                    name,
                    name.rsplit(".", 1)[-1],
                    selectable=name in existing,
                    has_children=children,
                )
            )
        return out

    def open(self, name: str, read_only: bool = False) -> MaildirFolder:
        path = self._path(name)
        if not is_maildir(path):
            raise StoreError(
                f"no folder {safe_line(name)!r} in the Maildir {safe_line(str(self.root))}",
                hint="check the name, or create the folder",
            )
        return MaildirFolder(path, read_only, name=name)

    def create(self, name: str) -> None:
        path = self.root / f".{check_folder_name(name)}"
        if path.exists():
            raise StoreError(f"the folder {safe_line(name)!r} exists already")
        try:
            path.mkdir(mode=0o700)
            for sub in ("cur", "new", "tmp"):
                (path / sub).mkdir(mode=0o700)
            (path / "maildirfolder").touch(mode=0o600)
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder {safe_line(name)!r}: {exc.strerror}",
                hint="check the Maildir's permissions",
            ) from exc

    def rename(self, old: str, new: str) -> None:
        source = self.root / f".{check_folder_name(old)}"
        check_folder_name(new)
        if not is_maildir(source):
            raise StoreError(f"no folder {safe_line(old)!r} to rename")
        # The folder and its subfolders (.old.x -> .new.x), as Dovecot renames them.
        moves = [(old, new)] + [
            (n, new + n[len(old) :]) for n in self._folder_names() if n.startswith(old + ".")
        ]
        for _, target in moves:
            if (self.root / f".{target}").exists():
                raise StoreError(
                    f"cannot rename {safe_line(old)!r}: {safe_line(target)!r} exists already"
                )
        try:
            for before, after in moves:
                os.rename(self.root / f".{before}", self.root / f".{after}")
        except OSError as exc:
            raise StoreError(
                f"cannot rename {safe_line(old)!r}: {exc.strerror}",
                hint="check the Maildir's permissions",
            ) from exc

    def delete(self, name: str) -> None:
        """Delete a folder and its messages (its subfolders, other directories, stay)."""
        path = self.root / f".{check_folder_name(name)}"
        if not is_maildir(path):
            raise StoreError(f"no folder {safe_line(name)!r} to delete")
        unexpected = [
            p.name for p in path.iterdir() if p.is_dir() and p.name not in ("cur", "new", "tmp")
        ]
        if unexpected:
            raise StoreError(
                f"the folder {safe_line(name)!r} holds other directories "
                f"({safe_line(', '.join(unexpected))}); not deleted",
                hint="move them away first",
            )
        try:
            shutil.rmtree(path)
        except OSError as exc:
            raise StoreError(
                f"cannot delete the folder {safe_line(name)!r}: {exc.strerror}",
                hint="check the Maildir's permissions",
            ) from exc
