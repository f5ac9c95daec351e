"""Every variable and feature of Alpine 2.26's configuration, with what pinesh does with
it: honoured, not applicable (and why), or not yet. Nothing a user sets is silently
ignored: what is set and not honoured is listed on SETUP and by `pinesh doctor`.

The standings themselves are data, in config/alpine_standings.py; docs/config.md shows
them as a table (``python -m pinesh.config.alpine_settings`` prints it).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pinesh.config.alpine_standings import FEATURES, VARIABLES
from pinesh.config.pinerc import Pinerc, unquote


class Support(enum.Enum):
    """What pinesh does with a setting."""

    HONOURED = "honoured"
    NOT_APPLICABLE = "not applicable"
    NOT_YET = "not yet"


@dataclass(frozen=True)
class Standing:
    """A setting's support in pinesh, and a few words on how or why."""

    support: Support
    note: str


def variable_standing(name: str) -> Standing | None:
    """What pinesh does with pinerc variable name; None: not an Alpine 2.26 variable."""
    found = VARIABLES.get(name)
    return None if found is None else Standing(Support(found[0]), found[1])


def feature_standing(name: str) -> Standing | None:
    """What pinesh does with feature name (without ``no-``); None: not Alpine 2.26's."""
    found = FEATURES.get(name)
    return None if found is None else Standing(Support(found[0]), found[1])


def unhonoured(rc: Pinerc) -> list[str]:
    """Each variable given a value and each feature turned on in rc that pinesh does not
    honour, with its standing: 'sort-key: not yet (the index order)', in file order."""
    found: list[str] = []
    for value in sorted(rc.values.values(), key=lambda v: v.line):
        if not unquote(value.raw.strip()):
            continue  # set to nothing: Alpine's default, nothing to honour
        if value.name == "feature-list":
            found.extend(_unhonoured_features(rc.get_list("feature-list")))
            continue
        standing = variable_standing(value.name)
        if standing is None:
            found.append(f"{value.name}: not an Alpine variable pinesh knows (line {value.line})")
        elif standing.support is not Support.HONOURED:
            found.append(f"{value.name}: {standing.support.value} ({standing.note})")
    return found


def _unhonoured_features(items: list[str]) -> list[str]:
    found = []
    for item in items:
        name = item.strip().lower()
        if not name or name.startswith("no-"):
            continue  # turned off: nothing for pinesh to do
        standing = feature_standing(name)
        if standing is None:
            found.append(f"feature {name}: not an Alpine feature pinesh knows")
        elif standing.support is not Support.HONOURED:
            found.append(f"feature {name}: {standing.support.value} ({standing.note})")
    return found


def markdown_tables() -> str:
    """docs/config.md's count of each standing, then its two tables: every variable, then
    every feature."""
    lines = [f"Variables: {_counts(VARIABLES)}. Features: {_counts(FEATURES)}.", ""]
    lines += ["| variable | in pinesh | how, or why not |", "|---|---|---|"]
    lines += [f"| `{name}` | {support} | {note} |" for name, (support, note) in VARIABLES.items()]
    lines += ["", "| feature | in pinesh | how, or why not |", "|---|---|---|"]
    lines += [f"| `{name}` | {support} | {note} |" for name, (support, note) in FEATURES.items()]
    return "\n".join(lines) + "\n"


def _counts(table: dict[str, tuple[str, str]]) -> str:
    supports = [support for support, _ in table.values()]
    return ", ".join(f"{supports.count(s.value)} {s.value}" for s in Support)


if __name__ == "__main__":
    print(markdown_tables(), end="")
