"""What the FOLDER LIST draws: its sections, a row per folder, and each row's text.

Pure over the listings and counts the screen's workers brought back: the screen keeps
these values and hands them here to be laid out as options of its list.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets.option_list import Option

from pinesh.config.pine_settings import Collection
from pinesh.services.folders import FolderCounts, FolderEntry, Listing
from pinesh.textsafe import safe_line

NAME_WIDTH = 40  # columns before the counts (longer names push them right)


@dataclass
class Section:
    """One collection on the screen: its listing once the worker brings it."""

    collection: Collection
    news: bool = False  # newsgroups: A subscribes, D unsubscribes
    listing: Listing | None = None


@dataclass(frozen=True)
class Row:
    """What one line of the list stands for: a folder, or a section's placeholder."""

    section: int
    entry: FolderEntry | None


def counts_text(counts: FolderCounts | None) -> str:
    """Pine's "(12, 3 new)"; "(?)" when the folder could not be counted."""
    if counts is None:
        return "(?)"
    if counts.unseen:
        return f"({counts.count}, {counts.unseen} new)"
    return f"({counts.count})"


def heading(number: int, section: Section) -> Text:
    collection = section.collection
    where = f"{collection.name}[{collection.pattern}]"
    kind = "News-collection" if section.news else "Folder-collection"
    return Text(
        f"{kind} <{number}> -- {safe_line(collection.label)}   ({safe_line(where)})",
        style="bold",
    )


def row_text(row: Row, sections: list[Section], counts: dict[str, FolderCounts | None]) -> Text:
    """A row's line: the folder's name and its counts once known, else the placeholder
    of its section (listing, the error, or why it has no folders)."""
    entry = row.entry
    if entry is None:
        listing = sections[row.section].listing
        if listing is None:
            return Text("    [Listing folders...]", style="italic")
        if listing.error:
            return Text(f"    [Error: {safe_line(listing.error)}]", style="bold")
        return Text(f"    [{safe_line(listing.note or 'no folders')}]", style="italic")
    name = safe_line(entry.display)
    shown = "" if entry.name not in counts else counts_text(counts[entry.name])
    found = counts.get(entry.name)
    style = "bold" if found is not None and found.unseen else ""
    return Text.assemble(f"  {name:<{NAME_WIDTH}} ", (shown, style))


def layout(
    sections: list[Section], counts: dict[str, FolderCounts | None]
) -> tuple[list[Option | None], list[Row | None]]:
    """The list's options (None: a divider) and, per option, the row it stands for (None
    for a heading)."""
    options: list[Option | None] = []
    rows: list[Row | None] = []
    for number, section in enumerate(sections):
        if number:
            options.append(None)  # a divider under the option before: no row of its own
        options.append(Option(heading(number + 1, section), disabled=True))
        rows.append(None)
        listing = section.listing
        entries = listing.entries if listing else ()
        placeholder = listing is None or bool(listing.error) or not entries
        section_rows = [Row(number, e) for e in entries]
        section_rows += [Row(number, None)] if placeholder else []
        for row in section_rows:
            options.append(Option(row_text(row, sections, counts)))
            rows.append(row)
    return options, rows
