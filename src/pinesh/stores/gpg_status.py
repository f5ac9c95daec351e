"""GnuPG's machine-readable answer (``--status-fd``) read into what a signature check
found: pure, over the bytes gpg wrote. gpg's human output is never read: it is
translated, and a message's own text could imitate it.

Lines are ``[GNUPG:] KEYWORD ARGS``. A user ID in GOODSIG/BADSIG/EXPSIG/... is escaped
by gpg (``%XX`` for control characters and ``%``); it is unescaped here and still
reaches the screen only through textsafe.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

PREFIX = b"[GNUPG:] "
MAX_LINES = 1000  # a status stream is a few lines per signature; more is not gpg's
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


class Verdict(enum.Enum):
    """What the check of one signature found (the words the message view shows)."""

    GOOD = "good"  # the signature is valid for the signed data
    BAD = "bad"  # the data or the signature was changed
    EXPIRED_SIGNATURE = "expired signature"
    EXPIRED_KEY = "expired key"
    REVOKED_KEY = "revoked key"
    NO_PUBLIC_KEY = "no public key"  # cannot be checked: the signer's key is not known
    ERROR = "not verified"  # anything else: gpg could not check it


# The keyword that settles a signature, and the verdict it gives.
_VERDICTS = {
    "GOODSIG": Verdict.GOOD,
    "BADSIG": Verdict.BAD,
    "EXPSIG": Verdict.EXPIRED_SIGNATURE,
    "EXPKEYSIG": Verdict.EXPIRED_KEY,
    "REVKEYSIG": Verdict.REVOKED_KEY,
}
_TRUST = ("TRUST_UNDEFINED", "TRUST_NEVER", "TRUST_MARGINAL", "TRUST_FULLY", "TRUST_ULTIMATE")


@dataclass(frozen=True)
class SignatureCheck:
    """One signature as gpg checked it: the verdict, the key, who it names, how far
    the key is trusted (gpg's word: undefined, never, marginal, fully, ultimate)."""

    verdict: Verdict
    key_id: str = ""
    fingerprint: str = ""
    user_id: str = ""  # unescaped, not yet made safe to show
    trust: str = "undefined"
    emails: tuple[str, ...] = ()  # every address the key names (all its user IDs)

    @property
    def valid(self) -> bool:
        """A good signature by a key trusted at least marginally."""
        return self.verdict is Verdict.GOOD and self.trust in ("marginal", "fully", "ultimate")


def status_lines(data: bytes) -> list[tuple[str, list[str]]]:
    """(keyword, arguments) of each ``[GNUPG:]`` line; other lines are not gpg's status
    and are left out."""
    found = []
    for raw in data.split(b"\n")[:MAX_LINES]:
        line = raw.rstrip(b"\r")
        if not line.startswith(PREFIX):
            continue
        words = line[len(PREFIX) :].decode("utf-8", "replace").split(" ")
        if words and words[0]:
            found.append((words[0], words[1:]))
    return found


def signature_checks(data: bytes) -> list[SignatureCheck]:
    """Each signature gpg checked, in order (NEWSIG starts one). A signature gpg could
    not check (ERRSIG; NO_PUBKEY) is there too; none at all means nothing was checked."""
    checks: list[SignatureCheck] = []
    current: dict[str, str] | None = None

    def close() -> None:
        if current is not None and "verdict" in current:
            checks.append(
                SignatureCheck(
                    Verdict(current["verdict"]),
                    current.get("key_id", ""),
                    current.get("fingerprint", ""),
                    current.get("user_id", ""),
                    current.get("trust", "undefined"),
                )
            )

    for keyword, args in status_lines(data):
        if keyword == "NEWSIG":
            close()
            current = {}
            continue
        if current is None:
            current = {}  # gpg before 2.x writes no NEWSIG for the first signature
        if keyword in (*_VERDICTS, "ERRSIG") and "verdict" in current:
            close()  # a second verdict with no NEWSIG between: a second signature
            current = {}
        if keyword in _VERDICTS:
            current["verdict"] = _VERDICTS[keyword].value
            current["key_id"] = args[0] if args else ""
            current["user_id"] = _unescaped(" ".join(args[1:]))
        elif keyword == "ERRSIG":
            current.setdefault("verdict", Verdict.ERROR.value)
            current["key_id"] = args[0] if args else ""
            if len(args) >= 6 and args[5] == "9":  # rc 9: no public key
                current["verdict"] = Verdict.NO_PUBLIC_KEY.value
        elif keyword == "NO_PUBKEY":
            current["verdict"] = Verdict.NO_PUBLIC_KEY.value
            current["key_id"] = args[0] if args else current.get("key_id", "")
        elif keyword == "VALIDSIG" and args:
            current["fingerprint"] = args[0]
        elif keyword in _TRUST:
            current["trust"] = keyword.removeprefix("TRUST_").lower()
    close()
    return checks


_ADDRESS = re.compile(r"<([^<>\s]+@[^<>\s]+)>")


# A uid's validity (field 2) that someone trusted vouches for: marginal, full, ultimate.
_VALID_UID = ("m", "f", "u")


def uid_emails(colons: bytes, *, certified_only: bool = True) -> tuple[str, ...]:
    """The addresses named by the user IDs in ``--with-colons --list-keys`` output
    (field 10 of each uid record: "Name <addr>", or gpgsm's "<addr>"), lowercased.
    certified_only (gpg): only uids valid in the trust model; anyone can add a uid to
    their own key. gpgsm's uids are all the CA's (subject and subjectAltName)."""
    found: list[str] = []
    for raw in colons.split(b"\n")[:MAX_LINES]:
        fields = raw.decode("utf-8", "replace").split(":")
        if fields[0] != "uid" or len(fields) <= 9:
            continue
        if certified_only and fields[1] not in _VALID_UID:
            continue
        found += [m.lower() for m in _ADDRESS.findall(_colon_unescaped(fields[9]))]
    return tuple(dict.fromkeys(found))


def _colon_unescaped(text: str) -> str:
    """A colon-listing field: gpg writes \\xNN for a colon and other bytes."""
    return re.sub(r"\\x([0-9A-Fa-f]{2})", lambda m: chr(int(m[1], 16)), text)


def _unescaped(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m[1], 16)), text)


# gpg's error codes (libgpg-error) in an ERROR or FAILURE line: the low 16 bits.
_NO_PINENTRY = 85  # the key needs a passphrase and gpg was told not to ask
_BAD_PASSPHRASE = 11
_NO_SECRET_KEY = 17


def _error_code(keyword: str, args: list[str]) -> int | None:
    """The error code of an ERROR or FAILURE line (its low 16 bits); None for others."""
    if keyword in ("ERROR", "FAILURE") and len(args) >= 2 and args[1].isdigit():
        return int(args[1]) & 0xFFFF
    return None


@dataclass(frozen=True)
class DecryptionStatus:
    """What gpg (or gpgsm) said of a decryption: whether it worked and the plaintext can be
    shown, and if not, why, in words a reader can act on."""

    okay: bool  # decrypted, and (for OpenPGP) its integrity checked
    recipients: tuple[str, ...] = ()  # the key IDs it was encrypted to (ENC_TO)
    decrypted_with: str = ""  # the fingerprint of the key that opened it
    integrity: bool = False  # an MDC or AEAD checked it (S/MIME's CMS has neither)
    needs_passphrase: bool = False  # the key is locked: ask, and try again with it
    bad_passphrase: bool = False
    no_secret_key: bool = False  # none of the recipients' secret keys is here
    failure: str = ""  # why not, when not okay

    def explain(self) -> str:
        """Why the message was not decrypted, for the reader."""
        if self.needs_passphrase:
            return "the key's passphrase is needed"
        if self.bad_passphrase:
            return "the passphrase was wrong"
        if self.no_secret_key:
            keys = ", ".join(self.recipients) or "keys not named"
            return f"it is encrypted to {keys}, and no secret key for them is in your keyring"
        return self.failure or "gpg could not decrypt it"


def decryption_status(data: bytes, *, cms: bool = False) -> DecryptionStatus:
    """The decryption gpg's status lines tell of (cms: gpgsm's, for S/MIME, which has no
    integrity check to require). OpenPGP plaintext without an integrity check (no MDC, no
    AEAD) is refused: EFAIL's changed ciphertext would decrypt to changed text."""
    recipients: list[str] = []
    decrypted_with = ""
    seen: set[str] = set()
    codes: list[int] = []
    aead = False
    for keyword, args in status_lines(data):
        seen.add(keyword)
        if keyword == "ENC_TO" and args:
            recipients.append(args[0])
        elif keyword == "DECRYPTION_KEY" and args:
            decrypted_with = args[0]
        elif keyword == "DECRYPTION_INFO" and len(args) >= 3:
            aead = args[2] not in ("", "0")
        elif (code := _error_code(keyword, args)) is not None:
            codes.append(code)
    integrity = "GOODMDC" in seen or aead
    failed = "DECRYPTION_FAILED" in seen or "BADMDC" in seen or "DECRYPTION_OKAY" not in seen
    if not failed and (integrity or cms):
        return DecryptionStatus(True, tuple(recipients), decrypted_with, integrity)
    failure = ""
    if not failed:
        failure = "the message has no integrity check (no MDC): it may have been changed"
    elif "BADMDC" in seen:
        failure = "the message was changed on the way (its integrity check failed)"
    return DecryptionStatus(
        False,
        tuple(recipients),
        decrypted_with,
        integrity,
        needs_passphrase=_NO_PINENTRY in codes,
        bad_passphrase=_BAD_PASSPHRASE in codes,
        no_secret_key=(_NO_SECRET_KEY in codes or "NO_SECKEY" in seen) and not decrypted_with,
        failure=failure,
    )


# INV_RECP / INV_SGNR reason codes (gpg's doc/DETAILS), in words a sender can act on.
_INVALID_KEY_REASONS = {
    "0": "no key for it in your keyring",
    "1": "no key for it in your keyring",
    "2": "more than one key matches it",
    "4": "its key is revoked",
    "5": "its key has expired",
    "9": "no secret key for it in your keyring",
    "10": "its key is not trusted (certify it, or set gpg's trust model)",
    "13": "its key cannot be used for this",
}
# OpenPGP hash algorithm numbers (RFC 4880 9.4), as SIG_CREATED gives them, by name.
HASH_NAMES = {1: "md5", 2: "sha1", 3: "ripemd160", 8: "sha256", 9: "sha384", 10: "sha512",
              11: "sha224"}  # fmt: skip


@dataclass(frozen=True)
class SealingStatus:
    """What gpg said of signing or encrypting: the keys it could not use and why, a
    locked signing key, and the hash the signature used (for micalg)."""

    invalid_recipients: tuple[tuple[str, str], ...] = ()  # (address, why)
    invalid_signers: tuple[tuple[str, str], ...] = ()
    needs_passphrase: bool = False
    bad_passphrase: bool = False
    hash_name: str = ""  # "sha512"; "" when no signature was made


def sealing_status(data: bytes) -> SealingStatus:
    """The sealing gpg's (or gpgsm's) status lines tell of."""
    recipients: list[tuple[str, str]] = []
    signers: list[tuple[str, str]] = []
    codes: list[int] = []
    hash_name = ""
    for keyword, args in status_lines(data):
        if keyword in ("INV_RECP", "INV_SGNR") and len(args) >= 2:
            why = _INVALID_KEY_REASONS.get(args[0], f"gpg cannot use its key (reason {args[0]})")
            (recipients if keyword == "INV_RECP" else signers).append((_unescaped(args[1]), why))
        elif (code := _error_code(keyword, args)) is not None:
            codes.append(code)
        elif keyword == "SIG_CREATED" and len(args) >= 3 and args[2].isdigit():
            hash_name = HASH_NAMES.get(int(args[2]), "")
    return SealingStatus(
        tuple(recipients),
        tuple(signers),
        needs_passphrase=_NO_PINENTRY in codes,
        bad_passphrase=_BAD_PASSPHRASE in codes,
        hash_name=hash_name,
    )
