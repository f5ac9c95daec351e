"""Checking a PGP/MIME signature (RFC 3156) with the user's own GnuPG: gpg run as an
argv list, in batch mode with no terminal, its answer read from ``--status-fd`` only
(stores/gpg_status.py). Nothing is written to the keyring; the signed data and the
signature go through private temporary files, removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pinesh.stores.base import Address, Folder
from pinesh.stores.gpg_status import SignatureCheck, Verdict, signature_checks
from pinesh.stores.signed_parts import signed_parts

GPG_TIMEOUT = 30.0  # seconds a check may take (a key server is never asked: see argv)
PGP_SIGNATURE = "application/pgp-signature"


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
        """Whether the key's user ID names another address than sender (the From)."""
        if not self.checks or not sender:
            return False
        user_id = self.checks[0].user_id
        address = user_id[user_id.rfind("<") + 1 : user_id.rfind(">")] if "<" in user_id else ""
        return address.strip().lower() != sender[0].email.strip().lower()

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


def message_signature(folder: Folder, uid: int) -> SignatureReport | None:
    """The check of a folder's message's PGP/MIME signature; None when it has none (its
    structure says so first: an unsigned message is never read whole for this)."""
    if folder.structure(uid).content_type != "multipart/signed":
        return None
    return check_pgp_mime(folder.fetch_message(uid))


def check_pgp_mime(raw: bytes, environ: Mapping[str, str] | None = None) -> SignatureReport | None:
    """The signature of raw when it is a PGP/MIME signed message (None when it is not
    one), checked against the user's keyring (GNUPGHOME, else ~/.gnupg)."""
    parts = signed_parts(raw)
    if parts is None or parts.protocol != PGP_SIGNATURE:
        return None
    gpg = shutil.which("gpg")
    if gpg is None:
        return SignatureReport(not_checked="gpg is not installed: the signature is not checked")
    env = dict(os.environ if environ is None else environ)
    with tempfile.TemporaryDirectory(prefix="pinesh-verify-") as work:
        data, signature = Path(work) / "signed", Path(work) / "signature.asc"
        data.write_bytes(parts.signed)
        signature.write_bytes(parts.signature)
        argv = [
            gpg,
            "--batch",
            "--no-tty",
            "--status-fd",
            "1",
            "--no-auto-key-retrieve",
            "--verify",
            str(signature),
            str(data),
        ]
        try:
            done = subprocess.run(
                argv, capture_output=True, env=env, timeout=GPG_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return SignatureReport(not_checked=f"gpg could not run: {exc}")
    checks = tuple(signature_checks(done.stdout))
    if not checks:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return SignatureReport(
            not_checked="gpg checked nothing" + (f": {reason[-1]}" if reason else "")
        )
    return SignatureReport(checks)
