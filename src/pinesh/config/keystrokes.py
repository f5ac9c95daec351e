"""Pine's initial keystrokes, as Alpine's ``-I`` and the pinerc's ``initial-keystroke-list``
write them: a comma-separated list such as ``i,j,1,3,CR,v`` (view message 13).

Each item is one character, ``^X`` (a control key), one of the names SPACE, TAB, CR, LF,
UP, DOWN, LEFT, RIGHT, or F1 to F12 (any case), or a double-quoted string, typed one
character after another.
"""

from __future__ import annotations

from dataclasses import dataclass

from pinesh.errors import PineshError

NAMED_KEYS = {
    "space": "space",
    "tab": "tab",
    "cr": "enter",
    "lf": "enter",  # Pine reads Return as either
    "up": "up",
    "down": "down",
    "left": "left",
    "right": "right",
    **{f"f{n}": f"f{n}" for n in range(1, 13)},
}
MAX_KEYSTROKES = 200  # more is a mistake (a pasted message?), not a start-up


@dataclass(frozen=True)
class Keystroke:
    """One key to press: a character typed, or a named key ("enter", "ctrl+x", "f1")."""

    character: str | None  # the character typed; None for a named key
    name: str | None = None  # the key's name when it types no character

    def __str__(self) -> str:
        return self.name or repr(self.character)


class KeystrokeError(PineshError):
    """An item of a keystroke list that names no key."""


def parse_keystrokes(items: list[str]) -> tuple[Keystroke, ...]:
    """The keys of a keystroke list's items (already split at commas)."""
    keys: list[Keystroke] = []
    for raw in items:
        keys.extend(_item(raw))
    if len(keys) > MAX_KEYSTROKES:
        raise KeystrokeError(
            f"{len(keys)} initial keystrokes; at most {MAX_KEYSTROKES} are pressed",
            hint="shorten the list",
        )
    return tuple(keys)


def split_keystrokes(text: str) -> list[str]:
    """``-I``'s argument split at commas (a comma inside double quotes is typed)."""
    items, item, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            items.append(item)
            item = ""
        else:
            item += char
    items.append(item)
    return items


def _item(raw: str) -> list[Keystroke]:
    item = raw.strip() if raw.strip() else raw  # " " alone is a space typed
    if len(item) >= 2 and item[0] == item[-1] == '"':
        return [_character(char, raw) for char in item[1:-1]]
    if len(item) == 1:
        return [_character(item, raw)]
    if len(item) == 2 and item[0] == "^" and item[1].isascii() and item[1].isalpha():
        return [Keystroke(None, f"ctrl+{item[1].lower()}")]
    name = NAMED_KEYS.get(item.lower())
    if name is None:
        raise KeystrokeError(
            f"initial keystroke {item!r} names no key",
            hint='write one character, ^X, "a string", SPACE, TAB, CR, UP, DOWN, LEFT, '
            "RIGHT or F1-F12, separated by commas",
        )
    return [Keystroke(None, name)]


def _character(char: str, raw: str) -> Keystroke:
    if not char.isprintable():
        raise KeystrokeError(
            f"initial keystroke {raw!r} holds a control character",
            hint="write a control key as ^X",
        )
    return Keystroke(char)
