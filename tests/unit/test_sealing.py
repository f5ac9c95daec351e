"""Signing and encrypting outgoing mail with the real gpg, in a keyring made for the
test; each result is checked by gpg itself on the parts the stdlib email parser finds,
not by pinesh's own reading."""

from __future__ import annotations

import email
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.senders.compose import Draft, compose
from pinesh.services.connections import Connections
from pinesh.services.mail import MailSession
from pinesh.services.sealing import Seal, SealError, clearsigned, seal_composed
from pinesh.services.sending import send_draft
from pinesh.stores.base import Address
from pinesh.stores.gpg_status import Verdict
from tests.unit.gpg_keyring import (
    BOB_PASSPHRASE,
    forget_passphrases,
    gpg,
    make_keyring,
    signature_report,
)

JANE = Address("Jane Doe", "jane@example.org")
BOB = Address("Bob Roe", "bob@example.org")
BODY = "Grüße: the vault code is 7291.\n"


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keyring(tmp_path_factory.mktemp("gnupg") / "home")


@pytest.fixture(autouse=True)
def _home(keyring: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GNUPGHOME", str(keyring))


def _parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _draft(**changes: Any) -> Draft:
    return replace(Draft(sender=JANE, to=(BOB,), subject="vault", body=BODY), **changes)


def _signed_part_bytes(wire: bytes) -> tuple[bytes, bytes]:
    """The first part's bytes as sent (CRLF) and the signature: cut by hand, as RFC 3156
    says, independent of pinesh's own cutting."""
    boundary = _parsed(wire).get_boundary()
    assert boundary
    delimiter = b"\r\n--" + boundary.encode()
    pieces = (b"\r\n" + wire.split(b"\r\n\r\n", 1)[1]).split(delimiter)
    first = pieces[1].split(b"\r\n", 1)[1]
    signature = pieces[2].split(b"\r\n\r\n", 1)[1]
    return first, signature


def test_a_signed_message_verifies_with_gpg_on_its_own(keyring: Path, tmp_path: Path) -> None:
    composed = seal_composed(compose(_draft(), domain="example.org", signed=True),
                             Seal(sign=True))  # fmt: skip
    message = _parsed(composed.wire)
    assert message.get_content_type() == "multipart/signed"
    assert message.get_param("protocol") == "application/pgp-signature"
    first, signature = _signed_part_bytes(composed.wire)
    digest = {b"8": "pgp-sha256", b"10": "pgp-sha512"}  # RFC 4880 9.4
    packets = gpg(keyring, "--list-packets", data=signature)
    algo = packets.split(b"digest algo ")[1].split(b",")[0]
    assert message.get_param("micalg") == digest[algo]  # the hash the signature used
    (tmp_path / "data").write_bytes(first)
    (tmp_path / "sig.asc").write_bytes(signature)
    status = gpg(keyring, "--status-fd", "1", "--verify", str(tmp_path / "sig.asc"),
                 str(tmp_path / "data"))  # fmt: skip
    assert b"[GNUPG:] GOODSIG" in status
    assert composed.wire.isascii()  # 7-bit: the umlaut went as quoted-printable


def test_an_encrypted_message_opens_for_the_recipient_and_for_the_sender(keyring: Path) -> None:
    composed = seal_composed(compose(_draft(), domain="example.org"), Seal(encrypt=True))
    message = _parsed(composed.wire)
    assert message.get_content_type() == "multipart/encrypted"
    assert b"vault code" not in composed.wire and b"vault code" not in composed.fcc
    version, payload = message.iter_parts()
    assert version.get_content().strip() == b"Version: 1"
    armour = payload.get_content()
    assert isinstance(armour, bytes) and armour.startswith(b"-----BEGIN PGP MESSAGE-----")
    forget_passphrases(keyring)
    for_bob = gpg(keyring, "--pinentry-mode", "loopback", "--passphrase", BOB_PASSPHRASE,
                  "--try-secret-key", "bob@example.org", "--decrypt",
                  data=armour)  # fmt: skip
    assert "vault code is 7291" in _parsed(for_bob).get_body().get_content()  # type: ignore[union-attr]
    packets = gpg(keyring, "--list-only", "--list-packets", data=armour)
    assert packets.count(b":pubkey enc packet:") == 2  # Bob, and Jane for her own copy


def test_a_bcc_recipient_is_hidden_in_the_encryption(keyring: Path) -> None:
    draft = _draft(to=(), bcc=(BOB,))
    composed = compose(draft, domain="example.org")
    sealed = seal_composed(composed, Seal(encrypt=True), hidden=["bob@example.org"])
    armour = _parsed(sealed.wire).get_payload(1).get_content()  # type: ignore[union-attr]
    packets = gpg(keyring, "--list-only", "--list-packets", data=armour)
    assert b"keyid 0000000000000000" in packets  # a hidden recipient's key ID is zeros
    assert b"Bcc: " in sealed.fcc and b"Bcc: " not in sealed.wire


def test_a_recipient_without_a_key_stops_the_message_naming_them() -> None:
    carol = Address("", "carol@example.org")
    composed = compose(_draft(cc=(carol,)), domain="example.org")
    with pytest.raises(SealError, match=r"carol@example\.org: no key for it") as raised:
        seal_composed(composed, Seal(encrypt=True, sign=True))
    assert raised.value.missing == ("carol@example.org",)


def test_a_locked_signing_key_asks_and_a_passphrase_opens_it(keyring: Path) -> None:
    composed = compose(_draft(sender=BOB, to=(JANE,)), domain="example.org", signed=True)
    forget_passphrases(keyring)
    with pytest.raises(SealError) as raised:
        seal_composed(composed, Seal(sign=True))
    assert raised.value.needs_passphrase
    signed = seal_composed(composed, Seal(sign=True), passphrase=BOB_PASSPHRASE)
    assert _parsed(signed.wire).get_content_type() == "multipart/signed"
    forget_passphrases(keyring)


def test_a_news_article_is_clear_signed(keyring: Path, tmp_path: Path) -> None:
    signed = clearsigned("Hello, group.\n-- \nJane\n", "jane@example.org")
    assert signed.startswith("-----BEGIN PGP SIGNED MESSAGE-----")
    assert "- -- \nJane" in signed  # dash-escaped
    (tmp_path / "article").write_text(signed)
    status = gpg(keyring, "--status-fd", "1", "--verify", str(tmp_path / "article"))
    assert b"[GNUPG:] GOODSIG" in status


def _session(tmp: Path) -> MailSession:
    sendmail = tmp / "sendmail"
    sendmail.write_text(f'#!/bin/sh\ncat > "{tmp}/wire"\n')
    sendmail.chmod(0o755)
    rc = parse_pinerc(f"user-domain=example.org\nsendmail-path={sendmail}\n", str(tmp / "pinerc"))
    return MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp / "data")


def test_a_sent_encrypted_message_keeps_a_copy_the_sender_can_read(
    keyring: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mailbox

    monkeypatch.setenv("HOME", str(tmp_path))
    outcome = send_draft(_session(tmp_path), _draft(), seal=Seal(sign=True, encrypt=True))
    assert outcome.attempt.ok and outcome.fcc == "sent-mail"
    wire = (tmp_path / "wire").read_bytes()
    assert b"multipart/encrypted" in wire and b"vault code" not in wire
    (copy,) = mailbox.mbox(tmp_path / "mail" / "sent-mail")
    armour = _parsed(copy.as_bytes()).get_payload(1).get_content()  # type: ignore[union-attr]
    status = gpg(keyring, "--status-fd", "2", "--decrypt", data=armour)
    assert b"vault code is 7291" in _parsed(status).as_bytes() or b"7291" in status


def test_pinesh_send_that_cannot_encrypt_keeps_the_message(keyring: Path, tmp_path: Path) -> None:
    _session(tmp_path)  # writes the pinerc's sendmail
    (tmp_path / "pinerc").write_text(
        f"user-domain=example.org\nsendmail-path={tmp_path}/sendmail\npersonal-name=Jane Doe\n"
    )
    env = {**os.environ, "HOME": str(tmp_path), "GNUPGHOME": str(keyring), "USER": "jane"}
    pinesh = str(Path(sys.executable).parent / "pinesh")
    done = subprocess.run(
        [pinesh, "-p", str(tmp_path / "pinerc"), "send", "--to", "carol@example.org",
         "--subject", "secret", "--encrypt"],
        input="only for Carol\n", capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "carol@example.org: no key for it" in done.stderr
    assert "kept in postponed-msgs" in done.stderr
    assert not (tmp_path / "wire").exists()
    postponed = (tmp_path / "mail" / "postponed-msgs").read_bytes()
    assert b"X-Pinesh-Seal: encrypt" in postponed and b"multipart/encrypted" in postponed
    assert b"only for Carol" not in postponed  # kept encrypted, to Jane alone
    from pinesh.services.postponed import opened, request_from_postponed

    message = postponed.split(b"\n", 1)[1]  # the mbox From_ line off
    request = request_from_postponed(opened(message), fallback_sender=JANE)
    assert request.draft.body == "only for Carol\n" and request.seal.encrypt
    assert [a.email for a in request.draft.to] == ["carol@example.org"]


def test_seal_rules_add_what_they_say_for_the_recipients_they_name() -> None:
    from pinesh.config.settings import SealRule
    from pinesh.services.sealing import ruled_seal

    rules = (
        SealRule(("bob@example.org",), encrypt=True),
        SealRule(("@corp.example",), sign=True, smime=True),
    )
    assert ruled_seal(rules, ["carol@example.org"], Seal()) == Seal()
    assert ruled_seal(rules, ["BOB@example.org"], Seal()) == Seal(encrypt=True)
    assert ruled_seal(rules, ["ann@corp.example"], Seal()) == Seal(sign=True, smime=True)
    # Both kinds of recipient: both rules add; S/MIME only if every rule says it.
    both = ruled_seal(rules, ["bob@example.org", "ann@corp.example"], Seal())
    assert both == Seal(sign=True, encrypt=True, smime=False)
    assert ruled_seal(rules, ["carol@example.org"], Seal(sign=True)) == Seal(sign=True)


def test_alpines_smime_by_default_features_start_the_send_question() -> None:
    from pinesh.config.pine_settings import pine_settings
    from pinesh.services.sealing import starting_seal

    def pine(features: str) -> Callable[[str], bool]:
        return pine_settings(parse_pinerc(f"feature-list={features}\n", "pinerc")).feature

    sign = pine("smime-sign-by-default")
    both = pine("smime-sign-by-default, smime-encrypt-by-default")
    assert starting_seal(pine(""), (), ["bob@example.org"], Seal()) == Seal()
    assert starting_seal(sign, (), [], Seal()) == Seal(sign=True, smime=True)
    assert starting_seal(both, (), [], Seal()) == Seal(True, True, True)


def test_a_recipient_is_matched_by_the_whole_address_not_a_part_of_it() -> None:
    part = Address("", "ane@example.org")  # a part of jane@example.org
    composed = compose(_draft(to=(part,)), domain="example.org")
    with pytest.raises(SealError) as raised:
        seal_composed(composed, Seal(encrypt=True))
    assert raised.value.missing == ("ane@example.org",)


def test_an_address_with_braces_reaches_gpg_as_written() -> None:
    odd = Address("", "a{b}@example.org")  # RFC 5322 allows it; it names no file
    composed = compose(_draft(to=(odd,)), domain="example.org")
    with pytest.raises(SealError) as raised:
        seal_composed(composed, Seal(encrypt=True))
    assert raised.value.missing == ("a{b}@example.org",)


def test_without_a_key_of_ones_own_nothing_offers_to_send_in_clear() -> None:
    carol = Address("Carol", "carol@example.org")
    composed = compose(_draft(sender=carol), domain="example.org")
    with pytest.raises(SealError, match="cannot encrypt to your own address") as raised:
        seal_composed(composed, Seal(encrypt=True))
    assert raised.value.missing == ()  # the composer asks only about recipients' keys


def test_signed_text_goes_quoted_printable_where_a_relay_would_change_a_line(
    keyring: Path,
) -> None:
    body = "Trailing space here \nFrom the top: an mbox would escape this line.\n"
    composed = compose(_draft(body=body), domain="example.org", signed=True)
    sealed = seal_composed(composed, Seal(sign=True))
    assert b"Content-Transfer-Encoding: quoted-printable" in sealed.wire
    assert b"here=20" in sealed.wire and b"\r\nFrom the top" not in sealed.wire
    report = signature_report(sealed.wire)
    assert report is not None and report.verdict is Verdict.GOOD
    plain = compose(_draft(body="Nothing to change.\n"), domain="example.org", signed=True)
    assert b"Content-Transfer-Encoding: 7bit" in plain.wire  # only where needed


def test_a_bcc_recipient_at_an_idn_domain_is_hidden_too(keyring: Path, tmp_path: Path) -> None:
    gpg(keyring, "--passphrase", "", "--quick-gen-key", "Idn <bob@xn--bcher-kva.example>",
        "future-default", "default", "never")  # fmt: skip
    sendmail = tmp_path / "sendmail"
    sendmail.write_text(f'#!/bin/sh\ncat > "{tmp_path}/wire"\n')
    sendmail.chmod(0o755)
    rc = parse_pinerc(f'sendmail-path={sendmail}\ndefault-fcc=""\n', str(tmp_path / "pinerc"))
    session = MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp_path / "d")
    draft = _draft(bcc=(Address("", "bob@bücher.example"),))
    assert send_draft(session, draft, seal=Seal(encrypt=True)).attempt.ok
    armour = _parsed((tmp_path / "wire").read_bytes()).get_payload(1).get_content()  # type: ignore[union-attr]
    packets = gpg(keyring, "--list-only", "--list-packets", data=armour)
    assert b"keyid 0000000000000000" in packets
