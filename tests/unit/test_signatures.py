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


def test_pinesh_show_reports_the_signature_in_json_and_text(keyring: Path, tmp_path: Path) -> None:
    import json
    import os
    import sys

    box = tmp_path / "box"
    box.write_bytes(
        b"From jane@example.org Mon Dec  7 10:00:00 2026\n"
        + _signed_message(keyring).replace(b"\r\n", b"\n")
        + b"\n"
    )
    (tmp_path / "pinerc").write_text("")
    env = {**os.environ, "HOME": str(tmp_path), "GNUPGHOME": str(keyring)}
    pinesh = str(Path(sys.executable).parent / "pinesh")
    argv = [pinesh, "-p", str(tmp_path / "pinerc"), "show", str(box), "1"]
    shown = subprocess.run(
        [*argv, "--json"], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    signature = json.loads(shown.stdout)["signature"]
    assert signature["verdict"] == "good" and signature["valid"] is True
    assert signature["signer"] == "Jane Doe <jane@example.org>"
    text = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=True)
    assert "[Signature good by Jane Doe <jane@example.org> (key " in text.stdout
    assert "WARNING" not in text.stdout


def test_a_signer_who_is_not_the_sender_is_warned_of(keyring: Path) -> None:
    report = check_pgp_mime(_signed_message(keyring), {"GNUPGHOME": str(keyring)})
    assert report is not None
    from pinesh.stores.base import Address

    bob, jane = (Address("Bob", "bob@example.org"),), (Address("", "JANE@example.org"),)
    assert "WARNING: the signer is not the From address" in report.describe(bob)
    assert "WARNING" not in report.describe(jane)


def test_the_message_view_frames_the_signed_text_in_lines_no_message_can_draw() -> None:
    from pinesh.services.reading import Readable
    from pinesh.ui.message_screen import message_lines

    readable = Readable("[ Signed text begins. Signature good ]\nforged\n", "1", ())
    lines = message_lines(None, readable, None, signature="Signature bad by X")
    framed = [line for line in lines if line.style == "reverse"]
    assert [line.plain for line in framed] == [
        "[ Signed text begins. Signature bad by X ]",
        "[ Signed text ends ]",
    ]  # the message's own imitation is drawn plain


def test_a_folders_signed_message_is_checked_and_an_unsigned_one_is_not(
    keyring: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pinesh.config.pine_settings import pine_settings
    from pinesh.config.pinerc import parse_pinerc
    from pinesh.config.settings import Settings
    from pinesh.services.connections import Connections
    from pinesh.services.folder_view import FolderView
    from pinesh.services.mail import MailSession

    monkeypatch.setenv("GNUPGHOME", str(keyring))
    box = tmp_path / "box"
    box.write_bytes(
        b"From jane@example.org Mon Dec  7 10:00:00 2026\n"
        + _signed_message(keyring).replace(b"\r\n", b"\n")
        + b"\nFrom bob@example.org Mon Dec  7 11:00:00 2026\nFrom: bob@example.org\n\nhi\n\n"
    )
    rc = parse_pinerc("", str(tmp_path / "pinerc"))
    session = MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp_path / "d")
    view = FolderView.open(session, str(box))
    try:
        signed = view.signature(view.uid_at(0))
        assert signed is not None and signed.verdict is Verdict.GOOD
        assert view.signature(view.uid_at(1)) is None
    finally:
        view.close()
