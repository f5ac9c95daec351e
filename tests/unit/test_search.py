"""Search over envelopes and message bytes (stores.search), for drivers without SEARCH."""

from __future__ import annotations

import base64
from datetime import timedelta

from pinesh.stores.base import Flag, SearchQuery
from pinesh.stores.search import envelope_matches, message_matches, search_uids
from tests.unit.test_ordering import T0, make_envelope

# --------------------------------------------------------------------------- search

SEARCHABLE = (
    b"From: =?utf-8?q?J=C3=BCrgen?= <jurgen@example.org>\n"
    b"To: Team <team@example.org>\n"
    b"Subject: =?utf-8?b?UXVhcnRhbHNiZXJpY2h0?=\n"
    b"X-Tracking: needle-in-header\n"
    b"Content-Type: multipart/mixed; boundary=s\n\n--s\n"
    b"Content-Type: text/plain; charset=iso-8859-1\n"
    b"Content-Transfer-Encoding: quoted-printable\n\n"
    b"Die Ums=E4tze sind gestiegen.\n"
    b"--s\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
    + base64.encodebytes(b"secret-in-attachment")
    + b"--s\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
    + base64.encodebytes("<p>Größe</p>".encode())
    + b"--s--\n"
)


def test_message_search_decodes_bodies_and_headers() -> None:
    assert message_matches(SEARCHABLE, SearchQuery(body="umsätze"))
    assert message_matches(SEARCHABLE, SearchQuery(body="GRÖSSE".lower().replace("ss", "ß")))
    assert not message_matches(SEARCHABLE, SearchQuery(body="secret-in-attachment"))
    assert message_matches(SEARCHABLE, SearchQuery(text="needle-in-header"))
    assert message_matches(SEARCHABLE, SearchQuery(text="quartalsbericht"))  # decoded subject
    assert message_matches(SEARCHABLE, SearchQuery(text="jürgen"))
    assert not message_matches(SEARCHABLE, SearchQuery(text="nowhere"))


def test_envelope_search_by_fields_flags_and_dates() -> None:
    envelope = make_envelope(
        7,
        subject="Quarterly report",
        sender="Jürgen jurgen@example.org",
        to="Team team@example.org",
        date=T0,
        flags=frozenset({Flag.SEEN}),
    )
    assert envelope_matches(envelope, SearchQuery(subject="QUARTERLY", sender="jürgen"))
    assert envelope_matches(envelope, SearchQuery(to="team@"))
    assert not envelope_matches(envelope, SearchQuery(to="other"))
    assert envelope_matches(envelope, SearchQuery(flags=frozenset({Flag.SEEN})))
    assert not envelope_matches(envelope, SearchQuery(not_flags=frozenset({Flag.SEEN})))
    assert envelope_matches(envelope, SearchQuery(since=T0, before=T0 + timedelta(1)))
    assert not envelope_matches(envelope, SearchQuery(before=T0))
    assert not envelope_matches(envelope, SearchQuery(since=T0 + timedelta(seconds=1)))


def test_search_reads_messages_only_when_needed() -> None:
    envelopes = [make_envelope(2, subject="two"), make_envelope(1, subject="one")]
    asked: list[int] = []

    def message(uid: int) -> bytes:
        asked.append(uid)
        return b"Subject: x\n\nbody of %d\n" % uid

    assert search_uids(envelopes, SearchQuery(subject="o"), message) == [1, 2]
    assert asked == []
    assert search_uids(envelopes, SearchQuery(subject="one", body="body of"), message) == [1]
    assert asked == [1]
