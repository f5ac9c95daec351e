"""Signing and encrypting a composed message with the user's own keys: PGP/MIME through
gpg (RFC 3156; signed and encrypted in one, 6.2), S/MIME through gpgsm (RFC 8551; signed,
then the signed message enveloped).

- The sender is always one of the recipients, so the copy kept (Fcc, the outbox) can be
  read again by the one who wrote it.
- Bcc recipients are hidden recipients (gpg -R): the others cannot see their key IDs.
- A message that cannot be encrypted for every recipient is not sent: SealError names
  who lacks a key and why. Sending it in clear instead is the user's choice, asked for.
- A locked signing key: SealError with needs_passphrase, and the caller asks.
- Only the Subject and the other outer header lines travel in clear; the text and the
  attachments are sealed. (Protected headers are not yet written.)
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from pinesh.config.settings import SealRule
from pinesh.errors import PineshError
from pinesh.senders.compose import Composed
from pinesh.senders.sealed_mime import (
    SealingError,
    new_boundary,
    pgp_encrypted,
    pgp_signed,
    require_seven_bit,
    smime_enveloped,
    smime_signed,
    split_entity,
)
from pinesh.services.gpg_run import GpgMissing, GpgResult, run_gpg
from pinesh.stores.gpg_status import sealing_status

SEAL_HEADER = "X-Pinesh-Seal"  # in a postponed message: what ^X is to do


@dataclass(frozen=True)
class Seal:
    """How one message is protected: signed, encrypted, and by which standard."""

    sign: bool = False
    encrypt: bool = False
    smime: bool = False  # S/MIME (gpgsm) rather than OpenPGP (gpg)

    @property
    def wanted(self) -> bool:
        return self.sign or self.encrypt

    @property
    def scheme(self) -> str:
        return "S/MIME" if self.smime else "PGP/MIME"

    def describe(self) -> str:
        """'signed and encrypted (PGP/MIME)', 'signed (S/MIME)', or 'not signed or encrypted'."""
        done = " and ".join(
            w for w, on in (("signed", self.sign), ("encrypted", self.encrypt)) if on
        )
        return f"{done} ({self.scheme})" if done else "not signed or encrypted"


NO_SEAL = Seal()  # a message sent as it is


def starting_seal(
    feature: Callable[[str], bool],
    rules: Sequence[SealRule],
    recipients: Sequence[str],
    seal: Seal,
) -> Seal:
    """What the send question starts with: seal (a reply's, a postponed message's), with
    the pinerc's smime-sign-by-default and smime-encrypt-by-default (Alpine's S/MIME
    features), then the config's [[seal]] rules for recipients."""
    if feature("smime-sign-by-default") or feature("smime-encrypt-by-default"):
        seal = Seal(
            sign=seal.sign or feature("smime-sign-by-default"),
            encrypt=seal.encrypt or feature("smime-encrypt-by-default"),
            smime=True,
        )
    return ruled_seal(rules, recipients, seal)


def ruled_seal(rules: Sequence[SealRule], recipients: Sequence[str], seal: Seal) -> Seal:
    """seal with what the pinesh config's [[seal]] rules add for recipients: signed or
    encrypted when any rule naming one of them says so; S/MIME when every such rule
    does (the two standards cannot be mixed in one message)."""
    addresses = {address.lower() for address in recipients}
    domains = {"@" + address.rpartition("@")[2] for address in addresses}
    matched = [rule for rule in rules if set(rule.recipients) & (addresses | domains)]
    if not matched:
        return seal
    return Seal(
        sign=seal.sign or any(rule.sign for rule in matched),
        encrypt=seal.encrypt or any(rule.encrypt for rule in matched),
        smime=seal.smime or all(rule.smime for rule in matched),
    )


def seal_words(seal: Seal) -> str:
    """The seal as words for a postponed message's header: "sign, encrypt, smime"."""
    words = (("sign", seal.sign), ("encrypt", seal.encrypt), ("smime", seal.smime))
    return ", ".join(word for word, on in words if on)


def seal_from_words(text: str) -> Seal:
    """The seal a postponed message's header names (unknown words are left out)."""
    words = {word.strip().lower() for word in text.split(",")}
    return Seal("sign" in words, "encrypt" in words, "smime" in words)


class SealError(PineshError):
    """The message could not be signed or encrypted; nothing was sent."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        missing: tuple[str, ...] = (),
        needs_passphrase: bool = False,
    ) -> None:
        super().__init__(message, hint=hint)
        self.missing = missing  # recipients who have no usable key
        self.needs_passphrase = needs_passphrase


def seal_message(
    message: bytes,
    seal: Seal,
    *,
    signer: str,
    recipients: Sequence[str],
    hidden: Sequence[str] = (),
    passphrase: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> bytes:
    """message (as compose built it, CRLF) signed and/or encrypted as seal says. signer:
    the From address (its key signs; it is also encrypted to). SealError when not."""
    if not seal.wanted:
        return message
    try:
        outer, entity = split_entity(message)
        if seal.sign and (seal.smime or not seal.encrypt):  # a signature others can see
            require_seven_bit(entity)
    except SealingError as exc:
        raise SealError(f"cannot sign or encrypt the message: {exc}") from None
    everyone = list(dict.fromkeys([*recipients, signer]))
    if seal.smime:
        if seal.encrypt and hidden:
            raise SealError(
                "S/MIME names every recipient's certificate in the message: a Bcc "
                "recipient would not be hidden",
                hint="send the Bcc copy as a message of its own, or use PGP/MIME (M)",
            )
        return _smime(outer, entity, seal, signer, everyone, passphrase, environ)
    return _pgp(outer, entity, seal, signer, everyone, hidden, passphrase, environ)


def seal_composed(
    composed: Composed,
    seal: Seal,
    *,
    hidden: Sequence[str] = (),
    passphrase: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Composed:
    """A composed message sealed: the wire form and the Fcc copy (the same sealed body,
    with the Bcc line the copy keeps) from one signature or encryption."""
    if not seal.wanted:
        return composed
    sealed = seal_message(
        composed.wire,
        seal,
        signer=composed.envelope.sender,
        recipients=composed.envelope.recipients,
        hidden=hidden,
        passphrase=passphrase,
        environ=environ,
    )
    wire_outer = split_entity(composed.wire)[0]
    fcc_outer = split_entity(composed.fcc)[0]
    fcc = fcc_outer + sealed[len(wire_outer) :]
    return replace(composed, wire=sealed, fcc=fcc)


def clearsigned(
    text: str,
    signer: str,
    *,
    passphrase: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """text clear-signed by signer's key (inline PGP, as Usenet signs articles: a reader
    without PGP still reads the text). SealError when it cannot be."""
    data = text.replace("\r\n", "\n").encode("utf-8")
    args = ["--armor", "--local-user", key_of(signer), "--output", "{output}", "--clearsign"]
    done = _run([*args, "{input}"], data, "gpg", passphrase, environ, signer)
    return done.output.decode("utf-8", "replace")


def _pgp(
    outer: bytes,
    entity: bytes,
    seal: Seal,
    signer: str,
    everyone: Sequence[str],
    hidden: Sequence[str],
    passphrase: str | None,
    environ: Mapping[str, str] | None,
) -> bytes:
    if not seal.encrypt:
        args = ["--armor", "--local-user", key_of(signer), "--output", "{output}", "--detach-sign"]
        done = _run([*args, "{input}"], _as_placed(entity), "gpg", passphrase, environ, signer)
        micalg = "pgp-" + (sealing_status(done.status).hash_name or "sha256")
        return pgp_signed(outer, entity, done.output, micalg, new_boundary())
    args = ["--armor"]
    for address in everyone:
        args += ["--hidden-recipient" if address in hidden else "--recipient", key_of(address)]
    if seal.sign:
        args += ["--local-user", key_of(signer), "--sign"]
    args += ["--output", "{output}", "--encrypt", "{input}"]
    done = _run(args, entity, "gpg", passphrase, environ, signer)
    return pgp_encrypted(outer, done.output, new_boundary())


def _smime(
    outer: bytes,
    entity: bytes,
    seal: Seal,
    signer: str,
    everyone: Sequence[str],
    passphrase: str | None,
    environ: Mapping[str, str] | None,
) -> bytes:
    if seal.sign:
        args = ["--base64", "--local-user", key_of(signer), "--output", "{output}", "--detach-sign"]
        done = _run([*args, "{input}"], _as_placed(entity), "gpgsm", passphrase, environ, signer)
        micalg = sealing_status(done.status).hash_name or "sha256"
        micalg = micalg.replace("sha", "sha-") if micalg.startswith("sha") else micalg
        signed = smime_signed(outer, entity, done.output, micalg, new_boundary())
        if not seal.encrypt:
            return signed
        outer, entity = split_entity(signed)
    args = ["--base64"]
    for address in everyone:
        args += ["--recipient", key_of(address)]
    args += ["--output", "{output}", "--encrypt", "{input}"]
    done = _run(args, entity, "gpgsm", passphrase, environ, signer)
    return smime_enveloped(outer, done.output)


def key_of(address: str) -> str:
    """The key of exactly this address, as gpg and gpgsm match it ("<addr>"): a bare
    address is a substring match, so "al@x.org" would pick sal@x.org's key."""
    return f"<{address.strip().strip('<>')}>"


def _as_placed(entity: bytes) -> bytes:
    """What a signature covers: the entity up to, not including, the CRLF before the
    next boundary, which belongs to the boundary (RFC 3156 5, RFC 8551 3.5.3)."""
    return entity.removesuffix(b"\r\n")


def _run(
    args: list[str],
    entity: bytes,
    program: str,
    passphrase: str | None,
    environ: Mapping[str, str] | None,
    signer: str,
) -> GpgResult:
    """Run program on the entity; SealError (naming keys and addresses) unless it wrote
    its output. signer: the user's own address (a key of theirs missing is no
    recipient's)."""
    try:
        done = run_gpg(args, {"input": entity}, program=program, passphrase=passphrase,
                       environ=environ)  # fmt: skip
    except GpgMissing as exc:
        raise SealError(f"{exc}: the message cannot be signed or encrypted",
                        hint=f"install {program} (Debian: gnupg, gpgsm)") from None  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SealError(f"{program} could not run: {exc}") from None
    status = sealing_status(done.status)
    if done.returncode == 0 and done.output:
        return done
    invalid = [(address.strip("<>"), why) for address, why in status.invalid_recipients]
    own = [why for address, why in invalid if address.lower() == signer.lower()]
    if own:  # the copy kept (Fcc, outbox) must open for its writer: no offer to send clear
        raise SealError(
            f"cannot encrypt to your own address {signer}: {own[0]}",
            hint=f"make or import your key for {signer} ({program}); the copy you keep "
            "must be one you can read",
        )
    if invalid:
        said = "; ".join(f"{address}: {why}" for address, why in invalid)
        raise SealError(
            f"cannot encrypt for every recipient ({said})",
            hint=f"import their keys ({program} --import), or send without encrypting",
            missing=tuple(address for address, _ in invalid),
        )
    if status.invalid_signers:
        said = "; ".join(f"{address.strip('<>')}: {why}" for address, why in status.invalid_signers)
        raise SealError(f"cannot sign as {said}", hint=f"make or import your key ({program})")
    if status.needs_passphrase or status.bad_passphrase:
        word = "was wrong" if status.bad_passphrase else "is needed"
        raise SealError(f"the passphrase of your key {word}", needs_passphrase=True)
    raise SealError(f"{program} failed: {done.complaint or 'no reason given'}")
