"""Checking PGP/MIME signatures with the real gpg, in a keyring made for the test: a
good signature, a changed body, and a signer whose key is not known."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pinesh.services.signatures import check_pgp_mime
from pinesh.stores.gpg_status import Verdict

SIGNED_PART = b"Content-Type: text/plain; charset=utf-8\r\n\r\nMeet at the harbour at six.\r\n"


def _gpg(home: Path, *args: str, data: bytes = b"") -> bytes:
    gpg = shutil.which("gpg")
    assert gpg, "gpg is not installed: scripts/install-test-deps.sh installs gnupg"
    done = subprocess.run(
        [gpg, "--homedir", str(home), "--batch", "--no-tty", *args],
        input=data,
        capture_output=True,
        timeout=120,
        check=True,
    )
    return done.stdout


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    _gpg(
        home,
        "--passphrase",
        "",
        "--quick-gen-key",
        "Jane Doe <jane@example.org>",
        "ed25519",
        "sign",
        "never",
    )
    return home


def _signed_message(home: Path, part: bytes = SIGNED_PART) -> bytes:
    # The CRLF before the next boundary belongs to the boundary (RFC 3156 5): not signed.
    signature = _gpg(home, "--armor", "--detach-sign", data=part.removesuffix(b"\r\n"))
    return (
        b"From: Jane Doe <jane@example.org>\r\nSubject: harbour\r\n"
        b"Content-Type: multipart/signed; micalg=pgp-sha512;"
        b' protocol="application/pgp-signature"; boundary="b1"\r\n\r\n'
        b"--b1\r\n" + part.removesuffix(b"\r\n") + b"\r\n--b1\r\n"
        b"Content-Type: application/pgp-signature\r\n\r\n" + signature + b"\r\n--b1--\r\n"
    )


def test_a_good_signature_by_the_users_own_key(keyring: Path) -> None:
    report = check_pgp_mime(_signed_message(keyring), {"GNUPGHOME": str(keyring)})
    assert report is not None and report.not_checked is None
    (check,) = report.checks
    assert check.verdict is Verdict.GOOD and check.valid  # one's own key: ultimate
    assert check.user_id == "Jane Doe <jane@example.org>" and len(check.fingerprint) == 40


def test_a_changed_body_fails_visibly(keyring: Path) -> None:
    message = _signed_message(keyring).replace(b"at six", b"at ten")
    report = check_pgp_mime(message, {"GNUPGHOME": str(keyring)})
    assert report is not None and report.verdict is Verdict.BAD


def test_a_signer_whose_key_is_not_known_is_not_verified(keyring: Path, tmp_path: Path) -> None:
    other = tmp_path / "empty-keyring"
    other.mkdir(mode=0o700)
    report = check_pgp_mime(_signed_message(keyring), {"GNUPGHOME": str(other)})
    assert report is not None and report.verdict is Verdict.NO_PUBLIC_KEY


def test_a_message_that_is_not_pgp_mime_is_not_checked() -> None:
    assert check_pgp_mime(b"From: a@example.org\r\n\r\nplain\r\n") is None
