"""Incremental base64 and quoted-printable: the same bytes however the chunks split."""

from __future__ import annotations

import base64
import binascii
import quopri
import random

import pytest

from pinesh.stores.mime import (
    QP_HOLD,
    Base64Decoder,
    IdentityDecoder,
    QuotedPrintableDecoder,
    StreamDecoder,
    decoder_for,
)


def _run(decoder: StreamDecoder, data: bytes, cuts: list[int]) -> bytes:
    out = b""
    start = 0
    for cut in [*cuts, len(data)]:
        out += decoder.feed(data[start:cut])
        start = cut
    return out + decoder.finish()


def _every_split(data: bytes) -> list[list[int]]:
    return [[i] for i in range(len(data) + 1)]


PAYLOAD = random.Random(3).randbytes(300)


def test_base64_any_single_split() -> None:
    encoded = base64.encodebytes(PAYLOAD).replace(b"\n", b"\r\n")
    for cuts in _every_split(encoded):
        assert _run(Base64Decoder(), encoded, cuts) == PAYLOAD


def test_base64_many_random_splits() -> None:
    rng = random.Random(5)
    data = rng.randbytes(100_000)
    encoded = base64.encodebytes(data)
    for _ in range(20):
        cuts = sorted(rng.sample(range(len(encoded)), 50))
        assert _run(Base64Decoder(), encoded, cuts) == data


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        (b"QUJD\r\n  RA==\r\n", b"ABCD"),
        (b"QU*J!D", b"ABC"),  # junk characters are skipped
        # Padded blocks glued together: the first "=" ends the data (RFC 2045 6.8), one
        # rule for every driver. Over IMAP this was b"AABC" (issue 9 unified the decoders).
        (b"QQ==QUJD", b"A"),
        (b"QUJDRA", b"ABCD"),  # padding missing at the end
        (b"QUJDR", b"ABC"),  # one character left over: no byte
        (b"====", b""),
        (b"", b""),
    ],
)
def test_base64_broken_input(encoded: bytes, decoded: bytes) -> None:
    for cuts in _every_split(encoded):
        assert _run(Base64Decoder(), encoded, cuts) == decoded


QP_TEXT = "Grüße aus Köln = schön; a long line that needs a soft break " * 4 + "\nend\n"


def test_quoted_printable_any_single_split() -> None:
    encoded = quopri.encodestring(QP_TEXT.encode("utf-8")).replace(b"\n", b"\r\n")
    assert b"=\r\n" in encoded and b"=C3=BC" in encoded
    for cuts in _every_split(encoded):
        assert _run(QuotedPrintableDecoder(), encoded, cuts) == binascii.a2b_qp(encoded)


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        (b"caf=C3=A9\r\n", "café\r\n".encode()),
        (b"soft=\r\nbreak", b"softbreak"),
        (b"soft=\nbreak", b"softbreak"),
        (b"bad =ZZ escape", b"bad =ZZ escape"),  # left as written
        (b"ends in =", b"ends in "),
    ],
)
def test_quoted_printable_broken_input(encoded: bytes, decoded: bytes) -> None:
    for cuts in _every_split(encoded):
        assert _run(QuotedPrintableDecoder(), encoded, cuts) == decoded


def test_quoted_printable_endless_line_is_not_held() -> None:
    decoder = QuotedPrintableDecoder()
    line = b"x=41" * (QP_HOLD // 2)
    out = decoder.feed(line[:-1])  # ends inside "=41"
    assert len(out) > QP_HOLD // 4  # decoded before any newline came
    assert out + decoder.feed(line[-1:]) + decoder.finish() == b"xA" * (QP_HOLD // 2)


def test_decoder_choice() -> None:
    assert isinstance(decoder_for("BASE64"), Base64Decoder)
    assert isinstance(decoder_for(" quoted-printable "), QuotedPrintableDecoder)
    for other in ("7bit", "8bit", "binary", "x-uuencode", ""):
        decoder = decoder_for(other)
        assert isinstance(decoder, IdentityDecoder)
        assert _run(decoder, b"as =41 is", [3]) == b"as =41 is"
