"""Reading gpg's --status-fd answer, from literal transcripts (GnuPG 2.2), including
broken and hostile ones."""

from __future__ import annotations

from pinesh.stores.gpg_status import (
    SignatureCheck,
    Verdict,
    decryption_status,
    signature_checks,
    status_lines,
)

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


# Transcripts of gpg 2.2.40's status lines, as it wrote them.
DECRYPTED_AND_SIGNED = b"""[GNUPG:] ENC_TO 0FF2611839E2FE9C 1 0
[GNUPG:] KEY_CONSIDERED 6321C88427F4FF74F90697C7A1C9B7FB092E4E49 0
[GNUPG:] DECRYPTION_KEY 36C1179A3E451B6AFFD005D60FF2611839E2FE9C 6321C88427F4FF74F90697C7A1C9B7FB092E4E49 u
[GNUPG:] ENC_TO 0FDA25CBD15FD259 1 0
[GNUPG:] NO_SECKEY 0FDA25CBD15FD259
[GNUPG:] BEGIN_DECRYPTION
[GNUPG:] DECRYPTION_INFO 2 9 0
[GNUPG:] PLAINTEXT 62 1796689471 m
[GNUPG:] NEWSIG jane@example.org
[GNUPG:] GOODSIG A1C9B7FB092E4E49 Jane <jane@example.org>
[GNUPG:] VALIDSIG 6321C88427F4FF74F90697C7A1C9B7FB092E4E49 2026-12-08 1796689471 0 4 0 1 10 00 6321C88427F4FF74F90697C7A1C9B7FB092E4E49
[GNUPG:] TRUST_ULTIMATE 0 pgp
[GNUPG:] DECRYPTION_OKAY
[GNUPG:] GOODMDC
[GNUPG:] END_DECRYPTION
"""  # noqa: E501 - gpg's lines as written
LOCKED_KEY = b"""[GNUPG:] ENC_TO 0FDA25CBD15FD259 1 0
[GNUPG:] ERROR pkdecrypt_failed 67108949
[GNUPG:] BEGIN_DECRYPTION
[GNUPG:] DECRYPTION_FAILED
[GNUPG:] END_DECRYPTION
"""
WRONG_PASSPHRASE = LOCKED_KEY.replace(b"67108949", b"67108875")
NOT_FOR_US = b"""[GNUPG:] ENC_TO 0FF2611839E2FE9C 1 0
[GNUPG:] ENC_TO 0FDA25CBD15FD259 1 0
[GNUPG:] NO_SECKEY 0FDA25CBD15FD259
[GNUPG:] NO_SECKEY 0FF2611839E2FE9C
[GNUPG:] BEGIN_DECRYPTION
[GNUPG:] DECRYPTION_FAILED
[GNUPG:] END_DECRYPTION
"""
CHANGED = b"""[GNUPG:] ENC_TO 0FF2611839E2FE9C 1 0
[GNUPG:] DECRYPTION_KEY 36C1179A3E451B6AFFD005D60FF2611839E2FE9C 6321C88427F4FF74F90697C7A1C9B7FB092E4E49 u
[GNUPG:] BEGIN_DECRYPTION
[GNUPG:] DECRYPTION_INFO 2 9 0
[GNUPG:] PLAINTEXT 62 1796689512 m
[GNUPG:] BADMDC
[GNUPG:] DECRYPTION_FAILED
[GNUPG:] END_DECRYPTION
"""  # noqa: E501 - gpg's lines as written
NO_MDC = b"""[GNUPG:] ENC_TO 0FF2611839E2FE9C 1 0
[GNUPG:] BEGIN_DECRYPTION
[GNUPG:] DECRYPTION_INFO 0 9 0
[GNUPG:] DECRYPTION_OKAY
[GNUPG:] END_DECRYPTION
"""


def test_a_decryption_with_its_integrity_checked_is_okay() -> None:
    status = decryption_status(DECRYPTED_AND_SIGNED)
    assert status.okay and status.integrity
    assert status.recipients == ("0FF2611839E2FE9C", "0FDA25CBD15FD259")
    assert status.decrypted_with == "36C1179A3E451B6AFFD005D60FF2611839E2FE9C"
    assert not status.no_secret_key  # one of the two keys was not here: that is normal
    assert [c.verdict for c in signature_checks(DECRYPTED_AND_SIGNED)] == [Verdict.GOOD]


def test_a_locked_key_and_a_wrong_passphrase_are_told_apart() -> None:
    locked, wrong = decryption_status(LOCKED_KEY), decryption_status(WRONG_PASSPHRASE)
    assert not locked.okay and locked.needs_passphrase and not locked.bad_passphrase
    assert not wrong.okay and wrong.bad_passphrase and not wrong.needs_passphrase
    assert locked.explain() == "the key's passphrase is needed"


def test_a_message_for_other_keys_names_them() -> None:
    status = decryption_status(NOT_FOR_US)
    assert not status.okay and status.no_secret_key
    assert "0FF2611839E2FE9C, 0FDA25CBD15FD259" in status.explain()


def test_a_failed_integrity_check_or_none_at_all_is_not_okay() -> None:
    changed = decryption_status(CHANGED)
    assert not changed.okay and "changed on the way" in changed.explain()
    bare = decryption_status(NO_MDC)  # DECRYPTION_OKAY alone does not do (EFAIL)
    assert not bare.okay and "no integrity check" in bare.explain()
    assert decryption_status(NO_MDC, cms=True).okay  # S/MIME has none to ask for


def test_a_status_stream_with_no_decryption_or_hostile_lines_is_not_okay() -> None:
    assert not decryption_status(b"").okay
    forged = b"Subject: x\n[GNUPG:]DECRYPTION_OKAY\n [GNUPG:] DECRYPTION_OKAY\n[GNUPG:] GOODMDC\n"
    assert not decryption_status(forged).okay  # only whole status lines count
    assert not decryption_status(b"[GNUPG:] ERROR x \xff\xfe\n[GNUPG:] ERROR\n").okay


def test_the_addresses_of_a_keys_user_ids_are_read_from_its_colon_listing() -> None:
    from pinesh.stores.gpg_status import uid_emails

    gpg_listing = (
        b"pub:u:255:22:CA1CEC508DDDF248:1796689471:::u:::scESC::::::23::0:\n"
        b"uid:u::::1796689471::AB12::Jane Doe <jane@example.org>::::::::::0:\n"
        b"uid:u::::1796689500::CD34::Jane Doe <JANE@work.example>::::::::::0:\n"
        b"uid:u::::1796689500::EF56::No Address Here::::::::::0:\n"
    )
    gpgsm_listing = (
        b"uid:::::::::1.2.840.113549.1.9.1=#6A616E65,CN=jane::\nuid:::::::::<jane@example.org>::\n"
    )
    assert uid_emails(gpg_listing) == ("jane@example.org", "jane@work.example")
    assert uid_emails(gpgsm_listing, certified_only=False) == ("jane@example.org",)
    hostile = b"uid:f::::::::Eve <eve@evil.example>\\x3a<x@y>::\nuid\n:::\n\xff\xfe\n"
    assert uid_emails(hostile) == ("eve@evil.example", "x@y")


def test_a_uid_no_one_certified_does_not_count_as_the_keys_address() -> None:
    from pinesh.stores.gpg_status import uid_emails

    listing = (
        b"uid:f::::1796689471::AB12::Mallory <mallory@evil.example>::::::::::0:\n"
        b"uid:-::::1796689500::CD34::CEO <ceo@corp.example>::::::::::0:\n"
        b"uid:r::::1796689500::EF56::Old <old@corp.example>::::::::::0:\n"
    )
    assert uid_emails(listing) == ("mallory@evil.example",)


def test_two_verdicts_without_newsig_are_two_signatures() -> None:
    status = (
        b"[GNUPG:] BADSIG 1111111111111111 Eve <eve@evil.example>\n"
        b"[GNUPG:] GOODSIG 2222222222222222 Jane <jane@example.org>\n"
        b"[GNUPG:] TRUST_ULTIMATE 0 pgp\n"
    )
    first, second = signature_checks(status)
    assert first.verdict is Verdict.BAD and second.verdict is Verdict.GOOD
    assert first.trust == "undefined"  # the second's trust is not the first's
