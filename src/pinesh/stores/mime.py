"""Streaming Content-Transfer-Encoding decoders, one set for every driver.

A part arrives in chunks that split the encoded text anywhere (an IMAP FETCH of a byte
range, a slice of a local file): inside a base64 quantum, inside a quoted-printable
escape. Each decoder keeps only the undecided tail for the next chunk, so the decoded
bytes never depend on where the chunks split, and the work is linear in the input.

Broken input decodes as far as it can, by one rule for every driver:

- base64: characters outside the alphabet are skipped; the first "=" ends the data (RFC
  2045 6.8: "the occurrence of any '=' characters may be taken as evidence that the end of
  the data has been reached"; mutt stops at its first padded quantum, Python's email
  package at its first complete padding); a truncated last group gives what it holds (2
  or 3 characters give 1 or 2 bytes, 1 gives none). Base64 blocks glued together by a
  broken mailer therefore show only the first one.
- quoted-printable: "=XX" (hex, either case) is a byte; "=" with at most QP_SPACE spaces
  or tabs before the line end (LF or CRLF) or the end of the data is a soft break; any
  other "=" stays as written.
- anything else (7bit, 8bit, binary, an encoding we do not know): the bytes as they are.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Iterator
from typing import Protocol

_B64_KEEP = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_B64_JUNK = bytes(b for b in range(256) if b not in _B64_KEEP)

QP_SPACE = 64  # spaces or tabs allowed between "=" and the line end of a soft break
QP_HOLD = QP_SPACE + 3  # bytes of quoted-printable kept waiting for the next chunk, at most
_QP_ESCAPE = re.compile(rb"=(?:([0-9A-Fa-f]{2})|[ \t]{0,%d}\r?\n)" % QP_SPACE)
_QP_ESCAPE_AT_END = re.compile(rb"=(?:([0-9A-Fa-f]{2})|[ \t]{0,%d}(?:\r?\n|\Z))" % QP_SPACE)


class StreamDecoder(Protocol):
    """Feed encoded chunks, get decoded bytes; finish() gives what the tail held."""

    def feed(self, data: bytes) -> bytes: ...

    def finish(self) -> bytes: ...

    @property
    def held(self) -> int:
        """Bytes kept for the next chunk: bounded, so each chunk costs its own length."""
        ...


class IdentityDecoder:
    """7bit, 8bit, binary, and encodings we do not know: the bytes as they are."""

    def feed(self, data: bytes) -> bytes:
        return data

    def finish(self) -> bytes:
        return b""

    @property
    def held(self) -> int:
        return 0


class Base64Decoder:
    """base64 in whole quanta of four characters, up to the first "=" (see the module)."""

    def __init__(self) -> None:
        self._pending = b""  # at most 3 characters of an unfinished quantum
        self._ended = False

    def feed(self, data: bytes) -> bytes:
        if self._ended:
            return b""  # after the padding: ignored, however much of it comes
        clean = data.translate(None, _B64_JUNK)
        pad = clean.find(b"=")
        if pad >= 0:
            clean = clean[:pad]
            self._ended = True
        text = self._pending + clean
        usable = len(text) - len(text) % 4
        self._pending = text[usable:]
        out = binascii.a2b_base64(text[:usable]) if usable else b""
        return out + self._tail() if self._ended else out

    def finish(self) -> bytes:
        if self._ended:
            return b""
        self._ended = True
        return self._tail()

    @property
    def held(self) -> int:
        return len(self._pending)

    def _tail(self) -> bytes:
        rest, self._pending = self._pending, b""
        if len(rest) < 2:
            return b""  # one character carries no whole byte
        return binascii.a2b_base64(rest + b"=" * (4 - len(rest)))


def _unescape(match: re.Match[bytes]) -> bytes:
    digits = match.group(1)
    return bytes.fromhex(digits.decode("ascii")) if digits else b""


class QuotedPrintableDecoder:
    """quoted-printable, decoded up to the last "=" that the next chunk might complete."""

    def __init__(self) -> None:
        self._pending = b""  # at most QP_HOLD bytes, starting with "="

    def feed(self, data: bytes) -> bytes:
        text = self._pending + data if self._pending else data
        # Cutting just before an "=" is always safe: no escape or soft break holds a
        # second "=". Only an "=" near the end may still be completed by the next chunk.
        cut = text.find(b"=", max(0, len(text) - QP_HOLD))
        if cut < 0:
            cut = len(text)
        self._pending = text[cut:]
        return _QP_ESCAPE.sub(_unescape, text[:cut])

    def finish(self) -> bytes:
        rest, self._pending = self._pending, b""
        return _QP_ESCAPE_AT_END.sub(_unescape, rest)

    @property
    def held(self) -> int:
        return len(self._pending)


def decoder_for(encoding: str) -> StreamDecoder:
    """The decoder for a Content-Transfer-Encoding (any case, spaces around ignored)."""
    name = encoding.strip().lower()
    if name == "base64":
        return Base64Decoder()
    if name == "quoted-printable":
        return QuotedPrintableDecoder()
    return IdentityDecoder()


def decode_chunks(chunks: Iterable[bytes], encoding: str) -> Iterator[bytes]:
    """The chunks, decoded by decoder_for(encoding); empty pieces are left out."""
    decoder = decoder_for(encoding)
    for chunk in chunks:
        out = decoder.feed(chunk)
        if out:
            yield out
    tail = decoder.finish()
    if tail:
        yield tail
