"""Checking PGP/MIME signatures with the real gpg, in a keyring made for the test: a
good signature, a changed body, and a signer whose key is not known."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pinesh.stores.gpg_status import Verdict
from tests.unit.gpg_keyring import SIGNED_PART, make_keyring, pgp_mime_signed, signature_report


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keyring(tmp_path_factory.mktemp("gnupg") / "home")


def _signed_message(home: Path, part: bytes = SIGNED_PART) -> bytes:
    return pgp_mime_signed(home, part)


def test_a_good_signature_by_the_users_own_key(keyring: Path) -> None:
    report = signature_report(_signed_message(keyring), {"GNUPGHOME": str(keyring)})
    assert report is not None and report.not_checked is None
    (check,) = report.checks
    assert check.verdict is Verdict.GOOD and check.valid  # one's own key: ultimate
    assert check.user_id == "Jane Doe <jane@example.org>" and len(check.fingerprint) == 40


def test_a_changed_body_fails_visibly(keyring: Path) -> None:
    message = _signed_message(keyring).replace(b"at six", b"at ten")
    report = signature_report(message, {"GNUPGHOME": str(keyring)})
    assert report is not None and report.verdict is Verdict.BAD


def test_a_signer_whose_key_is_not_known_is_not_verified(keyring: Path, tmp_path: Path) -> None:
    other = tmp_path / "empty-keyring"
    other.mkdir(mode=0o700)
    report = signature_report(_signed_message(keyring), {"GNUPGHOME": str(other)})
    assert report is not None and report.verdict is Verdict.NO_PUBLIC_KEY


def test_a_message_that_is_not_pgp_mime_is_not_checked() -> None:
    assert signature_report(b"From: a@example.org\r\n\r\nplain\r\n") is None


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
    assert (
        "[ Signed text begins (PGP/MIME). Signature good by Jane Doe <jane@example.org> (key "
        in (text.stdout)
    )
    assert "[ Signed text ends ]" in text.stdout
    assert "WARNING" not in text.stdout


def test_a_signer_who_is_not_the_sender_is_warned_of(keyring: Path) -> None:
    report = signature_report(_signed_message(keyring), {"GNUPGHOME": str(keyring)})
    assert report is not None
    from pinesh.stores.base import Address

    bob, jane = (Address("Bob", "bob@example.org"),), (Address("", "JANE@example.org"),)
    assert "WARNING: the signer is not the From address" in report.describe(bob)
    assert "WARNING" not in report.describe(jane)


def test_the_message_view_frames_the_signed_text_in_lines_no_message_can_draw() -> None:
    from pinesh.services.protection import Frame, FrameKind
    from pinesh.services.reading import Readable
    from pinesh.services.signatures import SignatureReport
    from pinesh.stores.gpg_status import SignatureCheck
    from pinesh.ui.message_screen import message_lines

    text = "[ Signed text begins (PGP/MIME). Signature good ]\nforged\n"
    readable = Readable(text, "1", ())
    bad = SignatureReport((SignatureCheck(Verdict.BAD, "AB12", user_id="X"),))
    lines = message_lines(
        None, readable, None, frames=(Frame(FrameKind.SIGNED, text, "PGP/MIME", bad),)
    )
    framed = [line for line in lines if line.style == "reverse"]
    assert [line.plain for line in framed] == [
        "[ Signed text begins (PGP/MIME). Signature bad by X (key AB12) ]",
        "[ Signed text ends ]",
    ]  # the message's own imitation is drawn plain
    assert any(
        line.plain.startswith("[ Signed text begins (PGP/MIME). Signature good")
        and line.style != "reverse"
        for line in lines
    )


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
        signed = view.read_protected(view.uid_at(0)).signature
        assert signed is not None and signed.verdict is Verdict.GOOD
        assert view.read_protected(view.uid_at(1)).signature is None
    finally:
        view.close()


def test_a_from_address_on_any_of_the_keys_user_ids_is_the_signer(tmp_path: Path) -> None:
    from pinesh.stores.base import Address
    from tests.unit.gpg_keyring import gpg

    home = make_keyring(tmp_path / "home")
    gpg(home, "--quick-add-uid", "jane@example.org", "Jane Doe <jane@work.example>")
    report = signature_report(pgp_mime_signed(home), {"GNUPGHOME": str(home)})
    assert report is not None and report.verdict is Verdict.GOOD
    assert set(report.checks[0].emails) == {"jane@example.org", "jane@work.example"}
    assert not report.signer_mismatch((Address("", "Jane@Work.example"),))
    assert report.signer_mismatch((Address("", "ceo@example.org"),))


def test_a_signature_swapped_in_from_another_message_is_bad(keyring: Path) -> None:
    other = SIGNED_PART.replace(b"at six", b"at nine")
    original, donor = pgp_mime_signed(keyring), pgp_mime_signed(keyring, other)
    signature = donor[donor.index(b"-----BEGIN PGP SIGNATURE-----") :]
    swapped = original[: original.index(b"-----BEGIN PGP SIGNATURE-----")] + signature
    report = signature_report(swapped, {"GNUPGHOME": str(keyring)})
    assert report is not None and report.verdict is Verdict.BAD
