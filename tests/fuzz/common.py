"""What every fuzz target shares: how an input is cut into arguments, and how a broken
invariant is told apart from a crash.

A target is ``TestOneInput(data: bytes) -> None``. It calls the parsers of its family
and lets only the errors they document pass; any other exception is a crash. A broken
invariant raises InvariantBroken. The first byte of an input picks which parser of the
family it goes to (so a seed is that byte followed by a literal transcript).
"""

from __future__ import annotations

import unicodedata

SEP = b"\x00\xff"  # cuts an input into several arguments (messages, lines, fields)


class InvariantBroken(AssertionError):  # noqa: N818 - the finding's name as reports show it
    """A parser returned something its contract rules out."""


def check(condition: bool, what: str) -> None:
    """Raise InvariantBroken(what) unless condition holds."""
    if not condition:
        raise InvariantBroken(what)


def pick(data: bytes, choices: int) -> tuple[int, bytes]:
    """(which of choices parsers the first byte picks, the rest of the input)."""
    if not data:
        return 0, b""
    return data[0] % choices, data[1:]


def text_of(data: bytes) -> str:
    """Bytes as text that reaches every code point: UTF-8 where it is valid, the rest
    as surrogate escapes (lone surrogates are text too for a sanitizer)."""
    return data.decode("utf-8", "surrogateescape")


def wide_text(data: bytes) -> str:
    """Every three bytes as one code point anywhere in Unicode (planes 0 to 16)."""
    usable = len(data) - len(data) % 3
    return "".join(
        chr(int.from_bytes(data[i : i + 3], "big") % 0x110000) for i in range(0, usable, 3)
    )


# What a terminal must never receive from a sanitizer: C0 and C1 controls, DEL, the line
# and paragraph separators, and the format characters (bidi overrides among them).
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
ZWJ = "\u200d"  # a format character textsafe keeps: emoji sequences need it
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def unsafe_chars(text: str, allowed: str = "") -> list[str]:
    """The characters of text that a terminal must not be sent (allowed ones excepted)."""
    return [
        ch
        for ch in text
        if ch not in allowed
        and ch != ZWJ
        and (unicodedata.category(ch) in _FORBIDDEN_CATEGORIES or ch in BIDI_CONTROLS)
    ]


def check_safe(text: str, what: str, allowed: str = "") -> None:
    """InvariantBroken when text holds a character a terminal must not be sent."""
    bad = unsafe_chars(text, allowed)
    check(not bad, f"{what} holds unsafe characters {[f'U+{ord(c):04X}' for c in bad[:5]]}")
