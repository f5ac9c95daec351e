"""Family 5: MIME structure and content (stores/mime_structure.py), the transfer-encoding
decoders (stores/mime.py), headers and charsets (stores/headers.py), HTML to text and an
attached message made readable (services/reading.py).

None of these may raise: each documents that broken input decodes as far as it can.
Invariants: a decoder gives the same bytes however the input is cut into chunks, and holds
at most a few bytes between chunks (3 for base64, QP_HOLD for quoted-printable); every
section number of a structure has content; decode_words() output has no line break.
"""

from __future__ import annotations

from pinesh.services.reading import decode_text, html_to_text, read_attached_message
from pinesh.stores.headers import (
    chosen_headers,
    decode_words,
    envelope_from_headers,
    header_end,
    parse_date,
    parse_header_block,
)
from pinesh.stores.mime import QP_HOLD, Base64Decoder, QuotedPrintableDecoder, decoder_for
from pinesh.stores.mime_structure import mime_structure, part_bytes, text_parts
from tests.fuzz.common import check, pick

MAX_LEN = 2048  # whole messages: each input is parsed several times over
MESSAGE_SELECTORS = (0, 4)  # the hostile messages seed the structure and reading parsers

SEEDS = [
    b"\x01SGVsbG8sIHdvcmxk\r\nIQ==QUJD",
    b"\x01QQ=\x00=====ab",
    b"\x02caf=C3=A9 =\r\nsoft =   \nbreak =ZZ =4",
    b"\x03=?utf-8?q?caf=C3=A9?= =?iso-8859-1?b?6Q==?= =?x-unknown?q?a?= =?utf-8?b?***?=",
    b"\x03=?utf\x00-8?q?a?=\r\n =?idna?q?=FF?=",
    b"\x04<html><head><style>x</style></head><body><p>Hi &amp; <b>there</b><li>one"
    b"<script>alert(1)</script></body></html>",
    b"\x04<![CDATA[ <!-- x --> &#99999999; <a href='x",
    b"\x05Date: Mon, 1 Jan 2024 10:00:00 +9959\r\nFrom: =?utf-8?q?J=C3=A9?= <j@x>\r\n"
    b"Subject: \xe9t\xe9\r\nMessage-ID: <a@b>\r\n\r\nbody",
    b"\x06utf-7\x00+AGEAYgBj-",
]


def _split_same(decoder_type: type[Base64Decoder] | type[QuotedPrintableDecoder],
                data: bytes, hold: int) -> None:  # fmt: skip
    # Byte by byte over the first 200 bytes (every cut), in 7 and 61 byte chunks over all.
    for piece, size in ((data[:200], 1), (data, 7), (data, 61)):
        whole = decoder_type()
        expected = whole.feed(piece) + whole.finish()
        decoder = decoder_type()
        out = bytearray()
        for at in range(0, len(piece), size):
            out += decoder.feed(piece[at : at + size])
            check(decoder.held <= hold, f"{decoder_type.__name__} holds {decoder.held} bytes")
        out += decoder.finish()
        check(bytes(out) == expected, f"{decoder_type.__name__} depends on where chunks split")


def _structure(message: bytes) -> None:
    root = mime_structure(message)
    for part in list(root.walk())[:2]:  # each part_bytes() parses the message again
        check(part_bytes(message, part.part_id) is not None, f"no content for {part.part_id!r}")
    for _ in text_parts(message):
        pass


def TestOneInput(data: bytes) -> None:  # noqa: N802 - the name fuzzing engines call
    which, rest = pick(data, 7)
    if which == 0:
        _structure(rest)
    elif which == 1:
        _split_same(Base64Decoder, rest, 3)
    elif which == 2:
        _split_same(QuotedPrintableDecoder, rest, QP_HOLD)
    elif which == 3:
        decode_words(rest.decode("utf-8", "surrogateescape"))
    elif which == 4:
        html_to_text(rest.decode("utf-8", "replace"))
        read_attached_message(rest)
    elif which == 5:
        message = parse_header_block(rest)
        for name in message.keys()[:10]:
            parse_date(str(message.get(name, "")))
        envelope_from_headers(1, rest[: header_end(rest)], len(rest), frozenset())
        chosen_headers(rest[: header_end(rest)], ["Subject", "X-Mailer", "From"])
    else:
        charset, _, body = rest.partition(b"\x00")
        decode_text(body, charset.decode("latin-1"))
        encoding = charset.decode("latin-1")
        b"".join([decoder_for(encoding).feed(body)])
