"""Pine's address book on disk: where it is, reading it, and changing it under a lock.

Every change re-reads the file under the lock, so that changes another pinesh made
meanwhile stay; the file is replaced atomically.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pinesh.atomic_file import replace_file
from pinesh.filelock import flock_until
from pinesh.services.addressbook import AddressBook, AddressBookError, AddressEntry
from pinesh.services.addressbook_format import format_addressbook, parse_addressbook
from pinesh.services.mail import MailSession
from pinesh.textsafe import safe_line

DEFAULT_ADDRESSBOOK = ".addressbook"
MAX_FILE = 8 * 1024 * 1024  # bytes; an address book is never this big
LOCK_TIMEOUT = 10.0  # seconds to wait for another pinesh changing the book


def addressbook_path(session: MailSession) -> Path:
    """The first address-book of the pinerc (``[nickname] path``), else ~/.addressbook.

    A relative path is relative to the home directory, as in Pine.
    """
    home = session.name_context().home
    setting = session.pine.address_books[0].strip() if session.pine.address_books else ""
    text = setting or DEFAULT_ADDRESSBOOK
    if text.startswith("{") or " {" in text:
        raise AddressBookError(
            f"address-book {safe_line(text)!r}: remote address books are not supported",
            hint="set address-book to a local file, e.g. .addressbook",
        )
    words = text.split(None, 1)
    if len(words) == 2 and not Path(os.path.expanduser(text)).exists():
        text = words[1]  # "Personal ~/.addressbook": a nickname, then the path
    path = Path(os.path.expanduser(text))
    return path if path.is_absolute() else home / path


def read_addressbook(path: Path) -> AddressBook:
    """The address book at path; a missing file is an empty book."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE + 1)
    except FileNotFoundError:
        return AddressBook(path)
    except OSError as exc:
        raise AddressBookError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE:
        raise AddressBookError(f"{path} is over {MAX_FILE // (1024 * 1024)} MB: not read")
    # surrogateescape: bytes that are not UTF-8 survive until written back (see above).
    return parse_addressbook(data.decode("utf-8", "surrogateescape"), path)


def load_addressbook(session: MailSession) -> AddressBook:
    return read_addressbook(addressbook_path(session))


def write_addressbook(book: AddressBook) -> None:
    """Save book atomically (temp file, fsync, rename); a new file is made 0600."""
    path = Path(os.path.realpath(book.path))  # a symlinked book stays a symlink
    data = format_addressbook(book).encode("utf-8", "surrogateescape")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, data)
    except OSError as exc:
        raise AddressBookError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="check the directory's permissions and free space",
        ) from None


_THREADS = threading.Lock()  # this process's threads (flock does not tell them apart)


@contextlib.contextmanager
def _locked(book_path: Path) -> Iterator[None]:
    """Hold the address book while it is read, changed and written: an flock on the file
    itself (made empty if missing), taken again when another process replaced the file
    while we waited; LOCK_TIMEOUT at most, then AddressBookError."""
    path = Path(os.path.realpath(book_path))
    deadline = time.monotonic() + LOCK_TIMEOUT
    if not _THREADS.acquire(timeout=LOCK_TIMEOUT):
        raise AddressBookError(f"{path} is being changed; try again")
    try:
        while True:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                raise AddressBookError(f"cannot open {path}: {exc.strerror or exc}") from None
            try:
                try:
                    taken = flock_until(fd, deadline)
                except OSError:  # a file system without flock: go on unlocked
                    taken = True
                if not taken:
                    raise AddressBookError(
                        f"{path} is locked by another program",
                        hint="close the other pinesh's address book, then try again",
                    )
                try:
                    current = os.stat(path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    current = False
                if current:
                    yield
                    return
            finally:
                os.close(fd)
    finally:
        _THREADS.release()


def _change_book(session: MailSession, change: Callable[[AddressBook], AddressBook]) -> AddressBook:
    """Apply change to the file as it is now (re-read under the lock: other changes stay)."""
    path = addressbook_path(session)
    with _locked(path):
        book = change(read_addressbook(path))
        write_addressbook(book)
    return book


def add_entry(session: MailSession, entry: AddressEntry) -> AddressBook:
    """Add entry to the book."""
    return _change_book(session, lambda book: book.with_entry(entry))


def change_entry(session: MailSession, nickname: str, entry: AddressEntry) -> AddressBook:
    """Replace the entry named nickname with entry."""
    return _change_book(session, lambda book: book.with_entry(entry, replacing=nickname))


def delete_entry(session: MailSession, nickname: str) -> AddressBook:
    """Take the entry named nickname out of the book."""
    return _change_book(session, lambda book: book.without(nickname))
