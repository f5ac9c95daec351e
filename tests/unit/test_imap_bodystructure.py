"""BODYSTRUCTURE replies (literal bytes, parsed by IMAPClient) to Part trees and back to
IMAP section numbers; RFC 2231 parameters; hostile structures."""

from __future__ import annotations

import pytest

from pinesh.stores.base import Part
from pinesh.stores.imap.errors import ImapSyntaxError
from pinesh.stores.imap.protocol.bodystructure import (
    MAX_DEPTH,
    decode_params,
    find_part,
    part_tree,
)
from tests.unit.test_imap_records import fetch


def _tree(structure: bytes) -> Part:
    [item] = fetch(b"* 1 FETCH (UID 1 BODYSTRUCTURE " + structure + b")\r\n").values()
    return part_tree(item[b"BODYSTRUCTURE"])


def _ids(part: Part) -> list[tuple[str, str]]:
    return [(p.part_id, p.content_type) for p in part.walk()]


# What Dovecot sent in the lab for a fill_maildir attachment (RFC 2231 names passed on).
DOVECOT_MIXED = (
    b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 218 5 NIL NIL NIL NIL)'
    b'("application" "pdf" ("name*" "utf-8\'\'%C3%9Cbersicht%20M%C3%A4rz.pdf") NIL NIL "base64" '
    b'6348 NIL ("attachment" ("filename*" "utf-8\'\'%C3%9Cbersicht%20M%C3%A4rz.pdf")) NIL NIL)'
    b' "mixed" ("boundary" "=_pinesh_mix_52_3f83ffce") NIL NIL NIL)'
)


def test_multipart_mixed_with_rfc2231_names() -> None:
    tree = _tree(DOVECOT_MIXED)
    assert _ids(tree) == [("", "multipart/mixed"), ("1", "text/plain"), ("2", "application/pdf")]
    assert tree.params == {"boundary": "=_pinesh_mix_52_3f83ffce"}
    text, pdf = tree.children
    assert (text.charset, text.encoding, text.size, text.filename) == (
        "us-ascii",
        "7bit",
        218,
        None,
    )
    assert pdf.filename == "Übersicht März.pdf"
    assert pdf.params == {"name": "Übersicht März.pdf"}
    assert (pdf.disposition, pdf.encoding, pdf.size) == ("attachment", "base64", 6348)


def test_single_part_message_is_part_one() -> None:
    tree = _tree(
        b'("TEXT" "PLAIN" ("CHARSET" "ISO-8859-1") NIL "A note" "QUOTED-PRINTABLE" 1234 40)'
    )
    assert _ids(tree) == [("1", "text/plain")]
    assert (tree.charset, tree.encoding, tree.description) == (
        "ISO-8859-1",
        "quoted-printable",
        "A note",
    )


def test_nested_multiparts_and_messages() -> None:
    alternative = (
        b'(("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 10 1 NIL NIL NIL NIL)'
        b'("text" "html" ("charset" "utf-8") NIL NIL "8bit" 20 1 NIL NIL NIL NIL) "alternative" '
        b'("boundary" "a") NIL NIL NIL)'
    )
    envelope = b'(NIL "inner" NIL NIL NIL NIL NIL NIL NIL NIL)'
    forwarded_multi = (
        b'("message" "rfc822" NIL NIL NIL "7bit" 500 '
        + envelope
        + b" "
        + alternative
        + b' 12 NIL ("inline" NIL) NIL NIL)'
    )
    forwarded_single = (
        b'("message" "rfc822" NIL NIL NIL "7bit" 300 '
        + envelope
        + b' ("text" "plain" NIL NIL NIL "7bit" 5 1 NIL NIL NIL NIL) 6 NIL NIL NIL NIL)'
    )
    tree = _tree(b"(" + alternative + forwarded_multi + forwarded_single + b' "mixed" NIL)')
    assert _ids(tree) == [
        ("", "multipart/mixed"),
        ("1", "multipart/alternative"),
        ("1.1", "text/plain"),
        ("1.2", "text/html"),
        ("2", "message/rfc822"),
        ("2.TEXT", "multipart/alternative"),
        ("2.1", "text/plain"),
        ("2.2", "text/html"),
        ("3", "message/rfc822"),
        ("3.1", "text/plain"),
    ]
    found = find_part(tree, "2.2")
    assert found is not None and found.content_type == "text/html"
    assert find_part(tree, "4") is None
    assert tree.children[1].disposition == "inline"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ((b"name", b"plain.pdf"), {"name": "plain.pdf"}),
        ((b"NAME", b"=?utf-8?B?w5xiZXJzaWNodC5wZGY=?="), {"name": "Übersicht.pdf"}),
        (
            (b"filename*1*", b"%E9.pdf", b"filename*0*", b"iso-8859-1'fr'r%E9sum"),
            {"filename": "résumé.pdf"},
        ),
        (  # an extended first segment, then a plain one (RFC 2231 allows the mix)
            (b"filename*0*", b"utf-8''%C3%A9t%C3%A9", b"filename*1", b" 2024.txt"),
            {"filename": "été 2024.txt"},
        ),
        ((b"filename*", b"x-no-such-charset''caf%C3%A9"), {"filename": "café"}),
        ((b"filename*", b"utf-8''caf%E9"), {"filename": "caf\ufffd"}),
        ((b"filename*0", b"a", b"filename*2", b"c"), {"filename": "ac"}),  # a gap: kept going
        ((b"filename*", b"no-quotes-at-all"), {"filename": "no-quotes-at-all"}),
        ((b"charset", 8859), {"charset": "8859"}),
        (None, {}),
    ],
)
def test_parameters(params: tuple[object, ...] | None, expected: dict[str, str]) -> None:
    assert decode_params(params) == expected


def test_a_charset_with_a_nul_decodes_as_utf8() -> None:
    # codecs.lookup raises ValueError (not LookupError) for a name with a NUL in it.
    tree = _tree(b'("application" "pdf" ("name*" "utf\x00-8\'\'caf%C3%A9") NIL NIL "base64" 1)')
    assert tree.filename == "café"


def test_a_huge_segment_count_is_bounded() -> None:
    params: list[bytes] = []
    for index in range(5000):
        params += [b"name*%d" % index, b"x"]
    assert len(decode_params(tuple(params))["name"]) == 1000


@pytest.mark.parametrize(
    "structure",
    [
        b'("text" "plain" NIL NIL NIL)',  # too few fields
        b'(("text" "plain" NIL NIL NIL "7bit" 1 1))',  # multipart without a subtype
        b'("text" "plain" ("charset") NIL NIL "7bit" 1 1)',  # parameters not in pairs
        b'("text" "plain" "charset" NIL NIL "7bit" 1 1)',  # parameters not a list
        b'("message" "rfc822" NIL NIL NIL "7bit" 1 NIL "not a body" 1)',
        b'("application" "pdf" NIL NIL NIL "base64" 1 NIL ("attachment" NIL "x"))',
    ],
)
def test_hostile_structures_raise_convert_error(structure: bytes) -> None:
    with pytest.raises(ImapSyntaxError):
        _tree(structure)


@pytest.mark.parametrize("value", [None, (), b"text", 7, ((),)])
def test_values_that_are_no_structure(value: object) -> None:
    with pytest.raises(ImapSyntaxError):
        part_tree(value)


def test_too_deep_nesting_is_refused() -> None:
    leaf = b'("text" "plain" NIL NIL NIL "7bit" 1 1)'
    deep = leaf
    for _ in range(MAX_DEPTH + 2):
        deep = b"(" + deep + b' "mixed")'
    with pytest.raises(ImapSyntaxError, match="deeper"):
        _tree(deep)


def test_odd_but_readable_values() -> None:
    tree = _tree(
        b'("application" "octet-stream" NIL NIL NIL NIL -7 NIL "attachment" NIL NIL)',
    )
    assert (tree.encoding, tree.size, tree.disposition) == ("7bit", 0, "attachment")


def test_a_hostile_parameter_charset_reads_as_utf8_and_is_not_run(
    punycode_runs: list[int],
) -> None:
    tree = _tree(
        b'("text" "plain" ("charset*" "us-ascii\'\'utf%00-8" "name*" "raw-unicode-escape\'\''
        b'%5Cu001b%5B2J.txt" "x-long*" "punycode\'\'' + b"a" * 20_000 + b'-b") NIL NIL "7bit" 5 1'
        b' NIL ("attachment" ("filename*" "unicode-escape\'\'%5Cx1b.txt")) NIL NIL)'
    )
    assert tree.charset == "utf\x00-8"  # the part's charset, refused where it is used
    assert tree.params["name"] == "\\u001b[2J.txt"
    assert tree.filename == "\\x1b.txt"
    assert tree.params["x-long"] == "a" * 20_000 + "-b"
    assert punycode_runs == []
