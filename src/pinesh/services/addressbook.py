"""Pine's address book (``~/.addressbook``): read, write, and expand nicknames.

The file format, as Pine and Alpine write it: one entry per line,
``nickname TAB fullname TAB address TAB fcc TAB comment`` (the last two optional). A
distribution list has ``(a@b.org, Jane <jane@c.org>, nick)`` as its address; a long entry
goes on over lines that start with three spaces (a line that starts with a space
continues the one before; one that starts with a tab is an entry without a nickname).
A nickname is a word without ``@``, compared without case; a full name written
``Last, First`` is used as ``First Last``.

Control characters (C0, DEL, C1: escape sequences; Pine's TakeAddr copies a sender's
name as it came) never reach a header: in an address the record is refused, reported
with its file and line, and kept; in the other fields they are made inert, written
``\\x1b`` as the screens show them, and the record is written back as it was.

A line pinesh cannot read is reported and kept as it is, so saving never loses it; so is
an entry that is not UTF-8 (an old Latin-1 book): it is read as Latin-1, and written back
byte for byte unless it is changed. Changes are made under a lock on the file.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from pinesh.errors import PineshError
from pinesh.filelock import flock_until
from pinesh.services.mail import MailSession
from pinesh.stores.base import Address
from pinesh.stores.headers import decode_words
from pinesh.stores.local.mbox_journal import write_all
from pinesh.textsafe import safe_line

DEFAULT_ADDRESSBOOK = ".addressbook"
CONTINUATION = "   "  # Pine starts a continued line with three spaces
FOLD_WIDTH = 78  # a list line longer than this is folded, one member per line
MAX_FILE = 8 * 1024 * 1024  # bytes; an address book is never this big
MAX_DEPTH = 32  # lists within lists (cycles are stopped apart from this)
LOCK_TIMEOUT = 10.0  # seconds to wait for another pinesh changing the book

_SPECIALS = set('()<>@,;:\\".[]')
# C0, DEL and C1, as textsafe escapes them: none may reach a header or the file.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class AddressBookError(PineshError):
    """The address book cannot be read or written, or an entry cannot be kept."""


# --- address text ---------------------------------------------------------------------


def format_address(address: Address) -> str:
    """``Jane Doe <jane@x.org>``; the name quoted when it holds specials (``"Doe, J."``)."""
    name, email = address.name.strip(), address.email.strip()
    if not name:
        return email
    if not email:
        return name
    if any(ch in _SPECIALS for ch in name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{email}>"


def format_addresses(addresses: tuple[Address, ...]) -> str:
    return ", ".join(format_address(a) for a in addresses)


def split_addresses(text: str) -> list[str]:
    """The items of an address field, split at commas outside quotes, <> and ()."""
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    angle = paren = 0
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\" and (quoted or paren):
            escaped = True
        elif ch == '"' and not paren:
            quoted = not quoted
        elif not quoted:
            if ch == "(":
                paren += 1
            elif ch == ")" and paren:
                paren -= 1
            elif ch == "<" and not paren:
                angle += 1
            elif ch == ">" and angle and not paren:
                angle -= 1
            elif ch == "," and not angle and not paren:
                items.append("".join(current).strip())
                current = []
                continue
        current.append(ch)
    items.append("".join(current).strip())
    return [item for item in items if item]


def is_nickname(item: str) -> bool:
    """A bare word (no @, no <>, no quotes, no spaces): what Pine looks up as a nickname."""
    return bool(item) and not any(ch in item for ch in '@<>"(),;: \t')


def display_fullname(fullname: str) -> str:
    """Pine's "Last, First" as "First Last"; RFC 2047 words decoded."""
    name = decode_words(fullname).strip() if "=?" in fullname else fullname.strip()
    last, comma, first = name.partition(",")
    if comma and "," not in first and first.strip() and last.strip() and '"' not in name:
        return f"{first.strip()} {last.strip()}"
    return name


# --- entries --------------------------------------------------------------------------


@dataclass(frozen=True)
class AddressEntry:
    """One nickname: a person (one address) or a distribution list (several members)."""

    nickname: str
    fullname: str = ""
    addresses: tuple[str, ...] = ()  # members: addresses, "Name <a@b>", or nicknames
    is_list: bool = False
    fcc: str = ""
    comment: str = ""
    # The record as it was in the file when that was not UTF-8 (8-bit bytes kept as
    # surrogates): written back as it was, not re-encoded, while the entry is unchanged.
    source: str | None = field(default=None, compare=False, repr=False)

    @property
    def deleted(self) -> bool:
        """Pine keeps deleted entries as ``#DELETED-YY/MM/DD#nick``; they are not shown."""
        return self.nickname.startswith("#DELETED")

    def address_field(self) -> str:
        """The address column as written in the file."""
        if self.is_list:
            return "(" + ", ".join(self.addresses) + ")"
        return self.addresses[0] if self.addresses else ""

    def shown_address(self) -> str:
        """The address for a list on the screen: members joined with commas."""
        return ", ".join(self.addresses)


def make_entry(
    nickname: str, fullname: str, address_text: str, fcc: str = "", comment: str = ""
) -> AddressEntry:
    """An entry from what was typed; several addresses make a list. Raises when unusable."""
    nickname, fullname, fcc, comment = (s.strip() for s in (nickname, fullname, fcc, comment))
    for label, value in (("nickname", nickname), ("full name", fullname), ("fcc", fcc),
                         ("comment", comment), ("address", address_text)):  # fmt: skip
        if _CONTROLS.search(value):
            raise AddressBookError(f"the {label} holds tabs, line breaks or control characters")
    if not is_nickname(nickname) or nickname.startswith("#"):
        raise AddressBookError(
            f"{safe_line(nickname)!r} cannot be a nickname",
            hint="a nickname is one word without spaces, @, <, >, quotes or commas",
        )
    members = split_addresses(address_text)
    if not members:
        raise AddressBookError("an entry needs an address")
    for member in members:
        if "(" in member or ")" in member:
            raise AddressBookError(f"{safe_line(member)!r}: parentheses are not allowed here")
    return AddressEntry(nickname, fullname, tuple(members), len(members) > 1, fcc, comment)


# --- the book -------------------------------------------------------------------------


@dataclass(frozen=True)
class AddressBook:
    """The entries of one address book file, what could not be read, and lines kept as is."""

    path: Path
    entries: tuple[AddressEntry, ...] = ()
    problems: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()  # unreadable records, written back unchanged

    @property
    def shown(self) -> tuple[AddressEntry, ...]:
        """The entries to list (Pine's deleted ones left out), sorted by nickname."""
        live = [e for e in self.entries if not e.deleted]
        return tuple(sorted(live, key=lambda e: (e.nickname.lower(), e.fullname.lower())))

    def find(self, nickname: str) -> AddressEntry | None:
        wanted = nickname.lower()
        for entry in self.entries:
            if entry.nickname.lower() == wanted and not entry.deleted:
                return entry
        return None

    def expand(self, text: str) -> str:
        """An address field with every known nickname replaced by its address(es).

        Lists expand to all their members; each nickname is used once (a list that
        names itself, or a member twice, stops there). Unknown nicknames stay as typed.
        """
        seen: set[str] = set()
        out: list[str] = []
        for item in split_addresses(text):
            for address in self._expand(item, seen, 0):
                if address not in out:
                    out.append(address)
        return ", ".join(out)

    def _expand(self, item: str, seen: set[str], depth: int) -> list[str]:
        if not is_nickname(item):
            return [item]
        entry = self.find(item)
        if entry is None:
            return [item]
        key = entry.nickname.lower()
        if key in seen or depth > MAX_DEPTH:
            return []
        seen.add(key)
        if entry.is_list:
            found: list[str] = []
            for member in entry.addresses:
                found += self._expand(member, seen, depth + 1)
            return found
        address = entry.addresses[0] if entry.addresses else ""
        if is_nickname(address):
            return self._expand(address, seen, depth + 1)
        if "<" in address or not entry.fullname.strip():
            return [address]
        return [format_address(Address(display_fullname(entry.fullname), address))]

    def address_text(self, entry: AddressEntry) -> str:
        """What entry puts in an address field: its address(es) with the full name."""
        if entry.nickname and self.find(entry.nickname) is entry:
            return self.expand(entry.nickname)
        if entry.is_list:
            return self.expand(", ".join(entry.addresses))
        address = entry.addresses[0] if entry.addresses else ""
        if "<" in address or not entry.fullname.strip():
            return address
        return format_address(Address(display_fullname(entry.fullname), address))

    def unknown_nicknames(self, text: str) -> tuple[str, ...]:
        """The bare words of an address field that no entry expands."""
        return tuple(item for item in split_addresses(self.expand(text)) if is_nickname(item))

    def fcc_for(self, text: str) -> str | None:
        """The fcc of the first nickname in text that has one (Pine uses it for the copy)."""
        for item in split_addresses(text):
            entry = self.find(item) if is_nickname(item) else None
            if entry is not None and entry.fcc:
                return entry.fcc
        return None

    def with_entry(self, entry: AddressEntry, replacing: str | None = None) -> AddressBook:
        """The book with entry added, or put in the place of the nickname replacing."""
        other = self.find(entry.nickname)
        if other is not None and (replacing is None or other.nickname.lower() != replacing.lower()):
            raise AddressBookError(f"the nickname {safe_line(entry.nickname)!r} is already used")
        if replacing is None:
            return replace(self, entries=(*self.entries, entry))
        old = self.find(replacing)
        if old is None:
            raise AddressBookError(f"no entry {safe_line(replacing)!r} (changed meanwhile?)")
        return replace(self, entries=tuple(entry if e is old else e for e in self.entries))

    def without(self, nickname: str) -> AddressBook:
        old = self.find(nickname)
        if old is None:
            raise AddressBookError(f"no entry {safe_line(nickname)!r} (changed meanwhile?)")
        return replace(self, entries=tuple(e for e in self.entries if e is not old))


# --- the file format (pure) -----------------------------------------------------------


def parse_addressbook(text: str, path: Path) -> AddressBook:
    """The entries of an address book's text; unreadable records are reported and kept."""
    records: list[tuple[int, list[str]]] = []  # (first line number, physical lines)
    problems: list[str] = []
    kept: list[str] = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if line.startswith(" ") and line.strip():
            if records:
                records[-1][1].append(line)
            else:
                problems.append(f"{path} line {number}: a continued line with nothing before it")
                kept.append(line)
            continue
        if line.strip():
            records.append((number, [line]))
    entries: list[AddressEntry] = []
    used: dict[str, int] = {}
    for number, lines in records:
        joined = lines[0] + "".join(_continued(line) for line in lines[1:])
        source = None
        if _has_surrogates(joined):  # not UTF-8: read as Latin-1, written back as it was
            source = "\n".join(lines)
            joined = joined.encode("utf-8", "surrogateescape").decode("latin-1")
        if _has_controls(joined):  # made inert when read: written back as it was
            source = "\n".join(lines)
        try:
            entry = replace(_parse_record(joined), source=source)
        except ValueError as exc:
            problems.append(f"{path} line {number}: {exc}; the line is kept as it is")
            kept.append("\n".join(lines))
            continue
        key = entry.nickname.lower()
        if key and not entry.deleted and key in used:
            problems.append(
                f"{path} line {number}: the nickname {safe_line(entry.nickname)!r} is "
                f"already on line {used[key]}; this entry is not used"
            )
            kept.append("\n".join(lines))
            continue
        used.setdefault(key, number)
        entries.append(entry)
    return AddressBook(path, tuple(entries), tuple(problems), tuple(kept))


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _continued(line: str) -> str:
    return line[len(CONTINUATION) :] if line.startswith(CONTINUATION) else line.lstrip()


def _has_controls(record: str) -> bool:
    """Whether a record holds control characters besides the tabs between its fields."""
    return any(_CONTROLS.search(value) for value in record.split("\t"))


def _inert(text: str) -> str:
    """text with each control character written as textsafe shows it (``\\x1b``)."""
    return _CONTROLS.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


def _parse_record(line: str) -> AddressEntry:
    fields = line.split("\t")
    if len(fields) < 3:
        raise ValueError("no address (an entry is nickname TAB full name TAB address)")
    if _CONTROLS.search(fields[2]):
        # Made inert it would still be no address: refused, so it never reaches To or Cc.
        raise ValueError("the address holds control characters (escape sequences?)")
    fields = [_inert(value) for value in fields]
    nickname, fullname, address = fields[0].strip(), fields[1], fields[2].strip()
    fcc = fields[3].strip() if len(fields) > 3 else ""
    comment = "\t".join(fields[4:]).strip() if len(fields) > 4 else ""
    if address.startswith("("):
        if not address.endswith(")"):
            raise ValueError("a list's addresses are not closed with ')'")
        members = tuple(split_addresses(address[1:-1]))
        if not members:
            raise ValueError("an empty list")
        return AddressEntry(nickname, fullname, members, True, fcc, comment)
    if not address:
        raise ValueError("no address")
    return AddressEntry(nickname, fullname, (address,), False, fcc, comment)


def format_addressbook(book: AddressBook) -> str:
    """The file text for book: its entries, then the records it could not read.

    A kept continued line that had no entry before it goes first: after an entry it
    would join that entry. The others go last, so a kept duplicate nickname stays
    after the entry that is used.
    """
    orphans = [text for text in book.kept if text.startswith(" ")]
    rest = [text for text in book.kept if not text.startswith(" ")]
    lines = orphans + [_format_entry(entry) for entry in book.entries] + rest
    return "".join(line + "\n" for line in lines)


def _format_entry(entry: AddressEntry) -> str:
    if entry.source is not None:
        return entry.source
    tail = [entry.fcc, entry.comment]
    while tail and not tail[-1]:
        tail.pop()
    line = "\t".join([entry.nickname, entry.fullname, entry.address_field(), *tail])
    if not entry.is_list or len(line) <= FOLD_WIDTH or len(entry.addresses) < 2:
        return line
    # Folded as Pine folds lists: one member per line, the rest after the last one.
    first, *rest = entry.addresses
    head = "\t".join([entry.nickname, entry.fullname, f"({first},"])
    body = [CONTINUATION + member + "," for member in rest[:-1]]
    last = "\t".join([CONTINUATION + rest[-1] + ")", *tail])
    return "\n".join([head, *body, last])


# --- the file -------------------------------------------------------------------------


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
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o600
    except OSError as exc:
        raise AddressBookError(f"cannot write {path}: {exc.strerror or exc}") from None
    tmp = path.with_name(f".{path.name}.pinesh-{os.getpid()}-{os.urandom(4).hex()}")
    data = format_addressbook(book).encode("utf-8", "surrogateescape")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, mode)
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
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


def add_entry(session: MailSession, entry: AddressEntry) -> AddressBook:
    """Add entry to the file as it is now (re-read under the lock: other changes stay)."""
    path = addressbook_path(session)
    with _locked(path):
        book = read_addressbook(path).with_entry(entry)
        write_addressbook(book)
    return book


def change_entry(session: MailSession, nickname: str, entry: AddressEntry) -> AddressBook:
    """Replace the entry named nickname with entry."""
    path = addressbook_path(session)
    with _locked(path):
        book = read_addressbook(path).with_entry(entry, replacing=nickname)
        write_addressbook(book)
    return book


def delete_entry(session: MailSession, nickname: str) -> AddressBook:
    path = addressbook_path(session)
    with _locked(path):
        book = read_addressbook(path).without(nickname)
        write_addressbook(book)
    return book
