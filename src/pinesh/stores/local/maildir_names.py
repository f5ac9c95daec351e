"""Maildir message file names: ``BASE[:2,FLAGS]``, their flags, and their arrival order.

BASE is unique and never changes; FLAGS (the "info") are letters in ASCII order: D draft,
F flagged, R answered, S seen, T trashed (our DELETED). Other letters (P passed,
Dovecot's keyword letters a-z) are kept as they are. New names are made by
``maildir_delivery.unique_name``.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable

from pinesh.stores.base import Flag

_LETTERS = {
    Flag.DRAFT: "D",
    Flag.FLAGGED: "F",
    Flag.ANSWERED: "R",
    Flag.SEEN: "S",
    Flag.DELETED: "T",
}
_FLAGS = {letter: flag for flag, letter in _LETTERS.items()}
_DIGITS = re.compile(r"(\d+)")
_LEADING_DIGITS = re.compile(r"\d+")


def split_name(name: str) -> tuple[str, str]:
    """A message file name as (base, info): "1.M2P3.host:2,FS" -> ("1.M2P3.host", "2,FS")."""
    base, _, info = name.partition(":")
    return base, info


def flags_of(info: str) -> frozenset[Flag]:
    """The flags in a Maildir info ("2,FS"); other info versions carry none."""
    if not info.startswith("2,"):
        return frozenset()
    return frozenset(_FLAGS[c] for c in info[2:] if c in _FLAGS)


def with_flags(info: str, flags: frozenset[Flag], value: bool) -> str:
    """The info with flags set or cleared, other letters kept, in ASCII order (the spec)."""
    letters = set(info[2:]) if info.startswith("2,") else set()
    change = {_LETTERS[f] for f in flags}
    letters = letters | change if value else letters - change
    return "2," + "".join(sorted(letters))


def arrival_key(base: str) -> tuple[object, ...]:
    """Sort key of a base name: its numbers compared as numbers ("M9" before "M10"), so
    that names that start with the delivery time sort in arrival order."""
    texts = _DIGITS.split(base)  # text, digits, text, ..., text
    pieces: list[object] = list(texts)
    pieces[1::2] = map(int, texts[1::2])
    return tuple(pieces)


def leading_number(base: str) -> int | None:
    """The number a base name starts with, None if it starts with no digit: when not
    None, arrival_key(base) is ("", leading_number(base), ...)."""
    head = base.partition(".")[0]
    if head.isascii() and head.isdecimal():  # the usual "<time>.<rest>": no regex
        return int(head)
    match = _LEADING_DIGITS.match(base)
    return int(match.group()) if match else None


def arrival_order(bases: Iterable[str]) -> list[str]:
    """sorted(bases, key=arrival_key), the same list (equal keys in their input order), but
    fast: names that start with a number are sorted by that number alone, and arrival_key
    is computed only for names with the same number and for names that start with none."""
    numbered: list[str] = []
    numbers: list[int] = []
    other: list[str] = []
    for base in bases:
        found = leading_number(base)
        if found is None:
            other.append(base)
        else:
            numbered.append(base)
            numbers.append(found)
    places = sorted(range(len(numbers)), key=numbers.__getitem__)  # stable, as arrival_key's
    ordered = list(map(numbered.__getitem__, places))
    keys = list(map(numbers.__getitem__, places))
    if len(set(keys)) < len(keys):
        for tied in {a for a, b in itertools.pairwise(keys) if a == b}:
            start, end = bisect.bisect_left(keys, tied), bisect.bisect_right(keys, tied)
            ordered[start:end] = sorted(ordered[start:end], key=arrival_key)
    # The others' keys start with their text: after the numbers' "", except "" itself.
    other.sort(key=arrival_key)
    empty = other.count("")  # sorted first: ("",) comes before ("", number, ...)
    return other[:empty] + ordered + other[empty:]
