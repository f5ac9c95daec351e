"""ENVELOPE, FLAGS and LIST replies (literal bytes, parsed by IMAPClient) to our values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest

from pinesh.stores.base import Address, Flag
from pinesh.stores.imap.errors import ImapSyntaxError
from pinesh.stores.imap.protocol.envelope import _aware, envelope_of
from pinesh.stores.imap.protocol.responses import decoded, flags_of, folder_info, text_of
from tests.unit.test_imap_records import fetch, parsed

EXTRA = b"BODY[HEADER.FIELDS (REFERENCES NEWSGROUPS)]"


def _one(raw: bytes) -> tuple[int, dict[bytes, object]]:
    [(uid, item)] = fetch(raw).items()
    return uid, item


def test_a_full_envelope() -> None:
    refs = b"References: <a@x>\r\n <b@x>\r\nNewsgroups: comp.mail.pine, local.test\r\n\r\n"
    uid, item = _one(
        b"* 4 FETCH (UID 44 RFC822.SIZE 2048 FLAGS (\\Seen \\Flagged $Junk \\Recent) "
        b'INTERNALDATE "02-Jun-2022 01:51:14 +0000" ENVELOPE ("Thu, 02 Jun 2022 02:51:14 +0100" '
        b'"=?utf-8?B?0J7RgtGH0ZHRgiDQt9CwINC60LLQsNGA0YLQsNC7?= #12" '
        b'(("=?iso-8859-1?q?J=FCrgen_M=FCller?=" NIL "juergen" "example.de")) NIL NIL '
        b'(("Pine Lab" NIL "pineshlab" "pinesh.test")("Bob" NIL "bob" "example.net")) '
        b'((NIL NIL "team" NIL)(NIL NIL "eve" "example.org")(NIL NIL NIL NIL)) NIL '
        b'"<b@x>" "<c@x>") ' + EXTRA + b" {%d}\r\n" % len(refs) + refs + b")\r\n"
    )
    envelope = envelope_of(uid, item)
    assert envelope.uid == 44
    assert envelope.subject == "Отчёт за квартал #12"
    assert envelope.sender == (Address("Jürgen Müller", "juergen@example.de"),)
    assert [a.email for a in envelope.to] == ["pineshlab@pinesh.test", "bob@example.net"]
    assert envelope.cc == (Address("", "eve@example.org"),)  # the group markers are left out
    assert envelope.date == datetime(2022, 6, 2, 2, 51, 14, tzinfo=timezone(timedelta(hours=1)))
    assert envelope.date is not None and envelope.date.utcoffset() == timedelta(hours=1)
    assert envelope.internal_date == datetime(2022, 6, 2, 1, 51, 14, tzinfo=UTC)
    assert envelope.message_id == "<c@x>"
    assert envelope.in_reply_to == "<b@x>"
    assert envelope.references == ("<a@x>", "<b@x>")
    assert envelope.newsgroups == ("comp.mail.pine", "local.test")
    assert envelope.flags == {Flag.SEEN, Flag.FLAGGED}
    assert envelope.size == 2048


def test_nil_everywhere() -> None:
    uid, item = _one(
        b"* 1 FETCH (UID 1 RFC822.SIZE 0 FLAGS () INTERNALDATE NIL "
        b"ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) " + EXTRA + b" NIL)\r\n"
    )
    envelope = envelope_of(uid, item)
    assert (envelope.subject, envelope.sender, envelope.to, envelope.cc) == ("", (), (), ())
    assert (envelope.date, envelope.internal_date) == (None, None)
    assert (envelope.message_id, envelope.in_reply_to, envelope.references) == (None, None, ())
    assert (envelope.flags, envelope.newsgroups) == (frozenset(), ())


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b'"=?x-unknown?Q?caf=C3=A9?="', "café"),  # unknown charset: read as UTF-8
        (b'"=?utf-8?Q?caf=E9?="', "caf\ufffd"),  # wrong bytes for the charset
        (b'"=?idna?Q?=FF?="', "\ufffd"),  # a codec that cannot "replace": U+FFFD, no error
        (b'"=?utf-8?B?0J/RgNC40LLQtdGC?= =?koi8-r?B?7cnS?="', "Привет" + "Мир"),
        (b'"=?iso-2022-jp?B?GyRCMnE1RDtxTkEbKEI=?="', "会議資料"),
        (b'"plain \\"quoted\\" text"', 'plain "quoted" text'),
        (b'"2024"', "2024"),  # quoted digits stay a string
        (b"2024", "2024"),  # unquoted (against the RFC) they come as an int
        (b"{7}\r\nR\xc3\xa9sum\xc3", "R\u00c3\u00a9sum\u00c3"),  # not UTF-8: Latin-1
        (b'"R\xc3\xa9sum\xc3\xa9"', "Résumé"),  # 8-bit UTF-8 (RFC 6532)
    ],
)
def test_subjects_decode_without_raising(raw: bytes, text: str) -> None:
    uid, item = _one(
        b"* 1 FETCH (UID 1 ENVELOPE (NIL " + raw + b" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n"
    )
    assert envelope_of(uid, item).subject == text


def test_dates_without_zone_or_unreadable() -> None:
    uid, item = _one(
        b'* 1 FETCH (UID 1 ENVELOPE ("1 Jan 2024 10:00:00" NIL NIL NIL NIL NIL NIL NIL NIL NIL) '
        b'INTERNALDATE "not a date")\r\n'
    )
    envelope = envelope_of(uid, item)
    assert envelope.date == datetime(2024, 1, 1, 10, 0, tzinfo=UTC)
    assert envelope.internal_date is None
    uid, item = _one(
        b'* 1 FETCH (UID 1 ENVELOPE ("yesterday-ish" NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n'
    )
    assert envelope_of(uid, item).date is None


def test_message_ids_without_brackets_are_none() -> None:
    uid, item = _one(
        b'* 1 FETCH (UID 1 ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL "junk" "no-brackets"))\r\n'
    )
    envelope = envelope_of(uid, item)
    assert (envelope.message_id, envelope.in_reply_to) == (None, None)


@pytest.mark.parametrize(
    "raw",
    [
        b"* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n",  # no ENVELOPE at all
        b"* 1 FETCH (UID 1 RFC822.SIZE -5 ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n",
        b'* 1 FETCH (UID 1 RFC822.SIZE "big" '
        b"ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n",
        b"* 1 FETCH (UID 1 FLAGS \\Seen ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n",
        b"* 1 FETCH (UID 1 ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
        + EXTRA
        + b" 7)\r\n",
    ],
)
def test_hostile_values_raise_convert_error(raw: bytes) -> None:
    uid, item = _one(raw)
    with pytest.raises(ImapSyntaxError):
        envelope_of(uid, item)


def test_flags() -> None:
    assert flags_of((b"\\SEEN", b"\\answered", b"\\Draft", b"\\Deleted", b"$Label")) == {
        Flag.SEEN,
        Flag.ANSWERED,
        Flag.DRAFT,
        Flag.DELETED,
    }
    assert flags_of(None) == frozenset()
    assert flags_of((7, None, b"\\Flagged")) == {Flag.FLAGGED}
    with pytest.raises(ImapSyntaxError):
        flags_of(b"\\Seen")


def test_text_of() -> None:
    assert text_of(None) == ""
    assert text_of(12) == "12"
    assert text_of(b"\xe9t\xe9") == "été"  # not UTF-8: Latin-1
    with pytest.raises(ImapSyntaxError):
        text_of((b"a",))
    assert decoded(b"=?utf-8?q?a?= =?utf-8?q?b?=") == "ab"


def test_folder_info() -> None:
    rows = [
        ((b"\\HasChildren",), b".", "Lists"),
        ((b"\\Noselect", b"\\HasChildren"), b"/", "Archive/2024"),
        ((b"\\NonExistent",), b".", "Gone"),
        ((), None, "INBOX"),
        ((b"\\HasNoChildren",), b".", 2024),  # a numeric name, as IMAPClient may give it
    ]
    infos = [folder_info(row) for row in rows]
    assert [(i.name, i.display, i.selectable, i.has_children) for i in infos] == [
        ("Lists", "Lists", True, True),
        ("Archive/2024", "2024", False, True),
        ("Gone", "Gone", False, False),
        ("INBOX", "INBOX", True, False),
        ("2024", "2024", True, False),
    ]
    with pytest.raises(ImapSyntaxError):
        folder_info((b"\\Noselect", b"."))
    with pytest.raises(ImapSyntaxError):
        folder_info((b"\\Noselect", b".", "x"))


def test_list_reply_bytes() -> None:
    """A LIST line as IMAPClient parses it keeps the raw name for folder_info."""
    flags, delimiter, name = parsed(b'(\\HasNoChildren) "." "Sent Items"')
    info = folder_info((flags, delimiter, name.decode()))
    assert (info.name, info.selectable) == ("Sent Items", True)


class _AbsurdZone(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=99, minutes=59)  # "+9959": out of datetime's range

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "absurd"


def test_a_hostile_date_zone_from_imap_is_no_date_not_a_crash() -> None:
    assert _aware(datetime(2024, 1, 1, 10, tzinfo=_AbsurdZone())) is None


def test_a_from_the_envelope_garbled_is_read_from_the_header_as_written() -> None:
    # Dovecot's ENVELOPE of `From: Evil ESC[31m <evil@example.org>`: the "[" read as a
    # domain literal, the address lost. The From header fetched beside it keeps it.
    fields = b"From: Evil \x1b[31m <evil@example.org>\r\n\r\n"
    uid, item = _one(
        b"* 1 FETCH (UID 7 RFC822.SIZE 10 FLAGS () INTERNALDATE NIL ENVELOPE (NIL NIL "
        b'(("Evil" NIL "Evil" "MISSING_DOMAIN")) NIL NIL NIL NIL NIL NIL NIL) '
        + EXTRA.replace(b"NEWSGROUPS)", b"NEWSGROUPS FROM)")
        + b" {%d}\r\n" % len(fields)
        + fields
        + b")\r\n"
    )
    envelope = envelope_of(uid, item)
    assert envelope.sender == (Address("Evil \x1b[31m", "evil@example.org"),)


def test_without_the_from_header_the_envelope_sender_stands() -> None:
    uid, item = _one(
        b"* 1 FETCH (UID 7 RFC822.SIZE 10 FLAGS () INTERNALDATE NIL ENVELOPE (NIL NIL "
        b'(("Jane" NIL "jane" "example.org")) NIL NIL NIL NIL NIL NIL NIL) ' + EXTRA + b" NIL)\r\n"
    )
    assert envelope_of(uid, item).sender == (Address("Jane", "jane@example.org"),)
