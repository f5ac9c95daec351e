"""Make text from messages and servers safe to draw on a terminal.

Everything shown (subjects, names, bodies, server replies) passes through here: escape
sequences and other control characters would otherwise let a message rewrite the screen,
set the window title, or worse.
"""

from __future__ import annotations

import unicodedata

_KEEP = {"\n", "\t"}
# Controls, format characters (bidi overrides), surrogates, private use, unassigned, and
# the line and paragraph separators U+2028/U+2029 (Zl, Zp): str.splitlines (and what
# splits text with it) breaks a line there, so one would split a one-line field in two.
# The other line breaks of splitlines (VT, FF, FS, GS, RS, NEL) are all Cc already.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def safe_text(text: str, *, keep_newlines: bool = True) -> str:
    """text with control and format characters replaced by visible escapes.

    C0/C1 controls (ESC, BEL, CSI, VT, FF, NEL...), DEL, bidi overrides and the line and
    paragraph separators U+2028/U+2029 become ``\\xNN`` or ``\\uNNNN``; newlines and tabs
    are kept (newlines only when keep_newlines).
    """
    out = []
    for ch in text:
        if ch in _KEEP and (keep_newlines or ch == "\t"):
            out.append(ch)
        elif ch == "\r":
            continue
        elif unicodedata.category(ch) in _ESCAPED_CATEGORIES and ch != "\u200d":
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def safe_line(text: str) -> str:
    """One line for a list or a status bar: controls escaped, line breaks and tabs as spaces
    (a tab drawn in a fixed-width cell would leave the previous screen's text behind)."""
    flat = text.replace("\r\n", " ").replace("\n", " ").replace("\t", " ")
    return safe_text(flat, keep_newlines=False)
