"""The charset policy: text encodings decode, every other codec name reads as UTF-8 and is
never run; what the user is told; charset names rewritten before the stdlib sees them."""

from __future__ import annotations

import codecs

import pytest

from pinesh.stores.charsets import (
    ACCEPTED,
    charset_note,
    codec_for,
    decode,
    names_refused_codec,
    with_accepted_charsets,
)

# Hostile content: six ASCII characters that raw-unicode-escape and unicode-escape make
# an ESC, the UTF-7 spelling of ESC, and 8-bit bytes.
ESCAPED_ESC = b"\\u001b[2J\\x1b[31m +ABs- caf\xc3\xa9"
REFUSED = [
    "punycode",
    "PUNYCODE",
    "idna",
    "raw-unicode-escape",
    "raw_unicode_escape",
    "unicode-escape",
    "unicode_escape",
    "utf-7",
    "UTF7",
    "undefined",
    "charmap",
    "hex",
    "base64",
    "zlib",
    "bz2",
    "rot13",
    "rot_13",
    "quopri",
    "uu",
    "mbcs",
    "oem",
    "aliases",
    "utf\x00-8",
    "../../etc/passwd",
    "utf 8",
    "u" * 100,
    "x-bogus",
]
ACCEPTED_NAMES = {
    "utf-8": "utf-8",
    "UTF8": "utf-8",
    '"utf-8"': "utf-8",
    "utf-8*en": "utf-8",
    "us-ascii": "utf-8",
    "unknown-8bit": "utf-8",
    "latin1": "iso8859-1",
    "ISO-8859-15": "iso8859-15",
    "windows-1252": "cp1252",
    "koi8-r": "koi8-r",
    "shift_jis": "shift_jis",
    "ISO-2022-JP": "iso2022_jp",
    "gb18030": "gb18030",
    "big5": "big5",
    "euc-kr": "euc_kr",
    "utf-16le": "utf-16-le",
    "ISO-8859-8-I": "iso8859-8",
    "windows-874": "cp874",
    "x-mac-cyrillic": "mac-cyrillic",
    "windows-31j": "cp932",
}


@pytest.mark.parametrize("name", REFUSED)
def test_a_codec_that_is_no_text_encoding_is_refused_and_reads_as_utf8(name: str) -> None:
    assert codec_for(name) is None
    text = decode(ESCAPED_ESC, name)
    assert text == ESCAPED_ESC.decode("utf-8", "replace")
    assert "\x1b" not in text
    assert charset_note(name) is not None


@pytest.mark.parametrize(("name", "codec"), ACCEPTED_NAMES.items())
def test_a_text_encoding_is_accepted_by_any_of_its_names(name: str, codec: str) -> None:
    assert codec_for(name) == codec
    assert charset_note(name) is None


def test_every_accepted_codec_exists_and_is_a_text_encoding() -> None:
    for name in ACCEPTED:
        info = codecs.lookup(name)
        assert info.name == name and info._is_text_encoding
        assert isinstance(b"ab\xff\x00".decode(name, "replace"), str)


def test_punycode_is_never_run(punycode_runs: list[int]) -> None:
    body = b"a" * 200_000 + b"-" + b"z" * 10
    assert decode(body, "punycode") == body.decode()
    assert punycode_runs == []


def test_the_note_names_the_charset_made_inert() -> None:
    assert charset_note("punycode") == "charset 'punycode' not accepted; shown as UTF-8"
    note = charset_note("x\x1b[31m" + "y" * 200)
    assert note is not None and "\x1b" not in note and len(note) < 120
    assert charset_note(None) is None and charset_note("") is None


def test_refused_codecs_are_renamed_where_email_would_run_them() -> None:
    raw = (
        b"Subject: =?punycode?q?abc?= =?utf-8?q?ok?= =?utf-7*en?q?x?=\r\n"
        b'Content-Type: text/plain; charset="raw-unicode-escape"\r\n'
        b"Content-Disposition: attachment; filename*=unicode-escape''%5Cu001b\r\n"
        b"X-Other: charset=x-bogus; name*=iso-8859-1''caf%E9\r\n\r\n"
        b"charset=utf-8\r\n"
    )
    assert names_refused_codec(raw)
    assert with_accepted_charsets(raw) == (
        b"Subject: =?utf-8?q?abc?= =?utf-8?q?ok?= =?utf-8*en?q?x?=\r\n"
        b'Content-Type: text/plain; charset="utf-8"\r\n'
        b"Content-Disposition: attachment; filename*=utf-8''%5Cu001b\r\n"
        b"X-Other: charset=x-bogus; name*=iso-8859-1''caf%E9\r\n\r\n"
        b"charset=utf-8\r\n"
    )
    clean = b"Subject: =?iso-8859-1?q?caf=E9?=\r\nContent-Type: text/plain; charset=x-bogus\r\n"
    assert not names_refused_codec(clean) and with_accepted_charsets(clean) == clean


def test_renaming_scans_once_whatever_the_input() -> None:
    # Runs of what starts a name with no end: each start is looked at once.
    for unit in (b"=?", b"*=", b"charset=", b"=?a*", b"*='"):
        raw = unit * 50_000
        assert with_accepted_charsets(raw) == raw
