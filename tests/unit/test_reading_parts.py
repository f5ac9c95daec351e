"""No part is lost: every part of a message is shown in its text or listed as an
attachment, over CPython's email test corpus and the hostile corpus (local parsing; the
IMAP BODYSTRUCTURE path is tests/integration/test_imap_every_part.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinesh.services.reading import (
    Readable,
    _readable,
    decode_text,
    html_to_text,
    part_banner,
    shown_parts,
)
from pinesh.stores.base import Part
from pinesh.stores.mime_structure import mime_structure, part_content

CORPUS = Path(__file__).parents[1] / "corpus"
MESSAGES = sorted((CORPUS / "cpython-email").glob("msg_*.txt")) + sorted(
    (CORPUS / "hostile").glob("*.eml")
)


def _read(data: bytes) -> tuple[Part, Readable]:
    structure = mime_structure(data)
    return structure, _readable(structure, lambda part_id: part_content(data, part_id) or ())


def _entries(part: Part) -> list[Part]:
    """Every leaf, and every attached message as one entry (not entered)."""
    if part.content_type == "message/rfc822" and part.part_id:
        return [part]
    if not part.children:
        return [part]
    return [entry for child in part.children for entry in _entries(child)]


def test_the_corpus_is_all_there() -> None:
    assert len([m for m in MESSAGES if m.suffix == ".txt"]) == 48


@pytest.mark.parametrize("path", MESSAGES, ids=lambda p: p.name)
def test_every_part_is_shown_or_listed(path: Path) -> None:
    data = path.read_bytes()
    structure, readable = _read(data)
    shown = {p.part_id for p in shown_parts(structure)}
    listed = [a.part_id for a in readable.attachments]
    assert not shown & set(listed)  # never both
    assert len(listed) == len(set(listed))
    for entry in _entries(structure):
        assert entry.part_id in shown or entry.part_id in listed, (entry.part_id, path.name)
    for part in shown_parts(structure):  # and each shown part's text is in the view
        text = decode_text(b"".join(part_content(data, part.part_id) or ()), part.charset)
        if part.content_type == "text/html":
            text = html_to_text(text)
        words = text.split()[:8]
        if words:
            assert " ".join(words) in " ".join(readable.text.split()), (part.part_id, path.name)


def _listed(readable: Readable) -> list[tuple[str, str]]:
    return [(a.part_id, a.content_type) for a in readable.attachments]


def _corpus(name: str) -> Readable:
    return _read((CORPUS / "cpython-email" / name).read_bytes())[1]


def test_two_inline_text_parts_are_both_shown_the_second_under_a_banner() -> None:
    readable = _corpus("msg_21.txt")
    assert readable.text.index("One") < readable.text.index("[ Part 2, Text/PLAIN ]")
    assert readable.text.index("[ Part 2, Text/PLAIN ]") < readable.text.index("Two")


def test_a_digest_shows_its_topics_and_footer_and_lists_its_messages() -> None:
    readable = _corpus("msg_02.txt")
    assert "Today's Topics" in readable.text
    assert "Ppp mailing list" in readable.text  # the footer, the digest's last part
    kinds = [a.content_type for a in readable.attachments]
    assert kinds == ["message/rfc822"] * 5


def test_nested_text_is_shown_and_the_image_beside_it_listed() -> None:
    readable = _corpus("msg_13.txt")
    assert "Hi there," in readable.text  # part 2.1, inside a nested multipart
    assert _listed(readable) == [("2.2", "image/gif")]


def test_a_second_part_in_latin_1_is_shown_decoded() -> None:
    message = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nfirst\r\n--b\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\nna\xefve caf\xe9\r\n--b--\r\n"
    )
    readable = _read(message)[1]
    assert "first" in readable.text and "naïve café" in readable.text
    assert readable.attachments == ()


def test_of_alternatives_plain_is_shown_and_the_html_listed() -> None:
    message = (
        b'Content-Type: multipart/alternative; boundary="a"\r\n\r\n--a\r\n'
        b"Content-Type: text/plain\r\n\r\nplain words\r\n--a\r\n"
        b"Content-Type: text/html\r\n\r\n<p>html words</p>\r\n--a--\r\n"
    )
    readable = _read(message)[1]
    assert "plain words" in readable.text and "html words" not in readable.text
    assert _listed(readable) == [("2", "text/html")]


def test_without_prefer_plain_text_the_html_is_shown_as_alpine_does() -> None:
    message = (
        b'Content-Type: multipart/alternative; boundary="a"\r\n\r\n--a\r\n'
        b"Content-Type: text/plain\r\n\r\nplain words\r\n--a\r\n"
        b'Content-Type: multipart/related; boundary="r"\r\n\r\n--r\r\n'
        b"Content-Type: text/html\r\n\r\n<p>rich words</p>\r\n--r\r\n"
        b"Content-Type: image/png\r\nContent-ID: <i>\r\n\r\nPNG\r\n--r--\r\n--a--\r\n"
    )
    structure = mime_structure(message)
    assert [p.part_id for p in shown_parts(structure)] == ["1"]  # prefer-plain-text
    assert [p.part_id for p in shown_parts(structure, prefer_plain=False)] == ["2.1"]


def test_html_in_related_is_chosen_when_the_alternative_has_no_plain_text() -> None:
    message = (
        b'Content-Type: multipart/alternative; boundary="a"\r\n\r\n--a\r\n'
        b'Content-Type: multipart/related; boundary="r"\r\n\r\n--r\r\n'
        b"Content-Type: text/html\r\n\r\n<p>rich words</p>\r\n--r\r\n"
        b"Content-Type: image/png\r\nContent-ID: <i>\r\n\r\nPNG\r\n--r--\r\n--a--\r\n"
    )
    readable = _read(message)[1]
    assert "rich words" in readable.text
    assert _listed(readable) == [("1.2", "image/png")]


def test_a_part_banner_names_the_part_as_pine_does() -> None:
    assert part_banner(Part("2", "text/plain")) == "[ Part 2, Text/PLAIN ]"
    assert part_banner(Part("3.1", "text/html", description="Footer")) == '[ Part 3.1: "Footer" ]'


def test_text_beyond_the_bound_is_cut_and_the_parts_after_it_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("pinesh.services.reading.MAX_TEXT", 10)
    message = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\n0123456789abcdef\r\n--b\r\n"
        b"Content-Type: text/plain\r\n\r\nsecond\r\n--b--\r\n"
    )
    readable = _read(message)[1]
    assert readable.text == "0123456789\n"
    assert readable.note is not None
    assert "cut at 0 MB; save the part to see it all" in readable.note
    assert "parts after part 1 not shown" in readable.note
