"""Reading gpg's --status-fd answer, from literal transcripts (GnuPG 2.2), including
broken and hostile ones."""

from __future__ import annotations

from pinesh.stores.gpg_status import SignatureCheck, Verdict, signature_checks, status_lines

GOOD = (
    b"[GNUPG:] NEWSIG\n"
    b"[GNUPG:] KEY_CONSIDERED 6F3C1E2D4B5A69788796A5B4C3D2E1F0A9B8C7D6 0\n"
    b"[GNUPG:] SIG_ID abc 2026-12-07 1796000000\n"
    b"[GNUPG:] GOODSIG C3D2E1F0A9B8C7D6 Jane Doe <jane@example.org>\n"
    b"[GNUPG:] VALIDSIG 6F3C1E2D4B5A69788796A5B4C3D2E1F0A9B8C7D6 2026-12-07 1796000000 0 4 0"
    b" 22 10 00 6F3C1E2D4B5A69788796A5B4C3D2E1F0A9B8C7D6\n"
    b"[GNUPG:] TRUST_ULTIMATE 0 pgp\n"
)


def test_a_good_signature_by_a_trusted_key() -> None:
    (check,) = signature_checks(GOOD)
    assert check == SignatureCheck(
        Verdict.GOOD,
        "C3D2E1F0A9B8C7D6",
        "6F3C1E2D4B5A69788796A5B4C3D2E1F0A9B8C7D6",
        "Jane Doe <jane@example.org>",
        "ultimate",
    )
    assert check.valid


def test_a_good_signature_by_an_untrusted_key_is_not_valid() -> None:
    (check,) = signature_checks(GOOD.replace(b"TRUST_ULTIMATE", b"TRUST_UNDEFINED"))
    assert check.verdict is Verdict.GOOD and check.trust == "undefined" and not check.valid


def test_a_bad_signature() -> None:
    data = b"[GNUPG:] NEWSIG\n[GNUPG:] BADSIG C3D2E1F0A9B8C7D6 Jane Doe <jane@example.org>\n"
    (check,) = signature_checks(data)
    assert check.verdict is Verdict.BAD and not check.valid


def test_a_signature_whose_key_is_unknown() -> None:
    data = (
        b"[GNUPG:] NEWSIG\n"
        b"[GNUPG:] ERRSIG C3D2E1F0A9B8C7D6 22 10 00 1796000000 9 -\n"
        b"[GNUPG:] NO_PUBKEY C3D2E1F0A9B8C7D6\n"
    )
    (check,) = signature_checks(data)
    assert (check.verdict, check.key_id) == (Verdict.NO_PUBLIC_KEY, "C3D2E1F0A9B8C7D6")


def test_expired_and_revoked_keys_and_two_signatures() -> None:
    data = (
        b"[GNUPG:] NEWSIG\n[GNUPG:] EXPKEYSIG AAAA Old <old@example.org>\n"
        b"[GNUPG:] NEWSIG\n[GNUPG:] REVKEYSIG BBBB Gone <gone@example.org>\n"
    )
    assert [c.verdict for c in signature_checks(data)] == [
        Verdict.EXPIRED_KEY,
        Verdict.REVOKED_KEY,
    ]


def test_a_hostile_user_id_is_unescaped_for_the_screen_to_neutralise() -> None:
    data = b"[GNUPG:] NEWSIG\n[GNUPG:] GOODSIG AAAA Evil%1B[2J <e@example.org>%0AFake: line\n"
    (check,) = signature_checks(data)
    assert check.user_id == "Evil\x1b[2J <e@example.org>\nFake: line"


def test_lines_that_are_not_gpgs_status_are_ignored() -> None:
    data = (
        b'gpg: Good signature from "Someone Else"\n'  # human output: never read
        b"[GNUPG:]GOODSIG no space\n\xff\xfe\n[GNUPG:] \n"
    )
    assert signature_checks(data) == []
    assert status_lines(b"[GNUPG:] X a b\r\n") == [("X", ["a", "b"])]


def test_no_status_at_all_is_no_check() -> None:
    assert signature_checks(b"") == []
    assert signature_checks(b"[GNUPG:] NEWSIG\n") == []  # started, never settled
