"""UID lists for the header cache: runs of consecutive UIDs, JSON arrays, stored ranges.

A mailbox of a million messages usually holds a few thousand runs of consecutive UIDs
(expunges make the gaps): set_uids works on runs, so an unchanged mailbox costs a few
range queries instead of a million row lookups.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Iterable
from itertools import islice

MAX_UID = 2**63 - 1  # SQLite's largest integer; no UID is larger


def _check_ints(values: list[int]) -> None:
    # map(type) and set() run in C: a tenth of the cost of a generator over a million.
    if not set(map(type, values)) <= {int}:
        raise TypeError("UIDs must be ints")


def ascending(values: Iterable[int]) -> list[int]:
    """values as a strictly ascending list of ints (sorted and deduplicated if need be).
    Raises TypeError for anything but ints."""
    listed = values if isinstance(values, list) else list(values)
    _check_ints(listed)
    # map and all run in C: a million UIDs already in order (as servers send them) cost
    # about 30 ms to check.
    if all(map(operator.lt, listed, islice(listed, 1, None))):
        return listed
    return sorted(set(listed))


def json_ints(values: Iterable[int]) -> str:
    """values as a JSON array (for SQLite's json_each); TypeError for anything but ints."""
    listed = values if isinstance(values, list) else list(values)
    _check_ints(listed)
    return json.dumps(listed)


def runs_of(uids: list[int], limit: int) -> list[tuple[int, int]] | None:
    """The runs (first, last) of consecutive UIDs in a strictly ascending list, in order;
    None when there are more than limit of them.

    A slice [i, j] is one run exactly when uids[j] - uids[i] == j - i, so only slices that
    are not get split: the cost grows with the number of runs, not of UIDs.
    """
    runs: list[tuple[int, int]] = []
    stack = [(0, len(uids) - 1)] if uids else []
    while stack:
        low, high = stack.pop()
        if uids[high] - uids[low] == high - low:
            if runs and runs[-1][1] + 1 == uids[low]:
                runs[-1] = (runs[-1][0], uids[high])
            else:
                runs.append((uids[low], uids[high]))
                if len(runs) > limit:
                    return None
            continue
        middle = (low + high) // 2
        stack.append((middle + 1, high))  # popped after the left half: runs stay in order
        stack.append((low, middle))
    return runs


def gaps_of(runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ranges (first, last) of UIDs in none of the runs, from 0 to MAX_UID."""
    gaps = []
    start = 0
    for first, last in runs:
        if first > start:
            gaps.append((start, first - 1))
        start = last + 1
    if start <= MAX_UID:
        gaps.append((start, MAX_UID))
    return gaps


def encode_uid_set(uids: Iterable[int]) -> str:
    """uids as IMAP-style ranges "1:5,9" (compact for "mark all read" of a million)."""
    runs = runs_of(ascending(uids), limit=MAX_UID) or []
    return ",".join(str(first) if first == last else f"{first}:{last}" for first, last in runs)


def decode_uid_set(text: str) -> tuple[int, ...] | None:
    """The UIDs encode_uid_set wrote as text; None when text is anything else."""
    if not text:
        return ()
    uids: list[int] = []
    try:
        for item in text.split(","):
            low, _, high = item.partition(":")
            first, last = int(low), int(high or low)
            if not 0 < first <= last or last - first > 2**32:
                return None
            uids.extend(range(first, last + 1))
    except ValueError:
        return None
    return tuple(uids)
