"""The streaming transfer-encoding decoders (stores.mime): the same bytes however the chunks
split, for every driver."""

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
    decode_chunks,
    decoder_for,
)
from pinesh.stores.mime_structure import CHUNK, part_content


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


# One rule for every driver: the IMAP path feeds the decoder the chunks a FETCH returns,
# the local path decodes a part of the message bytes (part_content). For each literal
# input, every split point and every chunking in small sizes must give the same bytes
# on both paths.
BASE64_INPUTS = [
    base64.encodebytes(bytes(range(40))),  # clean, LF lines
    base64.encodebytes(b"hello world!").replace(b"\n", b"\r\n"),  # clean, CRLF
    b"aGVsbG8gd29ybGQ",  # padding missing
    b"aGVsbG8gd29yb",  # one character left over
    b"QUJD=QUJD",  # a stray "=" at a quantum boundary
    b"QU=JDQUJD",  # a stray "=" inside a quantum
    b"QQ==QUJD",  # padded blocks glued together
    b"QUJDRA==\r\nignored after padding",
    b"aGV\x00sb*G8=\nx",  # NUL and junk, then padding
    b"====",
    b"=",
    b"",
    b"\r\n \t!!\x80\xff",  # nothing but junk
    b"QQ==" * 50,  # hostile: padding after every quantum
]
QP_INPUTS = [
    quopri.encodestring("Grüße = schön, a line long enough for a soft break ".encode() * 3),
    b"caf=C3=A9\r\nsoft=\r\nbreak\nlower=c3=a9\n",
    b"bad =ZZ escape =4",
    b"ends in =",
    b"ends in =  \t",
    b"trailing space soft break=  \r\nnext",
    b"a=\rb\n",  # "=" and a bare CR: not a soft break, stays as written
    b"=\r=\rq",
    b"==41===\n=",
    b"=" * 100,  # hostile: nothing but "="
    b"=" + b" " * 80 + b"\nx",  # more spaces than a soft break may hold: as written
    b"x=41" * 40,  # a long line of escapes
    b"",
]


def _local_path(encoded: bytes, encoding: str) -> bytes:
    message = b"Content-Transfer-Encoding: " + encoding.encode() + b"\n\n" + encoded
    chunks = part_content(message, "1")
    assert chunks is not None
    return b"".join(chunks)


def _chunkings(data: bytes) -> list[list[bytes]]:
    """Every single split, and every chunking in pieces of 1 to 7 bytes."""
    ways = [[data[:i], data[i:]] for i in range(len(data) + 1)]
    ways += [[data[i : i + size] for i in range(0, len(data), size)] for size in range(1, 8)]
    return ways


@pytest.mark.parametrize(
    ("encoding", "encoded"),
    [("base64", e) for e in BASE64_INPUTS] + [("quoted-printable", e) for e in QP_INPUTS],
)
def test_imap_and_local_paths_decode_alike_at_every_split(encoding: str, encoded: bytes) -> None:
    whole = _local_path(encoded, encoding)
    assert b"".join(decode_chunks([encoded], encoding)) == whole
    for chunks in _chunkings(encoded):
        decoder = decoder_for(encoding)
        streamed = b"".join(decoder.feed(c) for c in chunks) + decoder.finish()
        assert streamed == whole, chunks


@pytest.mark.parametrize("encoded", BASE64_INPUTS[:2])
def test_clean_base64_decodes_as_the_stdlib_does(encoded: bytes) -> None:
    assert _local_path(encoded, "base64") == base64.b64decode(encoded)


def test_clean_quoted_printable_decodes_as_the_stdlib_does() -> None:
    encoded = QP_INPUTS[0]
    assert _local_path(encoded, "quoted-printable") == quopri.decodestring(encoded)


@pytest.mark.parametrize(
    ("encoding", "hostile"),
    [
        ("base64", b"QQ==" * (256 * 1024)),
        ("base64", b"=" * (1024 * 1024)),
        ("quoted-printable", b"=" * (1024 * 1024)),
        ("quoted-printable", b"=\r" * (512 * 1024)),
        ("quoted-printable", b"=4" * (512 * 1024)),
    ],
    ids=["base64-QQ==", "base64-=", "qp-=", "qp-=CR", "qp-=4"],
)
def test_a_hostile_mebibyte_keeps_only_a_bounded_tail_between_chunks(
    encoding: str, hostile: bytes
) -> None:
    # Linear time without timing it: a decoder that keeps at most a few bytes for the next
    # chunk does work proportional to each chunk. (Before, the IMAP decoder re-scanned
    # what it held, and 1 MiB of "QQ==" took 11 s.) Each chunking gives the same bytes.
    bound = 3 if encoding == "base64" else QP_HOLD
    results = []
    for size in (1024 * 1024, 64 * 1024, 4096, 7):
        decoder = decoder_for(encoding)
        out = []
        for at in range(0, len(hostile), size):
            out.append(decoder.feed(hostile[at : at + size]))
            assert decoder.held <= bound
        out.append(decoder.finish())
        results.append(b"".join(out))
    assert all(result == results[0] for result in results)


def test_truncated_and_junk_base64_decodes_as_far_as_it_goes() -> None:
    assert b"".join(decode_chunks([b"aGVsbG8gd29ybGQ"], "base64")) == b"hello world"
    assert b"".join(decode_chunks([b"aGVsbG8gd29ybG"], "base64")) == b"hello worl"
    # a lone char: nothing
    assert b"".join(decode_chunks([b"aGVsbG8gd29yb"], "base64")) == b"hello wor"
    assert b"".join(decode_chunks([b"aGV\x00sb*G8=\nignored after padding"], "base64")) == b"hello"
    assert b"".join(decode_chunks([b"!!!"], "base64")) == b""


def test_base64_decodes_the_same_in_any_chunking() -> None:
    data = bytes(range(256)) * 40
    encoded = base64.encodebytes(data)
    for size in (1, 3, 4, 5, 77, 1000):
        chunks = [encoded[i : i + size] for i in range(0, len(encoded), size)]
        assert b"".join(decode_chunks(chunks, "base64")) == data


def test_quoted_printable_decodes_the_same_in_any_chunking() -> None:
    text = ("Grüße = 100 % ok, " * 300 + "\n") * 3
    encoded = quopri.encodestring(text.encode())
    assert b"=\n" in encoded and b"=C3=BC" in encoded
    for size in (1, 2, 3, 10, 4096):
        chunks = [encoded[i : i + size] for i in range(0, len(encoded), size)]
        assert b"".join(decode_chunks(chunks, "quoted-printable")).decode() == text


def test_a_quoted_printable_line_longer_than_a_chunk_is_cut_before_an_escape() -> None:
    line = b"=41" * (CHUNK // 2)  # one line of 1.5 chunks, nothing but escapes
    decoded = b"".join(
        decode_chunks([line[i : i + 1000] for i in range(0, len(line), 1000)], "quoted-printable")
    )
    assert decoded == b"A" * (CHUNK // 2)


def test_broken_quoted_printable_is_kept_as_written() -> None:
    assert b"".join(decode_chunks([b"a=ZZb=\n=4"], "quoted-printable")) == b"a=ZZb=4"


def test_binascii_is_lenient_as_the_base64_decoder_expects() -> None:
    # Base64Decoder relies on a2b_base64 taking clean groups of four; this guards it.
    assert binascii.a2b_base64(b"aGk=") == b"hi"
