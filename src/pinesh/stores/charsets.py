"""The one charset policy: which charset names a message may use, and decoding with it.

A message names the codec its text is decoded with, and Python's codec registry holds more
than text encodings: ``punycode`` is quadratic (200 KB took 9 s), ``raw-unicode-escape``
and ``unicode-escape`` turn the six ASCII characters ``\\u001b`` into an ESC, ``utf-7``
hides any character (``<``, ESC) behind ASCII, ``idna`` and ``undefined`` raise, and
``hex``, ``zlib``, ``rot13`` are not text encodings at all. So only the charsets in
ACCEPTED are used, by the canonical name ``codecs.lookup`` gives: an allow-list, not a
deny-list, because any installed package may register codecs of its own and a deny-list
only stops the ones known when it was written. Anything else (unknown, refused, a name
with a NUL in it) decodes as UTF-8 with U+FFFD, and charset_note says so.
"""

from __future__ import annotations

import codecs
import functools
import re

from pinesh.textsafe import safe_line

FALLBACK = "utf-8"
MAX_NAME = 64  # longer is no charset name (the longest IANA name is 45)

# Every single-byte and East Asian multi-byte table codec of the standard library (C or
# charmap: linear, and a byte never becomes more than one character's worth), and the
# Unicode encodings. Not here: punycode, idna, utf-7, unicode-escape, raw-unicode-escape,
# undefined, charmap (no table), mbcs/oem (Windows' current code page) and the bytes and
# str transforms (base64, hex, quopri, uu, zlib, bz2, rot13).
ACCEPTED: frozenset[str] = frozenset(
    {
        "ascii",
        "big5",
        "big5hkscs",
        "cp037",
        "cp1006",
        "cp1026",
        "cp1125",
        "cp1140",
        "cp1250",
        "cp1251",
        "cp1252",
        "cp1253",
        "cp1254",
        "cp1255",
        "cp1256",
        "cp1257",
        "cp1258",
        "cp273",
        "cp424",
        "cp437",
        "cp500",
        "cp720",
        "cp737",
        "cp775",
        "cp850",
        "cp852",
        "cp855",
        "cp856",
        "cp857",
        "cp858",
        "cp860",
        "cp861",
        "cp862",
        "cp863",
        "cp864",
        "cp865",
        "cp866",
        "cp869",
        "cp874",
        "cp875",
        "cp932",
        "cp949",
        "cp950",
        "euc_jis_2004",
        "euc_jisx0213",
        "euc_jp",
        "euc_kr",
        "gb18030",
        "gb2312",
        "gbk",
        "hp-roman8",
        "hz",
        "iso2022_jp",
        "iso2022_jp_1",
        "iso2022_jp_2",
        "iso2022_jp_2004",
        "iso2022_jp_3",
        "iso2022_jp_ext",
        "iso2022_kr",
        "iso8859-1",
        "iso8859-2",
        "iso8859-3",
        "iso8859-4",
        "iso8859-5",
        "iso8859-6",
        "iso8859-7",
        "iso8859-8",
        "iso8859-9",
        "iso8859-10",
        "iso8859-11",
        "iso8859-13",
        "iso8859-14",
        "iso8859-15",
        "iso8859-16",
        "johab",
        "koi8-r",
        "koi8-t",
        "koi8-u",
        "kz1048",
        "mac-arabic",
        "mac-croatian",
        "mac-cyrillic",
        "mac-farsi",
        "mac-greek",
        "mac-iceland",
        "mac-latin2",
        "mac-roman",
        "mac-romanian",
        "mac-turkish",
        "palmos",
        "ptcp154",
        "shift_jis",
        "shift_jis_2004",
        "shift_jisx0213",
        "tis-620",
        "utf-16",
        "utf-16-be",
        "utf-16-le",
        "utf-32",
        "utf-32-be",
        "utf-32-le",
        "utf-8",
        "utf-8-sig",
    }
)
# Names that say "no charset" or "ASCII": mail labelled so with stray 8-bit bytes is most
# often UTF-8, and UTF-8 reads ASCII the same. Decoded as UTF-8 with no note.
_PLAIN = frozenset({"", "us-ascii", "ascii", "unknown-8bit", "x-unknown", "unknown"})
# Labels mail uses (the WHATWG Encoding Standard lists them) that Python does not know.
_ALIASES = {
    "iso-8859-6-e": "iso8859-6",
    "iso-8859-6-i": "iso8859-6",
    "iso-8859-8-e": "iso8859-8",
    "iso-8859-8-i": "iso8859-8",
    "windows-874": "cp874",
    "x-cp1250": "cp1250",
    "x-cp1251": "cp1251",
    "x-mac-cyrillic": "mac-cyrillic",
    "x-mac-roman": "mac-roman",
    "x-gbk": "gbk",
    "gb_2312-80": "gb2312",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "x-euc-jp": "euc_jp",
    "x-windows-949": "cp949",
    "unicode-1-1-utf-8": "utf-8",
    "x-unicode20utf8": "utf-8",
}
# RFC 2978 mime-charset characters, and ":" and "." that Python's aliases use.
_NAME = re.compile(r"[A-Za-z0-9!#$%&+^_`{}~.:-]+")


@functools.lru_cache(maxsize=256)
def codec_for(charset: str | None) -> str | None:
    """The Python codec that decodes charset; None when charset is not accepted.

    A missing, empty or ASCII charset is UTF-8. The name is checked before the codec
    registry sees it (no NUL, no path, at most MAX_NAME characters).
    """
    # "utf-8*en": an RFC 2231 language suffix in an encoded word
    name = (charset or "").strip().strip('"').partition("*")[0].lower()
    if name in _PLAIN:
        return FALLBACK
    if len(name) > MAX_NAME or not _NAME.fullmatch(name):
        return None
    try:
        canonical = codecs.lookup(_ALIASES.get(name, name)).name
    except (LookupError, ValueError):
        return None
    return canonical if canonical in ACCEPTED else None


def decode(data: bytes, charset: str | None) -> str:
    """data as text in charset, bad bytes as U+FFFD; a charset not accepted reads as UTF-8."""
    return data.decode(codec_for(charset) or FALLBACK, "replace")


def charset_note(charset: str | None) -> str | None:
    """What the user is told when charset was not used ("charset punycode not accepted;
    shown as UTF-8"), or None when it was."""
    if codec_for(charset) is not None:
        return None
    name = safe_line(charset or "")[:MAX_NAME]
    return f"charset '{name}' not accepted; shown as UTF-8"


# Where a message names a charset for its headers and parameters: an RFC 2047 encoded
# word (=?name?B?...?=, =?name*lang?...), an RFC 2231 value (name*=name'lang'...), a
# charset= parameter.
_NAMED = re.compile(
    rb"(?P<word>=\?)(?P<w>[^?*=\s]{0,200})(?=[?*])"
    rb"|(?P<ext>\*[ \t]*=[ \t]*\"?)(?P<e>[^'\"\s;=*]{0,200})(?=')"
    rb"|(?P<param>charset[ \t]*=[ \t]*\"?)(?P<p>[^\"\s;=]{1,200})",
    re.IGNORECASE,
)


def _named(match: re.Match[bytes]) -> tuple[bytes, bytes]:
    """(what leads to the charset name, the name) of a _NAMED match."""
    if match["word"]:
        return match["word"], match["w"]
    if match["ext"]:
        return match["ext"], match["e"]
    return match["param"], match["p"]


def with_accepted_charsets(raw: bytes) -> bytes:
    """raw with every charset it names that is a refused codec (punycode, utf-7...)
    named utf-8 instead.

    For code that hands a message to the stdlib ``email`` package, which decodes encoded
    words and RFC 2231 values with whatever codec they name. A linear scan over the
    whole message: text that reads like such a name (``charset=punycode``) changes too,
    in a body and in a text attachment a forward carries (the name becomes utf-8).
    """

    def fixed(match: re.Match[bytes]) -> bytes:
        lead, name = _named(match)
        return lead + b"utf-8" if _refused_codec(name) else match[0]

    return _NAMED.sub(fixed, raw)


def names_refused_codec(raw: bytes) -> bool:
    """Whether raw names, as a charset, a codec Python has but the policy refuses."""
    return any(_refused_codec(_named(match)[1]) for match in _NAMED.finditer(raw))


def _refused_codec(name: bytes) -> bool:
    """Whether name is a codec Python would run that the policy refuses, or a name the
    codec registry raises on (a NUL). An unknown name is not: email treats it as unknown
    too, and leaving it keeps text that only looks like a name as it was."""
    text = name.decode("latin-1")
    if not text or codec_for(text) is not None:
        return False
    try:
        codecs.lookup(text.partition("*")[0])
    except LookupError:
        return False
    except ValueError:
        return True
    return True
