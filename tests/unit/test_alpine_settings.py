"""Every Alpine variable and feature has one standing in pinesh, docs/config.md shows
them all, a standing of 'honoured' is backed by code that reads the setting, and what a
user set and pinesh does not honour is listed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from pinesh.config import alpine_standings
from pinesh.config.alpine_settings import Support, markdown_tables, unhonoured
from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import Pinerc, PinercValue, parse_pinerc

ROOT = Path(__file__).resolve().parents[2]
FEATURES = ROOT / "tests" / "corpus" / "alpine" / "features-2.26.txt"


def _alpine_variables() -> list[str]:
    alpine = shutil.which("alpine")
    assert alpine, "alpine is not installed: scripts/test.sh installs it (apt alpine)"
    conf = subprocess.run(
        [alpine, "-conf"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    return re.findall(r"^([a-z][a-z0-9-]*)=", conf, re.MULTILINE)


def test_every_variable_alpine_prints_has_a_standing() -> None:
    variables = _alpine_variables()
    assert len(variables) > 200  # the whole of `alpine -conf`, not a part of it
    missing = [name for name in variables if name not in alpine_standings.VARIABLES]
    assert missing == [], f"classify these in config/alpine_standings.py: {missing}"
    assert set(alpine_standings.VARIABLES) == set(variables)


def test_every_feature_of_alpine_has_a_standing() -> None:
    features = FEATURES.read_text().split()
    assert len(features) == 232
    assert list(alpine_standings.FEATURES) == features


def test_each_standing_is_one_of_the_three_with_a_note() -> None:
    for table in (alpine_standings.VARIABLES, alpine_standings.FEATURES):
        for name, (support, note) in table.items():
            assert Support(support), name
            assert note.strip() and len(note) < 80 and not note.endswith("."), name


class _Reading(dict[str, PinercValue]):
    """rc.values that remembers every variable asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return super().__contains__(key)


def test_a_variable_said_to_be_honoured_is_read() -> None:
    values = _Reading()
    # The remote shells' command and timeout are read only for a method with a path.
    for name in ("rsh-path", "ssh-path"):
        values[name] = PinercValue(name, "/usr/bin/ssh", 1)
    pine_settings(Pinerc("/rc", values=values))
    honoured = {n for n, (s, _) in alpine_standings.VARIABLES.items() if s == "honoured"}
    assert honoured - values.asked == set()


def test_a_feature_said_to_be_honoured_is_looked_at_by_the_code() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "src" / "pinesh").rglob("*.py"))
    looked_at = set(re.findall(r'feature\(\s*"([a-z0-9-]+)"', source))
    honoured = {n for n, (s, _) in alpine_standings.FEATURES.items() if s == "honoured"}
    assert honoured == looked_at


def test_docs_config_shows_every_standing() -> None:
    docs = (ROOT / "docs" / "config.md").read_text()
    assert markdown_tables() in docs, "run: python -m pinesh.config.alpine_settings"


def test_what_is_set_and_not_honoured_is_listed_in_file_order() -> None:
    rc = parse_pinerc(
        "personal-name=Jane\n"
        "color-style=force-xterm-256color\n"
        "printer=\n"  # set to nothing: Alpine's default, not listed
        "feature-list=quit-without-confirm, enable-mouse-in-xterm, no-expunge-only-manually\n"
        "made-up-variable=1\n",
        "/rc",
    )
    listed = unhonoured(rc)
    assert listed[0].startswith("color-style: not applicable (")
    assert listed[1].startswith("feature enable-mouse-in-xterm: ")
    assert listed[2] == "made-up-variable: not an Alpine variable pinesh knows (line 5)"
    assert len(listed) == 3  # personal-name and quit-without-confirm are honoured
