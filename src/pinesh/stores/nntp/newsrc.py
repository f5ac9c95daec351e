"""~/.newsrc, parsed and formatted: subscriptions and read-article ranges (pure functions).

One line per group, as in every news reader since rn::

    comp.lang.python: 1-10,12,15-20     subscribed; articles 1-10, 12, 15-20 read
    alt.test! 1-5                       not subscribed (marks kept)

Anything else (an ``options`` line, comments, garbage) is kept as it is, in its place. A
group line is written back exactly as read until its marks or subscription change. Range
pieces that are not numbers ("x", "9-3", a number past 2**63) are ignored when reading,
and dropped when that line is rewritten.

Ranges are kept as sorted, merged ``(first, last)`` pairs and never expanded into sets:
"1-2000000000" is one pair.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

MAX_ARTICLE = 2**63 - 1  # RFC 3977 article numbers fit in 63 bits

Ranges = tuple[tuple[int, int], ...]

_GROUP_LINE = re.compile(r"([^\s:!]+)([:!])(.*)", re.DOTALL)
_NUMBER = re.compile(r"[0-9]{1,19}")


def _number(text: str) -> int | None:
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    value = int(text)
    return value if value <= MAX_ARTICLE else None


def normalize(pairs: Iterable[tuple[int, int]]) -> Ranges:
    """Pairs sorted and merged (overlapping or adjacent pairs become one); empty ones dropped."""
    merged: list[tuple[int, int]] = []
    for first, last in sorted(p for p in pairs if p[0] <= p[1]):
        if merged and first <= merged[-1][1] + 1:
            if last > merged[-1][1]:
                merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return tuple(merged)


def parse_ranges(text: str) -> Ranges:
    """'1-10,12,15-20' as ((1, 10), (12, 12), (15, 20)); bad pieces are ignored."""
    pairs: list[tuple[int, int]] = []
    for piece in text.split(","):
        first_text, dash, last_text = piece.partition("-")
        first = _number(first_text)
        last = _number(last_text) if dash else first
        if first is not None and last is not None and first <= last:
            pairs.append((first, last))
    return normalize(pairs)


def format_ranges(ranges: Ranges) -> str:
    """((1, 10), (12, 12)) as '1-10,12'."""
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


def ranges_of(numbers: Iterable[int]) -> Ranges:
    """Article numbers as ranges: [3, 1, 2, 7] -> ((1, 3), (7, 7))."""
    return normalize((n, n) for n in numbers if 0 <= n <= MAX_ARTICLE)


def add(ranges: Ranges, more: Ranges) -> Ranges:
    """The union of two range lists."""
    return normalize((*ranges, *more))


def remove(ranges: Ranges, less: Ranges) -> Ranges:
    """ranges without the numbers in less."""
    out: list[tuple[int, int]] = []
    for first, last in ranges:
        start = first
        for cut_first, cut_last in less:
            if cut_last < start or cut_first > last:
                continue
            if cut_first > start:
                out.append((start, cut_first - 1))
            start = max(start, cut_last + 1)
            if start > last:
                break
        if start <= last:
            out.append((start, last))
    return normalize(out)


def contains(ranges: Ranges, number: int) -> bool:
    """Whether number is in one of the ranges."""
    at = bisect.bisect_right(ranges, (number, MAX_ARTICLE + 1)) - 1
    return at >= 0 and ranges[at][0] <= number <= ranges[at][1]


def count_within(ranges: Ranges, low: int, high: int) -> int:
    """How many numbers of low..high the ranges hold."""
    return sum(max(0, min(b, high) - max(a, low) + 1) for a, b in ranges)


@dataclass(frozen=True)
class GroupLine:
    """A group's line: subscribed (':') or not ('!'), and the articles read."""

    name: str
    subscribed: bool
    read: Ranges = ()
    raw: str | None = None  # the line as read; written back as long as nothing changed

    def text(self) -> str:
        if self.raw is not None:
            return self.raw
        marks = format_ranges(self.read)
        mark = ":" if self.subscribed else "!"
        return f"{self.name}{mark} {marks}" if marks else f"{self.name}{mark}"


@dataclass(frozen=True)
class OtherLine:
    """A line that is not a group's (options, comments, garbage): kept as it is."""

    text: str


Entry = GroupLine | OtherLine


def parse_line(line: str) -> Entry:
    """One newsrc line (without its newline)."""
    match = _GROUP_LINE.fullmatch(line)
    if match is None or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in match.group(1)):
        return OtherLine(line)
    name, mark, rest = match.groups()
    return GroupLine(name, mark == ":", parse_ranges(rest), raw=line)


@dataclass(frozen=True)
class Newsrc:
    """A whole newsrc, in file order."""

    entries: tuple[Entry, ...] = ()

    def group(self, name: str) -> GroupLine | None:
        """The first line for group name, if any."""
        for entry in self.entries:
            if isinstance(entry, GroupLine) and entry.name == name:
                return entry
        return None

    def subscribed(self) -> list[str]:
        """Subscribed groups, in file order."""
        return [e.name for e in self.entries if isinstance(e, GroupLine) and e.subscribed]

    def with_group(self, line: GroupLine) -> Newsrc:
        """This newsrc with group line replaced in place (appended if the group is new)."""
        entries = list(self.entries)
        for i, entry in enumerate(entries):
            if isinstance(entry, GroupLine) and entry.name == line.name:
                entries[i] = line
                return Newsrc(tuple(entries))
        return Newsrc((*entries, line))

    def set_subscribed(self, name: str, subscribed: bool) -> Newsrc:
        """Subscribe to (or leave) a group, keeping its read marks."""
        old = self.group(name)
        if old is None:
            return self.with_group(GroupLine(name, subscribed))
        if old.subscribed == subscribed:
            return self
        return self.with_group(replace(old, subscribed=subscribed, raw=None))

    def set_read(self, name: str, read: Ranges) -> Newsrc:
        """Replace a group's read marks (a new group is added unsubscribed, as '!')."""
        old = self.group(name)
        if old is None:
            return self.with_group(GroupLine(name, False, read))
        if old.read == read:
            return self
        return self.with_group(replace(old, read=read, raw=None))


def parse_newsrc(text: str) -> Newsrc:
    """A newsrc's text (decode the file with surrogateescape to keep any bytes)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return Newsrc(tuple(parse_line(line.removesuffix("\r")) for line in lines))


def format_newsrc(newsrc: Newsrc) -> str:
    """The text to write back: every line, each ending with a newline."""
    return "".join(
        (e.text() if isinstance(e, GroupLine) else e.text) + "\n" for e in newsrc.entries
    )
