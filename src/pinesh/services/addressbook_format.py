"""Pine's address book file format (pure functions): parse it into an AddressBook, and
write one back.

As Pine and Alpine write it: one entry per line,
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
byte for byte unless it is changed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pinesh.services.addressbook import CONTROL_CHARS, AddressBook, AddressEntry
from pinesh.stores.headers import split_addresses
from pinesh.textsafe import safe_line

CONTINUATION = "   "  # Pine starts a continued line with three spaces
FOLD_WIDTH = 78  # a list line longer than this is folded, one member per line


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
    return any(CONTROL_CHARS.search(value) for value in record.split("\t"))


def _inert(text: str) -> str:
    """text with each control character written as textsafe shows it (``\\x1b``)."""
    return CONTROL_CHARS.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


def _parse_record(line: str) -> AddressEntry:
    fields = line.split("\t")
    if len(fields) < 3:
        raise ValueError("no address (an entry is nickname TAB full name TAB address)")
    if CONTROL_CHARS.search(fields[2]):
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
