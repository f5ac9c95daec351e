"""Pine's index-format: the columns of the MESSAGE INDEX, as a pinerc writes them.

``index-format=STATUS MSGNO DATE FROMORTO(33%) SIZE SUBJKEY(67%)``: tokens separated by
spaces, each maybe with a width, ``(N)`` terminal cells or ``(N%)`` of what the fixed
columns leave. The tokens pinesh draws are TOKENS; another is reported and left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pinesh.errors import PineshError

# The tokens pinesh draws: the ones Pine users use most (Alpine's own default is
# "STATUS MSGNO SMARTDATE FROMORTO SIZE SUBJKEY"). SUBJKEY and SUBJECT are the same here:
# pinesh shows no keywords. SMARTDATE and DATE are pinesh's one date column.
TOKENS = (
    "STATUS",
    "FULLSTATUS",
    "MSGNO",
    "DATE",
    "SMARTDATE",
    "FROMORTO",
    "FROM",
    "TO",
    "SIZE",
    "SUBJECT",
    "SUBJKEY",
)
FLEXIBLE = frozenset({"FROMORTO", "FROM", "TO", "SUBJECT", "SUBJKEY"})  # share what is left
_ITEM = re.compile(r"(?P<token>[A-Za-z0-9]+)(?:\((?P<width>\d{1,4})(?P<percent>%?)\))?")


@dataclass(frozen=True)
class IndexColumn:
    """One column: its token's name, and its width in cells or in percent (None:
    pinesh's)."""

    name: str
    cells: int | None = None
    percent: int | None = None


class IndexFormatError(PineshError):
    """An index-format that cannot be read at all."""


def parse_index_format(text: str) -> tuple[tuple[IndexColumn, ...], list[str]]:
    """The columns of an index-format, and what was left out (unknown tokens), or
    IndexFormatError when an item is not TOKEN, TOKEN(N) or TOKEN(N%) or none is left."""
    columns: list[IndexColumn] = []
    left_out: list[str] = []
    for item in text.split():
        found = _ITEM.fullmatch(item)
        if found is None:
            raise IndexFormatError(
                f"index-format item {item!r} is not TOKEN, TOKEN(N) or TOKEN(N%)",
                hint="e.g. index-format=STATUS MSGNO DATE FROMORTO(33%) SIZE SUBJKEY(67%)",
            )
        token = found["token"].upper()
        if token not in TOKENS:
            left_out.append(token)
            continue
        width = int(found["width"]) if found["width"] else None
        if width is not None and found["percent"]:
            if not 1 <= width <= 100:
                raise IndexFormatError(f"index-format item {item!r}: a percent is 1 to 100")
            columns.append(IndexColumn(token, percent=width))
        else:
            columns.append(IndexColumn(token, cells=width))
    if not columns:
        raise IndexFormatError(
            f"index-format {text.strip()!r} names no column pinesh draws",
            hint="pinesh draws " + ", ".join(TOKENS),
        )
    return tuple(columns), left_out
