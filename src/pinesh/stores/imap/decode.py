"""Incremental Content-Transfer-Encoding decoders: feed chunks, get decoded bytes.

A part is fetched in chunks that split the encoded text anywhere (inside a base64
quantum, inside a quoted-printable escape), so each decoder keeps the undecodable tail
for the next chunk. Broken input decodes as far as it can, as mail readers do: base64
ignores characters outside its alphabet, a bad quoted-printable escape stays as written.
"""

from __future__ import annotations

import binascii
from typing import Protocol

_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_B64_JUNK = bytes(b for b in range(256) if b not in _B64_ALPHABET)
QP_HOLD = 8192  # bytes of a quoted-printable line kept waiting for its end, at most


class StreamDecoder(Protocol):
    def feed(self, data: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


class IdentityDecoder:
    """7bit, 8bit, binary, and encodings we do not know: the bytes as they are."""

    def feed(self, data: bytes) -> bytes:
        return data

    def finish(self) -> bytes:
        return b""


class Base64Decoder:
    """base64 in whole quanta of four characters; junk characters are skipped."""

    def __init__(self) -> None:
        self._pending = b""

    def _decode(self, data: bytes) -> bytes:
        try:
            return binascii.a2b_base64(data)
        except binascii.Error:
            return b""  # a lone leftover character: no byte can come of it

    def feed(self, data: bytes) -> bytes:
        text = self._pending + data.translate(None, _B64_JUNK)
        out = b""
        # Padding inside the text (base64 blocks glued together by a broken mailer):
        # decode up to the padded quantum, then start again after it, so the result
        # does not depend on where the chunks happen to split.
        while (pad := text.find(b"=")) >= 0:
            end = pad - pad % 4 + 4
            if end > len(text):
                break  # the padded quantum is not complete yet
            out += self._decode(text[:end])
            text = text[end:].lstrip(b"=")
        usable = len(text) - len(text) % 4
        self._pending = text[usable:]
        return out + self._decode(text[:usable]) if usable else out

    def finish(self) -> bytes:
        rest, self._pending = self._pending.rstrip(b"="), b""
        if not rest:
            return b""
        return self._decode(rest + b"=" * (-len(rest) % 4))


class QuotedPrintableDecoder:
    """quoted-printable by whole lines (a soft break or an escape may span two chunks)."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> bytes:
        text = self._pending + data
        cut = text.rfind(b"\n") + 1
        if cut == 0 and len(text) > QP_HOLD:
            # A very long line: decode all but a possibly unfinished "=XX" or "=\r".
            cut = len(text)
            tail = text.rfind(b"=", max(0, len(text) - 2))
            if tail >= 0:
                cut = tail
        self._pending = text[cut:]
        return binascii.a2b_qp(text[:cut]) if cut else b""

    def finish(self) -> bytes:
        rest, self._pending = self._pending, b""
        return binascii.a2b_qp(rest) if rest else b""


def decoder_for(encoding: str) -> StreamDecoder:
    """The decoder for a Content-Transfer-Encoding (lowercase or not)."""
    name = encoding.strip().lower()
    if name == "base64":
        return Base64Decoder()
    if name == "quoted-printable":
        return QuotedPrintableDecoder()
    return IdentityDecoder()
