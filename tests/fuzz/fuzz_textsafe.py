"""Family 8: the terminal sanitizer (pinesh/textsafe.py) and the sanitized views of server
text built on it (nntp.shown, an SMTP reply's lines, greeting.printable).

Nothing here may raise. Invariants (what textsafe's docstring claims): safe_text() output
holds no C0 control but LF and tab, no DEL, no C1 control, no U+2028/U+2029, no bidi
control or other format character (ZWJ is kept, for emoji), no surrogate, private-use or
unassigned character; with keep_newlines=False no LF either; safe_line() output holds no
LF or tab; both are idempotent (an escape is plain ASCII).
"""

from __future__ import annotations

from pinesh.textsafe import safe_line, safe_text
from tests.fuzz.common import check, check_safe, pick, text_of, wide_text

MAX_LEN = 256  # the sanitizer works a character at a time: longer inputs add nothing

SEEDS = [
    b"\x00Subject: \x1b]0;owned\x07\x1b[2J\x9b31m\x7f\r\n\xe2\x80\xae\xe2\x81\xa6\xe2\x80\xa8",
    b"\x00\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9 \xef\xbb\xbf \xc2\x85 \x0b\x0c\x1c\x1d\x1e",
    b"\x01\x00\x20\x28\x00\x20\x2e\x00\x00\x1b\x00\x00\x9b\x10\xff\xff\x0e\x00\x01",
    b"\x02\xed\xa0\x80\xed\xbf\xbf\xff\xfe",
]


def TestOneInput(data: bytes) -> None:  # noqa: N802 - the name fuzzing engines call
    which, rest = pick(data, 3)
    text = wide_text(rest) if which == 1 else text_of(rest)
    kept = safe_text(text)
    check_safe(kept, "safe_text()", allowed="\n\t")
    flat = safe_text(text, keep_newlines=False)
    check_safe(flat, "safe_text(keep_newlines=False)", allowed="\t")
    check("\n" not in flat, "safe_text(keep_newlines=False) kept a line feed")
    line = safe_line(text)
    check_safe(line, "safe_line()")
    check(safe_text(kept) == kept and safe_line(line) == line, "sanitizing twice changes text")
