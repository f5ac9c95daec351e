"""Decrypting with the user's own keys: OpenPGP through gpg, S/MIME (CMS) through gpgsm
(services/gpg_run.py). The plaintext is handed back only when gpg says the decryption
worked and, for OpenPGP, that its integrity check passed: gpg writes what it decrypted
before it knows, and EFAIL showed what a changed ciphertext's plaintext can do.

The plaintext is kept in memory only; nothing decrypted is written anywhere but gpg's
output file in a private temporary directory, removed at once.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, replace

from pinesh.services.gpg_run import GpgMissing, cms_input, program_for, run_gpg
from pinesh.stores.gpg_status import (
    DecryptionStatus,
    SignatureCheck,
    decryption_status,
    signature_checks,
)


@dataclass(frozen=True)
class Decryption:
    """What decrypting gave: the status, the plaintext (only when it worked), and the
    signatures checked on the way (a message signed and encrypted in one)."""

    status: DecryptionStatus
    plaintext: bytes | None = None
    signatures: tuple[SignatureCheck, ...] = ()


def decrypt(
    ciphertext: bytes,
    *,
    cms: bool = False,
    passphrase: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Decryption:
    """ciphertext decrypted: OpenPGP (armoured or binary) by gpg, or with cms a CMS
    enveloped-data (DER or base64) by gpgsm."""
    program = program_for(cms)
    args = ["--output", "{output}", "--decrypt", "{input}"]
    if cms:
        args = [*cms_input(ciphertext), *args]
    try:
        done = run_gpg(
            args, {"input": ciphertext}, program=program, passphrase=passphrase, environ=environ
        )
    except GpgMissing as exc:
        return Decryption(DecryptionStatus(False, failure=f"{exc}: it cannot be decrypted"))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Decryption(DecryptionStatus(False, failure=f"{program} could not run: {exc}"))
    status = decryption_status(done.status, cms=cms)
    if not status.okay and not status.failure and done.complaint:
        status = replace(status, failure=f"{program}: {done.complaint}")
    checks = tuple(signature_checks(done.status))
    return Decryption(status, done.output if status.okay else None, checks)
