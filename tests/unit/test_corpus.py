"""A corpus of real and broken messages parses without an exception, and renders inert.

Real: CPython's email test data (Lib/test/test_email/data; on Debian from the
libpython3.11-testsuite package). Hostile: tests/corpus/hostile, written for pinesh.
"""

from __future__ import annotations

import glob
import sysconfig
from pathlib import Path

import pytest

from pinesh.stores.base import Envelope
from pinesh.stores.headers import envelope_from_headers, header_end
from pinesh.textsafe import safe_line, safe_text

HOSTILE = sorted((Path(__file__).parent.parent / "corpus" / "hostile").glob("*.eml"))


def _cpython_data() -> list[Path]:
    places = [Path(sysconfig.get_path("stdlib")) / "test" / "test_email" / "data"]
    places += [Path(p) for p in glob.glob("/usr/lib/python3*/test/test_email/data")]
    for place in places:
        found = sorted(place.glob("msg_*.txt"))
        if found:
            return found
    return []


REAL = _cpython_data()


def test_the_corpora_are_there() -> None:
    # Fail, don't skip: without the corpus the tests below would prove nothing.
    assert len(REAL) > 40, "CPython's email test data is missing: install libpython3.11-testsuite"
    assert len(HOSTILE) >= 15


def _no_controls(text: str) -> None:
    assert not any(ord(c) < 0x20 and c not in "\n\t" for c in text), repr(text[:200])
    assert "\x7f" not in text and "\x9b" not in text
    assert "\u202e" not in text


def _envelope(path: Path) -> Envelope:
    data = path.read_bytes()
    return envelope_from_headers(1, data[: header_end(data)], len(data), frozenset())


@pytest.mark.parametrize("path", REAL + HOSTILE, ids=lambda p: p.name)
def test_envelope_parses_and_displays_inert(path: Path) -> None:
    envelope = _envelope(path)
    shown = [safe_line(envelope.subject), *(safe_line(a.display()) for a in envelope.sender)]
    for text in shown:
        _no_controls(text)
        assert "\n" not in text


def test_escape_sequences_are_shown_not_run() -> None:
    envelope = _envelope(next(p for p in HOSTILE if p.name == "escape-sequences.eml"))
    subject = safe_line(envelope.subject)
    assert "\x1b" in envelope.subject  # the decoded value is faithful...
    assert "\x1b" not in subject and "\\x1b[2J" in subject  # ...what is drawn is inert
    assert "URGENT" in subject
    # The address parser splits this From oddly (']' and ';' are specials); whatever
    # part it keeps, the escape is drawn as text.
    name = safe_line(envelope.sender[0].display())
    assert "\x1b" not in name and "\\x1b" in name


def test_encoded_escape_sequences_are_inert_too() -> None:
    envelope = _envelope(next(p for p in HOSTILE if p.name == "encoded-escape.eml"))
    assert "\x1b" in envelope.subject
    assert safe_line(envelope.subject).startswith("\\x1b[2J")


def test_bidi_override_is_made_visible() -> None:
    envelope = _envelope(next(p for p in HOSTILE if p.name == "bidi-override.eml"))
    assert "\\u202e" in safe_line(envelope.subject)


def test_bad_charset_decodes_with_replacement() -> None:
    envelope = _envelope(next(p for p in HOSTILE if p.name == "bad-charset.eml"))
    assert envelope.subject.startswith("caf")


def test_bad_date_is_none_not_an_error() -> None:
    assert _envelope(next(p for p in HOSTILE if p.name == "bad-date.eml")).date is None


def test_safe_text_keeps_newlines_and_tabs() -> None:
    assert safe_text("a\tb\nc\x1b[0m\r\n") == "a\tb\nc\\x1b[0m\n"
