"""MIME structure and part content of messages held as bytes (stores.mime_structure), on
literal good, broken and hostile messages."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from pinesh.stores.mime_structure import (
    CHUNK,
    MAX_DEPTH,
    body_offset,
    mime_structure,
    part_bytes,
    part_content,
    text_parts,
)

HOSTILE = sorted((Path(__file__).parent.parent / "corpus" / "hostile").glob("*.eml"))

MIXED = (
    b"From: a@example.org\n"
    b"Subject: mixed\n"
    b"MIME-Version: 1.0\n"
    b'Content-Type: multipart/mixed; boundary="outer"\n'
    b"\n"
    b"This is the preamble.\n"
    b"--outer\n"
    b"Content-Type: text/plain; charset=utf-8\n"
    b"Content-Transfer-Encoding: quoted-printable\n"
    b"\n"
    b"Gr=C3=BC=C3=9Fe,=\n"
    b" world\n"
    b"--outer\n"
    b"Content-Type: message/rfc822\n"
    b"Content-Description: =?utf-8?q?the_=C3=BCbersicht?=\n"
    b"\n"
    b"Subject: inner\n"
    b"Content-Type: multipart/alternative; boundary=inner\n"
    b"\n"
    b"--inner\n"
    b"\n"
    b"plain inner\n"
    b"--inner\n"
    b"Content-Type: text/html\n"
    b"\n"
    b"<b>inner</b>\n"
    b"--inner--\n"
    b"--outer\n"
    b"Content-Type: application/pdf; name*=utf-8''%C3%9Cbersicht.pdf\n"
    b"Content-Disposition: attachment\n"
    b"Content-Transfer-Encoding: base64\n"
    b"\n"
    b"SGVsbG8g\n"
    b"d29ybGQ=\n"
    b"--outer\n"
    b"Content-Type: image/png\n"
    b"Content-Disposition: attachment; filename*0*=utf-8''%E2%82%AC; filename*1=-sign.png\n"
    b"Content-Transfer-Encoding: base64\n"
    b"\n"
    b"iVBORw0K\n"
    b"--outer--\n"
    b"epilogue\n"
)


def _ids(data: bytes) -> list[tuple[str, str]]:
    return [(p.part_id, p.content_type) for p in mime_structure(data).walk()]


# --------------------------------------------------------------------------- structure


def test_a_multipart_message_gets_imap_section_numbers() -> None:
    assert _ids(MIXED) == [
        ("", "multipart/mixed"),
        ("1", "text/plain"),
        ("2", "message/rfc822"),
        ("2.TEXT", "multipart/alternative"),
        ("2.1", "text/plain"),
        ("2.2", "text/html"),
        ("3", "application/pdf"),
        ("4", "image/png"),
    ]


def test_part_fields_are_decoded() -> None:
    parts = {p.part_id: p for p in mime_structure(MIXED).walk()}
    assert parts[""].params["boundary"] == "outer"
    assert parts["1"].charset == "utf-8"
    assert parts["1"].encoding == "quoted-printable"
    assert parts["2"].description == "the übersicht"
    assert parts["3"].filename == "Übersicht.pdf"  # RFC 2231 in Content-Type name*
    assert parts["3"].disposition == "attachment"
    assert parts["4"].filename == "€-sign.png"  # RFC 2231 continuations
    assert parts["3"].size == len(b"SGVsbG8g\nd29ybGQ=")


def test_part_content_is_decoded() -> None:
    assert part_bytes(MIXED, "1") == "Grüße, world".encode()
    assert part_bytes(MIXED, "3") == b"Hello world"
    assert part_bytes(MIXED, "2.1") == b"plain inner"
    assert part_bytes(MIXED, "2.2") == b"<b>inner</b>"
    # A message/rfc822 part is the encapsulated message; N.TEXT its raw body.
    assert (
        part_bytes(MIXED, "2")
        == MIXED[MIXED.index(b"Subject: inner") : MIXED.index(b"--inner--\n") + len(b"--inner--")]
    )
    assert (part_bytes(MIXED, "2.TEXT") or b"").startswith(b"--inner\n\nplain inner")
    assert part_bytes(MIXED, "") == MIXED  # the whole source, undecoded
    assert part_bytes(MIXED, "9") is None
    assert part_bytes(MIXED, "2.9") is None


def test_a_single_part_message_is_part_1() -> None:
    message = b"Subject: x\nContent-Transfer-Encoding: base64\n\naGk=\n"
    root = mime_structure(message)
    assert (root.part_id, root.content_type, root.children) == ("1", "text/plain", ())
    assert part_bytes(message, "1") == b"hi"


def test_a_message_rfc822_with_a_single_part_body_is_n_1() -> None:
    message = (
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\ntext\n--b\n"
        b"Content-Type: message/rfc822\n\nSubject: fwd\n\nforwarded body\n--b--\n"
    )
    assert _ids(message) == [
        ("", "multipart/mixed"),
        ("1", "text/plain"),
        ("2", "message/rfc822"),
        ("2.1", "text/plain"),
    ]
    assert part_bytes(message, "2.1") == b"forwarded body"


def test_parts_of_a_digest_default_to_messages() -> None:
    message = (
        b"Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nfirst\n"
        b"--d\n\nSubject: two\n\nsecond\n--d--\n"
    )
    assert _ids(message)[1:3] == [("1", "message/rfc822"), ("1.1", "text/plain")]
    assert part_bytes(message, "2.1") == b"second"


def test_crlf_messages_parse_like_lf_ones() -> None:
    crlf = MIXED.replace(b"\n", b"\r\n")
    assert _ids(crlf) == _ids(MIXED)
    assert part_bytes(crlf, "3") == b"Hello world"
    assert part_bytes(crlf, "2.1") == b"plain inner"


def test_a_longer_boundary_is_not_ours() -> None:
    message = (
        b"Content-Type: multipart/mixed; boundary=ab\n\n--ab\n\none\n--abc\nstill one\n"
        b"--ab  \n\ntwo\n--ab--\n"
    )
    assert [p.part_id for p in mime_structure(message).walk()] == ["", "1", "2"]
    assert part_bytes(message, "1") == b"one\n--abc\nstill one"
    assert part_bytes(message, "2") == b"two"  # transport padding after a delimiter is fine


def test_body_offset_takes_the_first_empty_line_of_either_kind() -> None:
    assert body_offset(b"A: b\n\nbody\r\n\r\nmore") == 6
    assert body_offset(b"A: b\r\n\r\nbody\n\nmore") == 8
    assert body_offset(b"\nbody") == 1
    assert body_offset(b"A: b\nno body") == len(b"A: b\nno body")


# --------------------------------------------------------------------------- broken


def test_a_missing_closing_boundary_runs_to_the_end() -> None:
    message = (
        b"Content-Type: multipart/mixed; boundary=x\n\n--x\n\nfirst\n--x\n"
        b"Content-Transfer-Encoding: base64\n\naGVsbG8gd29y"
    )
    assert [p.part_id for p in mime_structure(message).walk()] == ["", "1", "2"]
    assert part_bytes(message, "2") == b"hello wor"


def test_a_multipart_without_delimiters_is_shown_as_text() -> None:
    for message in (
        b"Content-Type: multipart/mixed; boundary=nowhere\n\njust text\n",
        b"Content-Type: multipart/mixed\n\nno boundary at all\n",
        b"Content-Type: multipart/mixed; boundary=x\n\n--x--\nonly a closing one\n",
    ):
        root = mime_structure(message)
        assert (root.part_id, root.content_type, root.children) == ("1", "text/plain", ())
        assert root.description == "malformed multipart (no parts found)"
        assert part_bytes(message, "1") == message[message.index(b"\n\n") + 2 :]


def test_a_large_part_is_streamed_in_chunks() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    message = (
        b"Content-Type: multipart/mixed; boundary=z\n\n--z\n"
        b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(payload)
        + b"--z--\n"
    )
    chunks = part_content(message, "1")
    assert chunks is not None
    sizes = []
    joined = bytearray()
    for chunk in chunks:
        sizes.append(len(chunk))
        joined += chunk
    assert bytes(joined) == payload
    assert len(sizes) > 10 and max(sizes) <= CHUNK


def test_nul_bytes_wrong_charsets_and_unknown_encodings_do_not_stop_parsing() -> None:
    message = (
        b"Subject: nul\x00here\nContent-Type: text/plain; charset=x-no-such-charset\n"
        b"Content-Transfer-Encoding: x-unheard-of\n\nbody\x00with \xff nul\n"
    )
    root = mime_structure(message)
    assert (root.content_type, root.charset, root.encoding) == (
        "text/plain",
        "x-no-such-charset",
        "x-unheard-of",
    )
    assert part_bytes(message, "1") == b"body\x00with \xff nul\n"  # unknown encoding: raw
    assert list(text_parts(message)) == ["body\x00with \ufffd nul\n"]


def test_a_charset_name_with_a_nul_decodes_as_utf8() -> None:
    # The codec registry raises ValueError (not LookupError) for a name with a NUL.
    message = b'Content-Type: text/plain; charset="x-\x00no"\n\ncaf\xc3\xa9\n'
    assert list(text_parts(message)) == ["caf\u00e9\n"]


def test_a_2_mb_header_line_still_gives_a_structure() -> None:
    message = (
        b"Subject: " + b"x" * (2 * 1024 * 1024) + b"\n"
        b"Content-Type: multipart/mixed; boundary=q\n\n--q\n\nshort\n--q--\n"
    )
    assert _ids(message) == [("", "multipart/mixed"), ("1", "text/plain")]
    assert part_bytes(message, "1") == b"short"


def test_hostile_nesting_is_cut_at_the_depth_limit_without_recursion() -> None:
    depth = 1000
    head = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(depth)
    )
    message = head + b"\ninnermost\n"
    parts = list(mime_structure(message).walk())
    assert len(parts) == MAX_DEPTH + 1
    assert parts[-1].part_id == ".".join(["1"] * MAX_DEPTH)


def test_a_hostile_parameter_list_does_not_stop_the_part() -> None:
    message = (
        b"Content-Type: multipart/mixed; boundary=p\n\n--p\n"
        b"Content-Type: application/x; name*0*=bad'charset'%ZZ; name*1*=%\n"
        b"Content-Disposition: attachment; filename*=x-bogus''%FF%FE\n\nA\n--p--\n"
    )
    (part,) = mime_structure(message).children
    assert part.content_type == "application/x"
    assert part.filename is not None
    assert part_bytes(message, "1") == b"A"


def test_raw_utf8_and_encoded_word_file_names_are_decoded() -> None:
    message = (
        b"Content-Type: multipart/mixed; boundary=n\n\n--n\n"
        b'Content-Disposition: attachment; filename="r\xc3\xa9sum\xc3\xa9.txt"\n\nA\n--n\n'
        b'Content-Type: text/plain; name="=?iso-8859-1?q?caf=E9.txt?="\n\nB\n--n--\n'
    )
    names = [p.filename for p in mime_structure(message).children]
    assert names == ["résumé.txt", "café.txt"]


def test_empty_and_header_only_messages() -> None:
    assert _ids(b"") == [("1", "text/plain")]
    assert part_bytes(b"", "1") == b""
    assert _ids(b"Subject: only headers\n") == [("1", "text/plain")]
    assert part_bytes(b"Subject: only headers\n", "1") == b""


@pytest.mark.parametrize("path", HOSTILE, ids=lambda p: p.name)
def test_every_hostile_message_gives_a_structure_and_all_its_parts(path: Path) -> None:
    data = path.read_bytes()
    root = mime_structure(data)
    for part in root.walk():
        content = part_bytes(data, part.part_id)
        assert content is not None
        if not part.children and part.encoding not in ("base64", "quoted-printable"):
            assert len(content) == part.size
    assert isinstance("".join(text_parts(data)), str)


def test_the_corpus_is_there() -> None:
    assert len(HOSTILE) >= 15  # fail, don't skip: without it the test above proves nothing
