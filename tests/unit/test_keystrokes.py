"""Reading Pine's keystroke lists (-I, initial-keystroke-list)."""

from __future__ import annotations

import pytest

from pinesh.config.keystrokes import (
    MAX_KEYSTROKES,
    Keystroke,
    KeystrokeError,
    parse_keystrokes,
    split_keystrokes,
)
from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc


def _keys(text: str) -> list[str]:
    return [str(k) for k in parse_keystrokes(split_keystrokes(text))]


def test_alpines_example_reads_as_six_keys() -> None:
    assert _keys("i,j,1,3,CR,v") == ["'i'", "'j'", "'1'", "'3'", "enter", "'v'"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("^x,^C", ["ctrl+x", "ctrl+c"]),
        (
            "space, tab ,Up,DOWN,left,RIGHT,lf",
            ["space", "tab", "up", "down", "left", "right", "enter"],
        ),
        ("F1,f12", ["f1", "f12"]),
        ('"ab,c",d', ["'a'", "'b'", "','", "'c'", "'d'"]),  # a quoted comma is typed
        ("^,<", ["'^'", "'<'"]),  # ^ alone is a character
        (" ", ["' '"]),
    ],
)
def test_named_keys_controls_and_strings(text: str, expected: list[str]) -> None:
    assert _keys(text) == expected


@pytest.mark.parametrize("text", ["ENTERR", "i,,v", "^1", "F13", "a\x1bb", '"\x07"'])
def test_an_item_that_names_no_key_is_refused_naming_it(text: str) -> None:
    with pytest.raises(KeystrokeError) as caught:
        parse_keystrokes(split_keystrokes(text))
    assert "initial keystroke" in caught.value.message and caught.value.hint


def test_a_list_too_long_is_refused() -> None:
    with pytest.raises(KeystrokeError):
        parse_keystrokes(["x"] * (MAX_KEYSTROKES + 1))


def test_the_pinercs_list_is_read_and_a_wrong_one_is_a_problem_naming_its_line() -> None:
    rc = parse_pinerc('initial-keystroke-list=i,"ab"\n', "/rc")
    assert pine_settings(rc).initial_keystrokes == (
        Keystroke("i"), Keystroke("a"), Keystroke("b"),
    )  # fmt: skip
    rc = parse_pinerc("personal-name=X\ninitial-keystroke-list=i,BOGUS\n", "/rc")
    assert pine_settings(rc).initial_keystrokes == ()
    (problem,) = rc.problems
    assert problem.line == 2 and "'BOGUS' names no key" in str(problem)
