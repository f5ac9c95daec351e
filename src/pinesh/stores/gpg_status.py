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


def _unescaped(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m[1], 16)), text)
