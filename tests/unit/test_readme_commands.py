"""Every pinesh command line the README and docs/ui.md show is one pinesh accepts as
written (placeholders filled in, optional parts left out and put in), and the worked
example files load without a problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pinesh.cli.main import _parser, _plain_client
from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import load_pinerc
from pinesh.config.pinesh_toml import load_settings

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", ROOT / "docs" / "ui.md"]
# What a reader puts in place of each placeholder.
PLACEHOLDERS = {
    "SERVER": "mailhost",
    "HOST": "mailhost",
    "USER": "jane",
    "METHOD": "imap",
    "SERVICE": "smtp",
    "FOLDER": "INBOX",
    "N": "3",
    "ADDR": "bob@example.org",
    "S": "Hello",
    "G": "comp.lang.python",
    "FILE": "notes.txt",
    "PINERC": "rc",
    "COLLECTION": "Mail",
    "KEY": "date",
    "A-B": "1-20",
    "PATH": "/home/jane/fwd/s",
    "PORT": "2025",
    "KEYS": "i,j,1,3,CR,v",
}


def _shown_commands() -> list[str]:
    commands = []
    for document in DOCUMENTS:
        for span in re.findall(r"`([^`\n]+)`", document.read_text()):
            found = re.search(r"\bpinesh(?: [^\"]*)?", span)  # also inside set tunnel="..."
            if found and not span.startswith(("pinesh/", "~")) and "-connect" not in span:
                commands.append(found[0].strip())
    return sorted(set(commands))


def _forms(synopsis: str) -> list[list[str]]:
    """The command with its [optional] parts left out, and with them put in (the first
    of A|B alternatives), placeholders filled in."""
    shortest = synopsis
    while re.search(r"\[[^\[\]]*\]", shortest):
        shortest = re.sub(r"\[[^\[\]]*\]", "", shortest)
    longest = synopsis.replace("[", "").replace("]", "")
    forms = []
    for text in (shortest, longest):
        words = [word.split("|")[0] for word in text.split()[1:]]
        forms.append([PLACEHOLDERS.get(word, word) for word in words])
    return forms


# Named in prose, not a command line to run: `pinesh connect` needs its SERVER.
NAMES_ONLY = {"pinesh connect"}
COMMANDS = [command for command in _shown_commands() if command not in NAMES_ONLY]


def test_the_documents_show_the_commands_this_test_reads() -> None:
    for expected in (
        "pinesh -i",
        "pinesh connect SERVER USER METHOD",
        "pinesh doctor",
        "pinesh index INBOX --json",
        "pinesh connect HOST USER imap",
    ):
        assert expected in COMMANDS


@pytest.mark.parametrize("synopsis", COMMANDS)
def test_a_command_line_shown_is_accepted_as_written(
    synopsis: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for words in _forms(synopsis):
        if _plain_client(words) is not None:
            continue  # the terminal client's own reading accepted it
        try:
            _parser().parse_args(words)
        except SystemExit as exc:
            if exc.code != 0:  # argparse refused it (-h exits 0, having printed the help)
                pytest.fail(f"{synopsis!r} as {words}: argparse exits {exc.code}")


def test_the_worked_examples_load_without_a_problem() -> None:
    rc = load_pinerc(ROOT / "examples" / "pinerc")
    pine_settings(rc)
    assert rc.problems == []
    settings = load_settings(str(ROOT / "examples" / "config.toml"))
    assert settings.rules
