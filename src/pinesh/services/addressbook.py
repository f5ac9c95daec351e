"""Pine's address book (``~/.addressbook``) in memory: entries, lists, nickname expansion.

The file's format is addressbook_format.py; reading and changing the file on disk, under
a lock, is addressbook_file.py. Address text helpers (format_address) are here
too: the composer and replies use them (split_addresses is stores/headers.py's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from pinesh.errors import PineshError
from pinesh.stores.base import Address
from pinesh.stores.headers import decode_words, split_addresses
from pinesh.textsafe import safe_line

MAX_DEPTH = 32  # lists within lists (cycles are stopped apart from this)

_SPECIALS = set('()<>@,;:\\".[]')
# C0, DEL and C1, as textsafe escapes them: none may reach a header or the file.
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


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
        if CONTROL_CHARS.search(value):
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
