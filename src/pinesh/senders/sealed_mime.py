"""The MIME shapes of signed and encrypted mail, built around a composed message: pure,
over bytes. PGP/MIME (RFC 3156) and S/MIME (RFC 8551); the signatures and ciphertexts
themselves come from gpg and gpgsm (services/sealing.py).

A composed message splits into its outer header (From, To, Subject...: what travels in
clear) and its entity (the Content-* header lines and the body: what is signed or
encrypted). The entity keeps CRLF line ends, which is the canonical form both
standards sign.
"""

from __future__ import annotations

import secrets

from pinesh.stores.signed_parts import crlf

# Header fields that belong to the entity: they describe the content, not the message.
_CONTENT_FIELDS = (b"content-", b"mime-version")
PGP_PREAMBLE = b"This is an OpenPGP/MIME %s message (RFC 4880 and 3156)\r\n"
SMIME_PREAMBLE = b"This is an S/MIME signed message (RFC 8551)\r\n"


class SealingError(ValueError):
    """The message cannot take this shape (an 8-bit entity cannot be signed)."""


def split_entity(message: bytes) -> tuple[bytes, bytes]:
    """(outer header lines, entity) of a composed message (CRLF line ends). The outer
    lines end in CRLF and leave out Content-* and MIME-Version; the entity is those
    lines, a blank line and the body."""
    end = message.find(b"\r\n\r\n")
    if end < 0:
        raise SealingError("the message has no header/body separator")
    fields: list[bytes] = []
    for line in message[: end + 2].split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line  # a folded line goes on with its field
        else:
            fields.append(line)
    outer = [f for f in fields if not f.lower().startswith(_CONTENT_FIELDS)]
    content = [f for f in fields if f.lower().startswith(b"content-")]
    if not content:  # RFC 2045: no Content-Type means text/plain; us-ascii
        content = [b"Content-Type: text/plain; charset=us-ascii"]
    body = message[end + 4 :]
    entity = b"\r\n".join(content) + b"\r\n\r\n" + body
    return b"".join(f + b"\r\n" for f in outer), entity


def require_seven_bit(entity: bytes) -> None:
    """Signed content must survive any mail relay unchanged (RFC 3156 5): 7-bit only."""
    if not entity.isascii():
        raise SealingError(
            "the message has 8-bit content that a relay may change, breaking the signature"
        )


def new_boundary() -> str:
    """A boundary no body can hold by chance (it is never in base64 or QP output)."""
    return f"=-pinesh-{secrets.token_hex(12)}"


def pgp_signed(outer: bytes, entity: bytes, armour: bytes, micalg: str, boundary: str) -> bytes:
    """A PGP/MIME multipart/signed message (RFC 3156 5)."""
    signature_part = (
        b'Content-Type: application/pgp-signature; name="signature.asc"\r\n'
        b"Content-Description: OpenPGP digital signature\r\n"
        b'Content-Disposition: attachment; filename="signature.asc"\r\n\r\n'
    )
    preamble = PGP_PREAMBLE % b"signed"
    return _multipart_signed(outer, entity, "application/pgp-signature", micalg, preamble,
                             signature_part + crlf(armour), boundary)  # fmt: skip


def pgp_encrypted(outer: bytes, armour: bytes, boundary: str) -> bytes:
    """A PGP/MIME multipart/encrypted message (RFC 3156 4)."""
    b = boundary.encode()
    return (
        outer
        + b"MIME-Version: 1.0\r\n"
        + b'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";\r\n'
        + b' boundary="' + b + b'"\r\n\r\n'
        + PGP_PREAMBLE % b"encrypted"
        + b"--" + b + b"\r\n"
        + b"Content-Type: application/pgp-encrypted\r\n"
        + b"Content-Description: PGP/MIME version identification\r\n\r\n"
        + b"Version: 1\r\n\r\n"
        + b"--" + b + b"\r\n"
        + b'Content-Type: application/octet-stream; name="encrypted.asc"\r\n'
        + b"Content-Description: OpenPGP encrypted message\r\n"
        + b'Content-Disposition: inline; filename="encrypted.asc"\r\n\r\n'
        + crlf(armour).removesuffix(b"\r\n") + b"\r\n"
        + b"--" + b + b"--\r\n"
    )  # fmt: skip


def smime_signed(outer: bytes, entity: bytes, base64: bytes, micalg: str, boundary: str) -> bytes:
    """An S/MIME multipart/signed message (RFC 8551 3.5.3), the signature in base64."""
    signature_part = (
        b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="smime.p7s"\r\n\r\n'
    )
    return _multipart_signed(outer, entity, "application/pkcs7-signature", micalg,
                             SMIME_PREAMBLE, signature_part + crlf(base64), boundary)  # fmt: skip


def _multipart_signed(
    outer: bytes,
    entity: bytes,
    protocol: str,
    micalg: str,
    preamble: bytes,
    signature_part: bytes,
    boundary: str,
) -> bytes:
    """multipart/signed (RFC 1847): the entity as it was signed, then the signature's
    part (its header lines and body)."""
    b = boundary.encode()
    return (
        outer
        + b"MIME-Version: 1.0\r\n"
        + b"Content-Type: multipart/signed; micalg=" + micalg.encode() + b";\r\n"
        + b' protocol="' + protocol.encode() + b'"; boundary="' + b + b'"\r\n\r\n'
        + preamble
        + b"--" + b + b"\r\n" + entity.removesuffix(b"\r\n") + b"\r\n"
        + b"--" + b + b"\r\n"
        + signature_part.removesuffix(b"\r\n") + b"\r\n"
        + b"--" + b + b"--\r\n"
    )  # fmt: skip


def smime_enveloped(outer: bytes, base64: bytes) -> bytes:
    """An S/MIME enveloped-data message (RFC 8551 3.3), the CMS object in base64."""
    return (
        outer
        + b"MIME-Version: 1.0\r\n"
        + b'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\r\n'
        + b"Content-Transfer-Encoding: base64\r\n"
        + b'Content-Disposition: attachment; filename="smime.p7m"\r\n\r\n'
        + crlf(base64).removesuffix(b"\r\n") + b"\r\n"
    )  # fmt: skip
