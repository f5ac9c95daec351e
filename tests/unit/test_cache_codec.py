"""The header cache's codec: Envelope and Part to JSON and back; hostile blobs decode to
None, never raise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pinesh.stores.base import Address, Envelope, Flag, Part
from pinesh.stores.cache.codec import (
    MAX_DEPTH,
    bits_to_flags,
    decode_envelope,
    decode_part,
    encode_envelope,
    encode_part,
    flags_to_bits,
)

PLUS_0530 = timezone(timedelta(hours=5, minutes=30))


def _envelope(**changes: object) -> Envelope:
    fields: dict[str, object] = {
        "uid": 7,
        "date": datetime(2026, 3, 1, 12, 30, 5, 250, tzinfo=PLUS_0530),
        "sender": (Address("Zoë \u202e", "z@example.org"),),
        "to": (Address("", "a@example.org"), Address("B", "b@example.org")),
        "cc": (),
        "subject": "Re: caf\u00e9 \ud800 \x1b[31m",  # a lone surrogate and an escape
        "message_id": "<m@x>",
        "in_reply_to": None,
        "references": ("<a@x>", "<b@x>"),
        "size": 12345,
        "flags": frozenset({Flag.SEEN, Flag.FLAGGED}),
        "internal_date": datetime(2026, 3, 1, 7, 0, tzinfo=UTC),
        "newsgroups": ("comp.mail.pine",),
    }
    fields.update(changes)
    return Envelope(**fields)  # type: ignore[arg-type]


def test_envelope_round_trips_every_field_with_the_rows_flags() -> None:
    envelope = _envelope()
    data = encode_envelope(envelope)
    decoded = decode_envelope(data, uid=7, flags=envelope.flags)
    assert decoded == envelope
    assert decoded is not None and decoded.date is not None
    assert decoded.date.utcoffset() == timedelta(hours=5, minutes=30)


def test_envelope_blob_holds_neither_uid_nor_flags() -> None:
    data = encode_envelope(_envelope())
    assert b"seen" not in data and b"flags" not in data and b'"uid"' not in data
    decoded = decode_envelope(data, uid=99, flags=frozenset())
    assert decoded is not None and decoded.uid == 99 and decoded.flags == frozenset()


def test_envelope_with_nones_round_trips() -> None:
    envelope = _envelope(date=None, internal_date=None, message_id=None, newsgroups=())
    assert decode_envelope(encode_envelope(envelope), uid=7, flags=envelope.flags) == envelope


def test_envelope_blob_is_ascii_json() -> None:
    data = encode_envelope(_envelope())
    assert data.isascii()
    assert b"\\ud800" in data


GOOD = (
    b'{"date":"2026-03-01T12:30:05+05:30","from":[["A","a@x"]],"to":[],"cc":[],'
    b'"subject":"hi","message_id":null,"in_reply_to":null,"references":[],"size":3,'
    b'"internal_date":null,"newsgroups":[]}'
)


def test_literal_envelope_blob_decodes() -> None:
    decoded = decode_envelope(GOOD, uid=1, flags=frozenset())
    assert decoded is not None
    assert decoded.sender == (Address("A", "a@x"),)
    assert decoded.date == datetime(2026, 3, 1, 12, 30, 5, tzinfo=PLUS_0530)


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[]",
        b"null",
        b'{"date":null}',  # fields missing
        GOOD.replace(b'"size":3', b'"size":"3"'),
        GOOD.replace(b'"size":3', b'"size":true'),
        GOOD.replace(b'"subject":"hi"', b'"subject":["hi"]'),
        GOOD.replace(b'[["A","a@x"]]', b'[["A"]]'),
        GOOD.replace(b'[["A","a@x"]]', b'[["A",5]]'),
        GOOD.replace(b'[["A","a@x"]]', b'{"A":"a@x"}'),
        GOOD.replace(b"2026-03-01T12:30:05+05:30", b"2026-03-01T12:30:05"),  # naive
        GOOD.replace(b"2026-03-01T12:30:05+05:30", b"yesterday"),
        GOOD.replace(b'"references":[]', b'"references":[1]'),
        GOOD[:-20],  # cut short
        b"[" * 100_000 + b"]" * 100_000,  # deeper than the JSON parser's recursion
        GOOD.replace(b'"to":[]', b'"to":' + b"[" * 70 + b"]" * 70),
    ],
)
def test_broken_envelope_blob_decodes_to_none(blob: bytes) -> None:
    assert decode_envelope(blob, uid=1, flags=frozenset()) is None


def _tree() -> Part:
    text = Part("1", "text/plain", {"charset": "utf-8", "format": "flowed"}, "quoted-printable", 10)
    image = Part(
        "2",
        "image/png",
        {"name": "a.png"},
        "base64",
        2048,
        filename="ä.png",
        disposition="attachment",
        description="a picture",
    )
    inner = Part("3", "multipart/alternative", {"boundary": "b2"}, children=(text,))
    return Part("", "multipart/mixed", {"boundary": "b1"}, children=(text, image, inner))


def test_part_tree_round_trips() -> None:
    tree = _tree()
    assert decode_part(encode_part(tree)) == tree


def _nested(depth: int) -> Part:
    part = Part("1", "text/plain")
    for _ in range(depth - 1):
        part = Part("", "multipart/mixed", children=(part,))
    return part


def test_part_tree_at_max_depth_round_trips_and_deeper_is_refused() -> None:
    assert decode_part(encode_part(_nested(MAX_DEPTH))) == _nested(MAX_DEPTH)
    with pytest.raises(ValueError, match="deeper"):
        encode_part(_nested(MAX_DEPTH + 1))


PART = (
    b'{"id":"","type":"multipart/mixed","params":{"boundary":"b"},"encoding":"7bit",'
    b'"size":0,"filename":null,"disposition":null,"description":null,"children":[]}'
)


def test_literal_part_blob_decodes() -> None:
    assert decode_part(PART) == Part("", "multipart/mixed", {"boundary": "b"})


def _deep_blob(depth: int) -> bytes:
    leaf = PART
    for _ in range(depth - 1):
        leaf = PART.replace(b'"children":[]', b'"children":[' + leaf + b"]")
    return leaf


@pytest.mark.parametrize(
    "blob",
    [
        b"{",
        b"[]",
        PART.replace(b'{"boundary":"b"}', b'{"boundary":1}'),
        PART.replace(b'{"boundary":"b"}', b'["b"]'),
        PART.replace(b'"children":[]', b'"children":[1]'),
        PART.replace(b'"children":[]', b'"children":{}'),
        PART.replace(b'"size":0', b'"size":null'),
        PART.replace(b'"filename":null', b'"filename":0'),
        PART.replace(b'"type":"multipart/mixed",', b""),
        _deep_blob(MAX_DEPTH + 1),
        b'{"id":' * 50_000,
    ],
)
def test_broken_part_blob_decodes_to_none(blob: bytes) -> None:
    assert decode_part(blob) is None


def test_deep_part_blob_within_the_limit_decodes() -> None:
    assert decode_part(_deep_blob(MAX_DEPTH)) is not None


def test_flag_bits_are_fixed_and_round_trip() -> None:
    assert flags_to_bits({Flag.SEEN}) == 1
    assert flags_to_bits({Flag.DRAFT, Flag.DELETED}) == 24
    every = frozenset(Flag)
    assert bits_to_flags(flags_to_bits(every)) == every
    assert bits_to_flags(1 | 64) == frozenset({Flag.SEEN})  # unknown bits ignored
