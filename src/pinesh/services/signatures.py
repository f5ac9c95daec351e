"""Checking signatures with the user's own keys: PGP/MIME (RFC 3156) and inline PGP
through gpg, S/MIME (RFC 8551) through gpgsm, each run as services/gpg_run.py runs them,
the answer read from ``--status-fd`` only (stores/gpg_status.py). Nothing is written to
the keyring.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from pinesh.services.gpg_run import GpgMissing, cms_input, program_for, run_gpg
from pinesh.stores.base import Address
from pinesh.stores.gpg_status import SignatureCheck, Verdict, signature_checks, uid_emails
from pinesh.stores.signed_parts import SignedParts, signed_parts

PGP_SIGNATURE = "application/pgp-signature"
# S/MIME's detached signature has two names: the standard one and Microsoft's old one.
SMIME_SIGNATURES = ("application/pkcs7-signature", "application/x-pkcs7-signature")
SIGNATURE_PROTOCOLS = (PGP_SIGNATURE, *SMIME_SIGNATURES)


@dataclass(frozen=True)
class SignatureReport:
    """What was found about a message's signature: its checks (none: not checked), and
    why not when it was not (no gpg, not PGP/MIME, gpg failed)."""

    checks: tuple[SignatureCheck, ...] = ()
    not_checked: str | None = None

    @property
    def verdict(self) -> Verdict:
        """The one word to show: the first check's verdict, else 'not verified'."""
        return self.checks[0].verdict if self.checks else Verdict.ERROR

    def signer_mismatch(self, sender: Sequence[Address]) -> bool:
        """Whether none of the key's user IDs (else the one gpg named) is the From
        address."""
        if not self.checks or not sender:
            return False
        check = self.checks[0]
        user_id = check.user_id
        named = user_id[user_id.rfind("<") + 1 : user_id.rfind(">")] if "<" in user_id else ""
        addresses = check.emails or (named.strip().lower(),)
        return sender[0].email.strip().lower() not in addresses

    def describe(self, sender: Sequence[Address]) -> str:
        """One line for the message view and the command line (not yet made safe)."""
        if not self.checks:
            return f"Signature not verified: {self.not_checked or 'nothing was checked'}"
        check = self.checks[0]
        key = check.fingerprint or check.key_id
        words = [f"Signature {check.verdict.value}"]
        if check.user_id:
            words.append(f"by {check.user_id}")
        if key:
            words.append(f"(key {key}")
            words[-1] += f", trust {check.trust})" if check.verdict is Verdict.GOOD else ")"
        line = " ".join(words)
        if check.verdict is Verdict.GOOD and not check.valid:
            line += "; the key is not trusted: who signed is not known"
        if self.signer_mismatch(sender):
            line += "; WARNING: the signer is not the From address"
        return line

    def as_json(self) -> dict[str, object]:
        """The report for `pinesh show --json`."""
        check = self.checks[0] if self.checks else None
        return {
            "verdict": self.verdict.value,
            "valid": bool(check and check.valid),
            "signer": check.user_id if check else None,
            "key_id": check.key_id if check else None,
            "fingerprint": check.fingerprint if check else None,
            "trust": check.trust if check else None,
            "not_checked": self.not_checked,
        }


def check_signed(
    raw: bytes, environ: Mapping[str, str] | None = None
) -> tuple[SignatureReport, SignedParts] | None:
    """The signature of raw when it is a multipart/signed message, PGP/MIME (gpg) or
    S/MIME (gpgsm), checked against the user's keyring (GNUPGHOME, else ~/.gnupg), and
    the parts it checked: what is shown as signed is read from parts.signed, the bytes
    gpg checked, and from nothing else. None when raw is not one."""
    parts = signed_parts(raw)
    if parts is None or parts.protocol not in SIGNATURE_PROTOCOLS:
        return None
    cms = parts.protocol in SMIME_SIGNATURES
    signature = parts.signature
    args = [*(cms_input(signature) if cms else []), "--verify", "{signature}", "{signed}"]
    return _report(args, {"signature": signature, "signed": parts.signed}, cms, environ)[0], parts


def check_clearsigned(
    block: bytes, environ: Mapping[str, str] | None = None
) -> tuple[SignatureReport, bytes | None]:
    """An inline clear-signed block checked by gpg, and the text it signs as gpg gives
    it back (dash-escapes undone; None when gpg gave nothing). That text, not the
    block's own, is what is shown as signed."""
    args = ["--output", "{output}", "--decrypt", "{block}"]
    return _report(args, {"block": block}, False, environ)


def check_opaque_smime(
    payload: bytes, environ: Mapping[str, str] | None = None
) -> tuple[SignatureReport, bytes | None]:
    """An S/MIME signed-data object (the signed message inside it) checked by gpgsm, and
    the message it holds (None when gpgsm gave nothing)."""
    args = [*cms_input(payload), "--output", "{output}", "--verify", "{signed}"]
    return _report(args, {"signed": payload}, True, environ)


def _report(
    args: list[str], inputs: dict[str, bytes], cms: bool, environ: Mapping[str, str] | None
) -> tuple[SignatureReport, bytes | None]:
    program = program_for(cms)
    try:
        done = run_gpg(args, inputs, program=program, environ=environ)
    except GpgMissing as exc:
        return SignatureReport(not_checked=f"{exc}: the signature is not checked"), None
    except (OSError, subprocess.TimeoutExpired) as exc:
        return SignatureReport(not_checked=f"{program} could not run: {exc}"), None
    checks = tuple(signature_checks(done.status))
    if not checks:
        why = f"{program} checked nothing" + (f": {done.complaint}" if done.complaint else "")
        return SignatureReport(not_checked=why), None
    return SignatureReport(with_emails(checks, cms, environ)), done.output or None


def with_emails(
    checks: tuple[SignatureCheck, ...], cms: bool, environ: Mapping[str, str] | None
) -> tuple[SignatureCheck, ...]:
    """checks, each good one with every address its key names (gpg names only one user
    ID in its verdict; a certificate's address may be in its subjectAltName alone)."""
    program = program_for(cms)
    found = []
    for check in checks:
        key = check.fingerprint or check.key_id
        if check.verdict is Verdict.GOOD and key:
            try:
                args = ["--with-colons", "--list-keys", "--", key]
                listed = run_gpg(args, {}, program=program, environ=environ)
                check = replace(check, emails=uid_emails(listed.status, certified_only=not cms))
            except (GpgMissing, OSError, subprocess.TimeoutExpired):
                pass  # the verdict stands; the From check falls back to the named user ID
        found.append(check)
    return tuple(found)
