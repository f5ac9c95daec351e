"""The two halves of a multipart/signed message (RFC 1847, PGP/MIME RFC 3156, S/MIME
RFC 8551) as the signature covers them: pure, over the message's bytes.

The signature covers the first body part exactly as it was sent: its MIME headers and
body, lines ending in CRLF, up to (not including) the CRLF before the next boundary
line. Decoding or re-serialising it would change those bytes, so this module cuts them
out of the source itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pinesh.stores.headers import header_end, parse_header_block

MAX_SIGNED = 64 * 1024 * 1024  # bytes of message read for a signature check
# S/MIME's one-part type (enveloped or signed data): the standard name, and Microsoft's.
PKCS7_MIME = ("application/pkcs7-mime", "application/x-pkcs7-mime")


@dataclass(frozen=True)
class SignedParts:
    """What the signature covers, the signature's bytes, and the protocol named."""

    signed: bytes  # the first part, headers and body, with CRLF line ends
    signature: bytes  # the second part's body, as written (ASCII armour for PGP)
    protocol: str  # "application/pgp-signature", "application/pkcs7-signature", ...
    extra_parts: bool = False  # parts after the signature: not signed, and not shown


def crlf(data: bytes) -> bytes:
    """Every line end as CRLF (RFC 3156 5: the signed data is in canonical form)."""
    return re.sub(rb"\r?\n", b"\r\n", data)


def signed_parts(raw: bytes) -> SignedParts | None:
    """The halves of a top-level multipart/signed message; None when raw is not one
    (or is broken: no boundary, fewer than two parts)."""
    raw = raw[:MAX_SIGNED]
    end = header_end(raw)
    head = parse_header_block(raw[:end])
    if head.get_content_type() != "multipart/signed":
        return None
    boundary = head.get_param("boundary")
    protocol = str(head.get_param("protocol") or "").lower()
    if not isinstance(boundary, str) or not boundary or len(boundary) > 200:
        return None
    body = crlf(raw[end:])
    if not body.startswith(b"\r\n"):
        body = b"\r\n" + body  # the first delimiter may open the body directly
    delimiter = b"\r\n--" + boundary.encode("ascii", "replace")
    pieces = body.split(delimiter)
    if len(pieces) < 4:  # preamble, two parts, the closing "--" and epilogue
        return None
    first, second = (_after_delimiter_line(p) for p in pieces[1:3])
    if first is None or second is None:
        return None
    signature = second[header_end(second) :].lstrip(b"\r\n")
    # RFC 1847: exactly two parts. A third (before the close delimiter) is no one's.
    return SignedParts(first, signature, protocol, extra_parts=len(pieces) > 4)


def _after_delimiter_line(piece: bytes) -> bytes | None:
    """A part: what follows the rest of its delimiter line (transport padding)."""
    newline = piece.find(b"\r\n")
    if newline < 0 or piece[:newline].strip(b" \t"):
        return None  # "--" (the close delimiter) or text glued to the boundary
    return piece[newline + 2 :]
