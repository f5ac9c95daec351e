"""PGP/MIME between pinesh and the real mutt (Debian's, with GPGME), in a keyring made for
the test: what pinesh signs and encrypts, mutt shows with a good signature and decrypted
(read off its screen under tmux); what mutt's composer signs and encrypts, pinesh reads."""

from __future__ import annotations

import time
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
from tests.integration.helpers import short_dir
from tests.lab.common import which
from tests.lab.tmux import TmuxScreen
from tests.unit.gpg_keyring import drop_secret_key, make_keyring, mbox

JANE = Address("Jane Doe", "jane@example.org")
BOB = Address("Bob Roe", "bob@example.org")


@pytest.fixture
def work() -> Iterator[Path]:
    with short_dir() as path:
        # Jane's keyring: Bob's public key only (mutt would ask for his passphrase first).
        drop_secret_key(make_keyring(path / "gnupg"), "bob@example.org")
        (path / "inbox").touch()
        yield path


def _muttrc(work: Path, *, sign: bool, encrypt: bool) -> Path:
    sendmail = work / "sendmail"
    sendmail.write_text(f'#!/bin/sh\ncat > "{work}/sent.eml"\n')
    sendmail.chmod(0o755)
    muttrc = work / "muttrc"
    muttrc.write_text(
        f'set folder="{work}"\nset spoolfile="{work}/inbox"\nset record=""\n'
        f'set sendmail="{sendmail}"\nset from="Jane Doe <jane@example.org>"\nset use_from\n'
        "set crypt_use_gpgme\nset pgp_default_key=jane@example.org\nset pgp_self_encrypt\n"
        f"set crypt_autosign={'yes' if sign else 'no'}\n"
        f"set crypt_autoencrypt={'yes' if encrypt else 'no'}\n"
        'set editor="true"\nset abort_unmodified=no\nset pager_stop\nset wait_key=no\n'
    )
    return muttrc


def _mutt(work: Path, *args: str, sign: bool = False, encrypt: bool = False) -> TmuxScreen:
    which("mutt", "mutt")
    env = {"HOME": str(work), "GNUPGHOME": str(work / "gnupg"), "TERM": "xterm"}
    muttrc = _muttrc(work, sign=sign, encrypt=encrypt)
    return TmuxScreen(["mutt", "-n", "-F", str(muttrc), *args], env=env, width=120, height=40)


def _pinesh_sealed(work: Path, seal: Seal, text: str, monkeypatch: pytest.MonkeyPatch) -> bytes:
    monkeypatch.setenv("GNUPGHOME", str(work / "gnupg"))
    draft = Draft(sender=JANE, to=(BOB,), subject=f"pinesh {seal.describe()}", body=text)
    return seal_composed(compose(draft, domain="example.org", signed=seal.sign), seal).wire


def test_mutt_shows_what_pinesh_signs_and_encrypts_as_good(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed = _pinesh_sealed(work, Seal(sign=True), "Signed by pinesh.\n", monkeypatch)
    both = _pinesh_sealed(work, Seal(sign=True, encrypt=True), "Sealed by pinesh.\n", monkeypatch)
    mbox(work / "box", signed, both)
    screen = _mutt(work, "-f", str(work / "box"))
    try:
        screen.wait_for("pinesh signed (PGP/MIME)")
        screen.send("Enter")
        shown = screen.wait_for("Signed by pinesh.")
        assert "Good signature from" in shown and "jane@example.org" in shown
        screen.send("i")
        screen.wait_for("pinesh signed and encrypted")
        screen.send("j", "Enter")
        shown = screen.wait_for("Sealed by pinesh.")
        assert "Good signature from" in shown
        assert "PGP message successfully decrypted." in shown
    finally:
        screen.close()


def _compose_in_mutt(work: Path, *, sign: bool, encrypt: bool) -> bytes:
    (work / "body").write_text("Mutt says the code is 7291.\n")
    screen = _mutt(work, "-s", "from mutt", "-i", str(work / "body"), "bob@example.org",
                   sign=sign, encrypt=encrypt)  # fmt: skip
    try:
        # mutt asks To and Subject again (filled in) before its compose menu.
        screen.wait_for("To: bob@example.org")
        screen.send("Enter")
        screen.wait_for("Subject: from mutt")
        screen.send("Enter")
        wanted = "Sign, Encrypt" if sign and encrypt else ("Sign" if sign else "Encrypt")
        screen.wait_for(f"Security: {wanted}")
        screen.send("y")
        for _ in range(100):
            sent = work / "sent.eml"
            if sent.exists() and sent.stat().st_size and not screen.text().count("Sending"):
                break
            time.sleep(0.1)
        return (work / "sent.eml").read_bytes()
    finally:
        screen.close()


def _read(work: Path, message: bytes, monkeypatch: pytest.MonkeyPatch) -> ProtectedMessage:
    monkeypatch.setenv("GNUPGHOME", str(work / "gnupg"))
    rc = parse_pinerc("", str(work / "pinerc"))
    session = MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=work / "d")
    view = FolderView.open(session, str(mbox(work / "mutt-box", message)))
    try:
        return view.read_protected(view.uid_at(0))
    finally:
        view.close()


def test_pinesh_reads_what_mutt_signs_and_encrypts(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = _compose_in_mutt(work, sign=True, encrypt=True)
    assert b"multipart/encrypted" in sent and b"7291" not in sent
    shown = _read(work, sent, monkeypatch)
    (frame,) = shown.frames
    assert frame.kind is FrameKind.DECRYPTED
    assert "Mutt says the code is 7291." in shown.readable.text
    signature = shown.signature
    assert signature is not None and signature.verdict is Verdict.GOOD
    assert not signature.signer_mismatch((JANE,))


def test_pinesh_reads_what_mutt_signs(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sent = _compose_in_mutt(work, sign=True, encrypt=False)
    assert b"multipart/signed" in sent
    shown = _read(work, sent, monkeypatch)
    assert shown.frames[0].kind is FrameKind.SIGNED
    signature = shown.signature
    assert signature is not None and signature.verdict is Verdict.GOOD
