"""Cutting a multipart/signed message into what its signature covers and the signature,
from literal messages, broken ones included."""

from __future__ import annotations

import pytest

from pinesh.stores.signed_parts import signed_parts

SIGNED = (
    b"From: jane@example.org\r\n"
    b'Content-Type: multipart/signed; micalg=pgp-sha256;\r\n protocol="application/pgp-signature";'
    b' boundary="XyZ"\r\n\r\n'
    b"This is an OpenPGP/MIME signed message.\r\n"
    b"--XyZ\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Signed words.\r\n"
    b"--XyZ\r\n"
    b'Content-Type: application/pgp-signature; name="signature.asc"\r\n\r\n'
    b"-----BEGIN PGP SIGNATURE-----\r\nAAAA\r\n-----END PGP SIGNATURE-----\r\n"
    b"--XyZ--\r\n"
)


def test_the_signed_part_is_cut_out_byte_for_byte() -> None:
    parts = signed_parts(SIGNED)
    assert parts is not None
    assert parts.signed == b"Content-Type: text/plain; charset=utf-8\r\n\r\nSigned words."
    assert parts.signature.startswith(b"-----BEGIN PGP SIGNATURE-----\r\nAAAA")
    assert parts.protocol == "application/pgp-signature"


def test_lf_line_ends_are_made_crlf_as_the_signature_covers_them() -> None:
    parts = signed_parts(SIGNED.replace(b"\r\n", b"\n"))
    assert parts is not None
    assert parts.signed == b"Content-Type: text/plain; charset=utf-8\r\n\r\nSigned words."


@pytest.mark.parametrize(
    "message",
    [
        SIGNED.replace(b"multipart/signed", b"multipart/mixed"),  # not signed
        SIGNED.replace(b' boundary="XyZ"', b""),  # no boundary
        SIGNED.replace(b"--XyZ--\r\n", b"").split(b"--XyZ\r\nContent-Type: application")[0],
        b"",
        b'Content-Type: multipart/signed; boundary=""\r\n\r\n--\r\n',
        SIGNED.replace(b"--XyZ\r\nContent-Type: text/plain", b"--XyZjunk\r\nContent-Type: text"),
    ],
)
def test_a_message_that_is_not_a_whole_signed_one_gives_nothing(message: bytes) -> None:
    assert signed_parts(message) is None
