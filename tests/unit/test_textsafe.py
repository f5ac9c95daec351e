"""The terminal sanitizer: whatever a message holds, what it draws breaks no line and
moves no cursor."""

from __future__ import annotations

import pytest

from pinesh.textsafe import safe_line, safe_text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\u2028b", "a\\u2028b"),  # LINE SEPARATOR (Zl)
        ("a\u2029b", "a\\u2029b"),  # PARAGRAPH SEPARATOR (Zp)
        ("a\x85b", "a\\x85b"),  # NEXT LINE (NEL)
        ("a\x0bb", "a\\x0bb"),  # VERTICAL TAB
        ("a\x0cb", "a\\x0cb"),  # FORM FEED
        ("a\x1cb\x1dc\x1ed", "a\\x1cb\\x1dc\\x1ed"),  # FILE, GROUP, RECORD SEPARATOR
    ],
)
def test_a_one_line_field_never_breaks_at_a_line_or_paragraph_separator(
    text: str, shown: str
) -> None:
    line = safe_line(text)
    assert line == shown
    assert line.splitlines() == [line]


def test_bodies_escape_the_separators_and_keep_their_newlines() -> None:
    assert safe_text("one\u2028two\u2029three\nfour") == "one\\u2028two\\u2029three\nfour"
