"""S/MIME through gpgsm, checked against the openssl command as another program: what
pinesh signs and encrypts, openssl verifies and decrypts; what openssl signs and
encrypts, pinesh verifies and decrypts; a changed message fails visibly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.senders.compose import Draft, compose
from pinesh.services.connections import Connections
from pinesh.services.folder_view import FolderView
from pinesh.services.mail import MailSession
from pinesh.services.protection import FrameKind, ProtectedMessage
from pinesh.services.sealing import Seal, seal_composed
from pinesh.stores.base import Address
from pinesh.stores.gpg_status import Verdict
from tests.unit.gpg_keyring import mbox
from tests.unit.smime_ca import SmimeCa, make_ca, openssl_smime

JANE = Address("Jane Doe", "jane@example.org")
BOB = Address("Bob Roe", "bob@example.org")
TEXT = b"Content-Type: text/plain; charset=us-ascii\r\n\r\nThe vault code is 7291.\r\n"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> SmimeCa:
    return make_ca(tmp_path_factory.mktemp("smime"))


@pytest.fixture
def read(ca: SmimeCa, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("GNUPGHOME", str(ca.home))
    rc = parse_pinerc("", str(tmp_path / "pinerc"))
    session = MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp_path / "d")
    views: list[FolderView] = []

    def reader(message: bytes) -> ProtectedMessage:
        view = FolderView.open(session, str(mbox(tmp_path / f"box{len(views)}", message)))
        views.append(view)
        return view.read_protected(view.uid_at(0))

    yield reader
    for view in views:
        view.close()


def _from_bob(mime: bytes) -> bytes:
    """openssl's MIME output as a whole message from Bob."""
    return b"From: Bob Roe <bob@example.org>\r\nTo: jane@example.org\r\nSubject: s\r\n" + mime


def _sealed(seal: Seal, ca: SmimeCa, monkeypatch: pytest.MonkeyPatch) -> bytes:
    monkeypatch.setenv("GNUPGHOME", str(ca.home))
    draft = Draft(sender=JANE, to=(BOB,), subject="vault", body="The vault code is 7291.\n")
    return seal_composed(compose(draft, domain="example.org", signed=seal.sign), seal).wire


def test_what_pinesh_signs_openssl_verifies(ca: SmimeCa, monkeypatch: pytest.MonkeyPatch) -> None:
    wire = _sealed(Seal(sign=True, smime=True), ca, monkeypatch)
    assert b'protocol="application/pkcs7-signature"' in wire
    content = openssl_smime("-verify", "-CAfile", str(ca.ca), data=wire)
    assert b"The vault code is 7291." in content
    with pytest.raises(Exception):  # noqa: B017 - openssl exits non-zero, any way
        openssl_smime("-verify", "-CAfile", str(ca.ca), data=wire.replace(b"7291", b"7292"))


def test_what_pinesh_encrypts_openssl_decrypts_as_bob(
    ca: SmimeCa, monkeypatch: pytest.MonkeyPatch
) -> None:
    wire = _sealed(Seal(sign=True, encrypt=True, smime=True), ca, monkeypatch)
    assert b"smime-type=enveloped-data" in wire and b"7291" not in wire
    inner = openssl_smime("-decrypt", "-recip", str(ca.bob_cert), "-inkey", str(ca.bob_key),
                          data=wire)  # fmt: skip
    assert b"multipart/signed" in inner  # signed, then enveloped
    content = openssl_smime("-verify", "-CAfile", str(ca.ca), data=inner)
    assert b"The vault code is 7291." in content


def test_what_pinesh_encrypts_pinesh_reads_back_decrypted_and_signed(
    ca: SmimeCa, monkeypatch: pytest.MonkeyPatch, read: object
) -> None:
    wire = _sealed(Seal(sign=True, encrypt=True, smime=True), ca, monkeypatch)
    shown = read(wire)  # type: ignore[operator]
    (frame,) = shown.frames
    assert frame.kind is FrameKind.DECRYPTED and frame.scheme == "S/MIME"
    assert "The vault code is 7291." in shown.readable.text
    assert shown.signature is not None and shown.signature.verdict is Verdict.GOOD
    opening = frame.opening((JANE,))
    assert "S/MIME has no integrity check" in opening and "WARNING" not in opening


def test_what_openssl_signs_pinesh_verifies_and_a_change_is_bad(ca: SmimeCa, read: object) -> None:
    signed = openssl_smime("-sign", "-signer", str(ca.bob_cert), "-inkey", str(ca.bob_key),
                           data=TEXT)  # fmt: skip
    shown = read(_from_bob(signed))  # type: ignore[operator]
    signature = shown.signature
    assert signature is not None and signature.verdict is Verdict.GOOD and signature.checks[0].valid
    assert not signature.signer_mismatch((BOB,))  # the address is in subjectAltName only
    assert signature.signer_mismatch((JANE,))
    assert shown.frames[0].kind is FrameKind.SIGNED and shown.frames[0].scheme == "S/MIME"
    changed = read(_from_bob(signed.replace(b"7291", b"7292")))  # type: ignore[operator]
    assert changed.signature is not None and changed.signature.verdict is Verdict.BAD


def test_an_opaque_signed_message_shows_the_text_inside_its_signature(
    ca: SmimeCa, read: object
) -> None:
    signed = openssl_smime("-sign", "-nodetach", "-signer", str(ca.bob_cert), "-inkey",
                           str(ca.bob_key), data=TEXT)  # fmt: skip
    assert b"signed-data" in signed
    shown = read(_from_bob(signed))  # type: ignore[operator]
    assert shown.frames[0].kind is FrameKind.SIGNED
    assert shown.readable.text.strip() == "The vault code is 7291."
    assert shown.signature is not None and shown.signature.verdict is Verdict.GOOD


def test_what_openssl_encrypts_to_jane_pinesh_decrypts(ca: SmimeCa, read: object) -> None:
    encrypted = openssl_smime("-encrypt", "-aes256", str(ca.jane_cert), data=TEXT)
    shown = read(_from_bob(encrypted))  # type: ignore[operator]
    (frame,) = shown.frames
    assert frame.kind is FrameKind.DECRYPTED and frame.scheme == "S/MIME"
    assert shown.readable.text.strip() == "The vault code is 7291."
    assert "Not signed: who wrote it is not known" in (frame.opening(()) or "")


def test_a_message_encrypted_for_bob_alone_is_not_decrypted(ca: SmimeCa, read: object) -> None:
    encrypted = openssl_smime("-encrypt", "-aes256", str(ca.bob_cert), data=TEXT)
    shown = read(_from_bob(encrypted))  # type: ignore[operator]
    assert shown.frames[0].kind is FrameKind.NOT_DECRYPTED and shown.readable.text == ""


def test_smime_encryption_with_a_bcc_recipient_is_refused(
    ca: SmimeCa, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pinesh.services.sealing import SealError

    monkeypatch.setenv("GNUPGHOME", str(ca.home))
    draft = Draft(sender=JANE, bcc=(BOB,), subject="blind", body="x\n")
    composed = compose(draft, domain="example.org")
    with pytest.raises(SealError, match="a Bcc recipient would not be hidden"):
        seal_composed(composed, Seal(encrypt=True, smime=True), hidden=["bob@example.org"])
