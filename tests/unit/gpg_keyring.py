"""A GnuPG keyring made for a test, and messages signed and encrypted with the real gpg:
Jane's key has no passphrase, Bob's is locked with BOB_PASSPHRASE."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from pinesh.services.signatures import SignatureReport, check_signed

JANE = "Jane Doe <jane@example.org>"
BOB = "Bob Roe <bob@example.org>"
BOB_PASSPHRASE = "correct horse"
SIGNED_PART = b"Content-Type: text/plain; charset=utf-8\r\n\r\nMeet at the harbour at six.\r\n"


def gpg(home: Path, *args: str, data: bytes = b"") -> bytes:
    """gpg's output for args, in home; fails the test when gpg fails."""
    found = shutil.which("gpg")
    assert found, "gpg is not installed: scripts/install-test-deps.sh installs gnupg"
    done = subprocess.run(
        [found, "--homedir", str(home), "--batch", "--no-tty", *args],
        input=data,
        capture_output=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def make_keyring(home: Path) -> Path:
    """A keyring in home with Jane's and Bob's keys (ed25519 signing, cv25519 encryption)."""
    home.mkdir(mode=0o700, exist_ok=True)
    home.chmod(0o700)
    gpg(home, "--passphrase", "", "--quick-gen-key", JANE, "future-default", "default", "never")
    gpg(home, "--passphrase", BOB_PASSPHRASE, "--pinentry-mode", "loopback",
        "--quick-gen-key", BOB, "future-default", "default", "never")  # fmt: skip
    return home


def forget_passphrases(home: Path) -> None:
    """The agent forgets any passphrase it cached (the next use asks again)."""
    subprocess.run(["gpgconf", "--homedir", str(home), "--reload", "gpg-agent"], check=False)


def pgp_mime_signed(home: Path, part: bytes = SIGNED_PART, sender: str = JANE) -> bytes:
    """A whole PGP/MIME signed message (RFC 3156) whose first part is part."""
    # The CRLF before the next boundary belongs to the boundary (RFC 3156 5): not signed.
    signature = gpg(home, "--armor", "--detach-sign", data=part.removesuffix(b"\r\n"))
    return (
        f"From: {sender}\r\nSubject: harbour\r\n".encode()
        + b"Content-Type: multipart/signed; micalg=pgp-sha512;"
        b' protocol="application/pgp-signature"; boundary="b1"\r\n\r\n'
        b"--b1\r\n" + part.removesuffix(b"\r\n") + b"\r\n--b1\r\n"
        b"Content-Type: application/pgp-signature\r\n\r\n" + signature + b"\r\n--b1--\r\n"
    )


def pgp_mime_encrypted(
    home: Path, inner: bytes, recipients: tuple[str, ...], *, sign_as: str | None = None
) -> bytes:
    """A whole PGP/MIME encrypted message (RFC 3156 4) holding the MIME entity inner."""
    args = ["--armor", "--trust-model", "always"]
    for recipient in recipients:
        args += ["-r", recipient]
    args += ["--sign", "--local-user", sign_as, "--encrypt"] if sign_as else ["--encrypt"]
    armour = gpg(home, *args, data=inner)
    return (
        b"From: Jane Doe <jane@example.org>\r\nTo: bob@example.org\r\nSubject: sealed\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";'
        b' boundary="e1"\r\n\r\n'
        b"--e1\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"
        b'--e1\r\nContent-Type: application/octet-stream; name="encrypted.asc"\r\n\r\n'
        + armour
        + b"\r\n--e1--\r\n"
    )


def inline_message(body: bytes, subject: str = "inline") -> bytes:
    """A one-part text/plain message with body."""
    return (
        f"From: Jane Doe <jane@example.org>\r\nSubject: {subject}\r\n".encode()
        + b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        + body
    )


def mbox(path: Path, *messages: bytes) -> Path:
    """An mbox file at path holding messages (LF line ends, as on disk)."""
    with path.open("wb") as out:
        for message in messages:
            out.write(b"From jane@example.org Mon Dec  7 10:00:00 2026\n")
            out.write(message.replace(b"\r\n", b"\n").rstrip(b"\n") + b"\n\n")
    return path


def drop_secret_key(home: Path, address: str) -> None:
    """Delete the secret key of address (its public key stays): the keyring is then one
    that can encrypt to it but not decrypt for it."""
    listing = gpg(home, "--with-colons", "--list-secret-keys", address).decode()
    fingerprint = next(
        line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr")
    )
    gpg(home, "--yes", "--delete-secret-keys", fingerprint)


def signature_report(
    raw: bytes, environ: Mapping[str, str] | None = None
) -> SignatureReport | None:
    """The check of raw's multipart/signed signature (check_signed's report alone)."""
    checked = check_signed(raw, environ)
    return checked[0] if checked else None
