"""The mbox driver on temporary files: the format (literal bytes), flags in Status
headers, From quoting, in-place expunge and its crash journal, locks shared with other
processes, dot-lock staleness, and the directory store."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pinesh.stores.base import Flag, Folder, SearchQuery, SortKey, StoreError
from pinesh.stores.local.locking import DotLock, is_stale, lock_path, locked_mailbox
from pinesh.stores.local.maildir_folder import MaildirFolder
from pinesh.stores.local.mbox_folder import MboxFolder
from pinesh.stores.local.mbox_format import (
    NotMboxError,
    from_line_date,
    is_from_line,
    mbox_record,
    message_bytes,
    quote_from,
    scan_bytes,
    scan_mbox,
    status_flags,
    unquote_from,
    with_status,
    without_mbox_headers,
)
from pinesh.stores.local.mbox_journal import (
    appended_since,
    journal_paths,
    read_journal,
    write_journal,
)
from pinesh.stores.local.mbox_store import MboxStore, looks_like_mbox

ONE = (
    b"From alice@x.org Mon Nov 13 10:00:00 2023\n"
    b"From: Alice <alice@x.org>\n"
    b"Subject: banana\n"
    b"Date: Mon, 13 Nov 2023 10:00:00 +0000\n"
    b"Message-ID: <m1@x.org>\n"
    b"\n"
    b"First body.\n"
    b">From a quoted line\n"
    b"From here on, an unquoted line without a date\n"
    b"\n"
)
TWO = (
    b"From bob@x.org Tue Nov 14 22:13:25 2023\n"
    b"From: Bob <bob@x.org>\n"
    b"Subject: Re: apple\n"
    b"Date: Tue, 14 Nov 2023 22:13:25 +0000\n"
    b"Message-ID: <m2@x.org>\n"
    b"In-Reply-To: <m1@x.org>\n"
    b"Status: RO\n"
    b"X-Status: AF\n"
    b"\n"
    b"Second body.\n"
    b"\n"
)
THREE = (
    b"From carol@x.org Wed Nov 15 08:00:00 2023\n"
    b"From: Carol <carol@x.org>\n"
    b"Subject: Zebra\n"
    b"Date: Wed, 15 Nov 2023 08:00:00 +0000\n"
    b"Message-ID: <m3@x.org>\n"
    b"Status: O\n"
    b"\n"
    b"Third body, longer than the others: " + b"x" * 200 + b"\n"
    b"\n"
)
MBOX = ONE + TWO + THREE


@pytest.fixture
def mbox(tmp_path: Path) -> Path:
    path = tmp_path / "mbox"
    path.write_bytes(MBOX)
    return path


def _subjects(folder: Folder) -> list[str]:
    return [e.subject for e in folder.envelopes(folder.uids())]


def _arriving(number: int) -> bytes:
    """A message as an MTA appends it."""
    return (
        b"From mta@x.org Thu Nov 16 09:00:%02d 2023\nSubject: arrived %d\n"
        b"Message-ID: <a%d@x.org>\n\nnew mail %d\n\n" % (number, number, number, number)
    )


# --------------------------------------------------------------------------- format


def test_from_lines_need_a_time_and_a_year() -> None:
    assert is_from_line(b"From alice@x.org Mon Nov 13 10:00:00 2023")
    assert is_from_line(b"From MAILER-DAEMON  Thu Jun  5 10:00:00 +0000 2025\n")
    assert is_from_line(b"From x Thu, 5 Jun 2025 10:00:00 +0000")  # year before the time
    assert not is_from_line(b"From here on, an unquoted line without a date")
    assert not is_from_line(b">From alice@x.org Mon Nov 13 10:00:00 2023")
    assert not is_from_line(b"From: Alice <alice@x.org>")


def test_from_line_dates() -> None:
    assert from_line_date(b"From a Thu Jun  5 10:00:00 +0200 2025") == datetime(
        2025, 6, 5, 8, 0, tzinfo=UTC
    )
    local = from_line_date(b"From a Thu Jun  5 10:00:00 2025")
    assert local is not None and local.tzinfo is not None and local.hour == 10
    assert from_line_date(b"From a Thu Feb 30 10:00:00 2025") is None
    assert from_line_date(b"From a sometime") is None


def test_a_from_line_zone_beyond_a_day_means_no_date() -> None:
    # Found by fuzzing: "+6311" made datetime.timezone raise ValueError.
    assert from_line_date(b"From a Mon Jan  1 00:01:00 +6311 2024") is None
    assert from_line_date(b"From a Mon Jan  1 00:01:00 +0160 2024") is None
    assert from_line_date(b"From a Mon Jan  1 00:01:00 -2359 2024") is not None


def test_from_quoting_round_trips_mboxrd() -> None:
    body = b"From the start\n>From quoted once\n>>From twice\nnot From here\nFrom"
    quoted = quote_from(body)
    assert quoted == b">From the start\n>>From quoted once\n>>>From twice\nnot From here\nFrom"
    assert unquote_from(quoted) == body


def test_status_headers_give_flags_and_are_rewritten_at_the_end() -> None:
    block = b"Subject: s\nStatus: RO\nX-Status: DFAT\nTo: t\n"
    assert status_flags(block) == (frozenset(Flag), True)
    assert status_flags(b"Subject: s\n") == (frozenset(), False)
    assert status_flags(b"Status: O\n") == (frozenset(), True)
    rewritten = with_status(block, frozenset({Flag.SEEN, Flag.ANSWERED}))
    assert rewritten == b"Subject: s\nTo: t\nStatus: RO\nX-Status: A\n"
    assert with_status(b"A: b\r\nStatus:\r\n  R\r\n", frozenset()) == b"A: b\r\nStatus: O\r\n"


def test_a_record_quotes_adds_status_and_ends_with_an_empty_line() -> None:
    record = mbox_record(
        b"Return-Path: <sender@x.org>\nSubject: s\n\nFrom me\nno newline",
        frozenset({Flag.FLAGGED}),
        datetime(2025, 6, 5, 10, 0, tzinfo=UTC),
    )
    first, rest = record.split(b"\n", 1)
    assert first.startswith(b"From sender@x.org ") and is_from_line(first)
    assert rest == (
        b"Return-Path: <sender@x.org>\nSubject: s\nStatus: O\nX-Status: F\n"
        b"\n>From me\nno newline\n\n"
    )
    assert mbox_record(b"Subject: s\n\nx\n").startswith(b"From MAILER-DAEMON ")


def test_flags_of_headers_ending_in_a_lone_cr_stay_in_the_headers() -> None:
    # Headers only, the last line a lone CR: the LF the record adds made it an empty
    # line, so Status landed in the body and the flags were lost on reading.
    message = b"Subject: s\r\n\r"
    record = mbox_record(message, frozenset({Flag.FLAGGED}), datetime(2025, 6, 5, tzinfo=UTC))
    [entry] = scan_bytes(record)
    assert entry.flags == frozenset({Flag.FLAGGED})
    assert message_bytes(lambda at, n: record[at : at + n], entry) == message + b"\n"


def test_a_bare_cr_does_not_start_a_header_line() -> None:
    # Header lines end at LF: "\rstatus" after a bare CR was taken for a Status field,
    # and dropped when the flags were written.
    message = b"Subject: s\rstatus: kept\n\nbody\n"
    record = mbox_record(message, frozenset({Flag.DELETED}), datetime(2025, 6, 5, tzinfo=UTC))
    [entry] = scan_bytes(record)
    assert message_bytes(lambda at, n: record[at : at + n], entry) == message


def test_scan_finds_messages_separators_and_flags() -> None:
    entries = scan_bytes(MBOX)
    assert [e.start for e in entries] == [0, len(ONE), len(ONE + TWO)]
    first = entries[0]
    assert MBOX[first.head : first.content_end] == ONE[ONE.index(b"\n") + 1 : -1]
    assert MBOX[first.blank : first.blank + 1] == b"\n"
    assert [e.flags for e in entries] == [
        frozenset(),
        frozenset({Flag.SEEN, Flag.ANSWERED, Flag.FLAGGED}),
        frozenset(),
    ]
    assert [e.old for e in entries] == [False, True, True]
    read = lambda at, n: MBOX[at : at + n]  # noqa: E731
    assert message_bytes(read, first).endswith(
        b"\nFirst body.\nFrom a quoted line\nFrom here on, an unquoted line without a date\n"
    )
    assert b"Status" not in message_bytes(read, entries[1])


def test_scan_is_the_same_across_any_block_size() -> None:
    expected = scan_bytes(MBOX)
    for size in (1, 5, 6, 7, 64, 1000):
        assert scan_mbox(lambda at, n: MBOX[at : at + n], len(MBOX), size) == expected


def test_scan_of_broken_mboxes() -> None:
    assert scan_bytes(b"") == []
    with pytest.raises(NotMboxError):
        scan_bytes(b"Subject: not an mbox\n\nbody\n")
    # The last message cut short (no empty line, no newline): all of it is kept.
    cut = ONE + b"From b@x Tue Nov 14 22:13:25 2023\nSubject: cut\n\nhalf a li"
    last = scan_bytes(cut)[-1]
    assert cut[last.head : last.content_end] == b"Subject: cut\n\nhalf a li"
    # No empty line between messages, headers only, a huge From line, NUL bytes.
    packed = (
        b"From a Mon Nov 13 10:00:00 2023\nSubject: a\n\nbody\x00\n"
        b"From b Mon Nov 13 10:00:01 2023\nSubject: only headers\n"
        b"From " + b"c" * 10_000 + b" Mon Nov 13 10:00:02 2023\nSubject: c\n\n\n"
    )
    entries = scan_bytes(packed)
    assert len(entries) == 3
    assert packed[entries[1].head : entries[1].content_end] == b"Subject: only headers\n"
    assert entries[1].blank == entries[1].content_end
    assert packed[entries[2].head : entries[2].content_end] == b"Subject: c\n\n"


@pytest.mark.parametrize("line_end", range(65530, 65538))
def test_headers_longer_than_one_read_end_at_the_real_empty_line(line_end: int) -> None:
    # Headers are read 64 KiB at a time: a line end at a read's edge is not an empty line.
    start = b"From a Mon Nov 13 10:00:00 2023\n"
    first = b"X-Filler: " + b"f" * (line_end - len(b"X-Filler: ")) + b"\n"
    headers = first + b"X-More: " + b"m" * 70_000 + b"\nStatus: RO\n"
    data = start + headers + b"\nbody\n\n"
    (entry,) = scan_bytes(data)
    assert entry.blank == len(start + headers)
    assert entry.flags == frozenset({Flag.SEEN})


def test_c_clients_internal_data_message_is_hidden(tmp_path: Path) -> None:
    pseudo = (
        b"From MAILER-DAEMON Mon Nov 13 09:00:00 2023\n"
        b"Date: Mon, 13 Nov 2023 09:00:00 +0000\n"
        b"From: Mail System Internal Data <MAILER-DAEMON@x>\n"
        b"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
        b"X-IMAP: 1699866000 0000000003\nStatus: RO\n\n"
        b"This text is part of the internal format of your mail folder.\n\n"
    )
    path = tmp_path / "sent-mail"
    path.write_bytes(pseudo + MBOX)
    with MboxFolder(path) as folder:
        assert _subjects(folder) == ["banana", "Re: apple", "Zebra"]
        folder.set_flags([1], frozenset({Flag.DELETED}), True)
        assert folder.expunge() == [1]
    assert path.read_bytes() == pseudo + TWO + THREE  # kept, untouched


def test_without_mbox_headers() -> None:
    message = b"Subject: s\nX-UID: 5\nStatus: RO\nX-Keywords: a\n b\nTo: t\n\nStatus: in body\n"
    assert without_mbox_headers(message) == b"Subject: s\nTo: t\n\nStatus: in body\n"


# --------------------------------------------------------------------------- reading


def test_open_counts_envelopes_and_sorts(mbox: Path) -> None:
    with MboxFolder(mbox) as folder:
        status = folder.status()
        assert (status.count, status.recent, status.unseen, status.uidnext) == (3, 1, 2, 4)
        window = folder.envelopes([3, 1, 42])
        assert [(e.uid, e.subject) for e in window] == [(3, "Zebra"), (1, "banana")]
        assert window[1].internal_date == datetime(2023, 11, 13, 10, 0).astimezone()
        assert window[1].size == len(ONE) - len(ONE.split(b"\n")[0]) - 2
        assert folder.sort(SortKey.DATE) == [1, 2, 3]
        assert folder.sort(SortKey.FROM, reverse=True) == [3, 2, 1]
        assert folder.sort(SortKey.SUBJECT) == [2, 1, 3]
        assert folder.sort(SortKey.SIZE)[-1] == 3
        assert folder.sort(SortKey.ARRIVAL, reverse=True) == [3, 2, 1]
        assert [t.uid for t in folder.thread()] == [1, 3]
        assert folder.search(SearchQuery(body="third body")) == [3]
        assert folder.search(SearchQuery(flags=frozenset({Flag.FLAGGED}))) == [2]
        assert b"".join(folder.fetch_part(2, "1")) == b"Second body.\n"
        assert folder.structure(2).content_type == "text/plain"


def test_not_an_mbox_and_missing_files_give_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "notes").write_bytes(b"Just some notes\n")
    with pytest.raises(StoreError, match="not an mbox file"):
        MboxFolder(tmp_path / "notes")
    with pytest.raises(StoreError, match="no mailbox"):
        MboxFolder(tmp_path / "missing")
    with pytest.raises(StoreError, match="not a mailbox file"):
        MboxFolder(tmp_path)


def test_a_malformed_message_reads_as_far_as_it_goes(tmp_path: Path) -> None:
    path = tmp_path / "bad"
    path.write_bytes(
        b"From x Mon Nov 13 10:00:00 2023\nSubject: =?bogus?q?=FF?=\x00\n"
        b"Content-Type: multipart/mixed; boundary=b\nDate: yesterday\n\n--b\n"
        b"Content-Transfer-Encoding: base64\n\nAAEC!!\n"
    )
    with MboxFolder(path) as folder:
        (envelope,) = folder.envelopes([1])
        assert envelope.date is None
        assert [p.part_id for p in folder.structure(1).walk()] == ["", "1"]
        assert b"".join(folder.fetch_part(1, "1")) == b"\x00\x01\x02"


# --------------------------------------------------------------------------- flags


def test_flags_round_trip_through_status_headers(mbox: Path) -> None:
    inode = mbox.stat().st_ino
    with MboxFolder(mbox) as folder:
        folder.set_flags([1], frozenset({Flag.SEEN, Flag.DRAFT}), True)
        folder.set_flags([2], frozenset({Flag.FLAGGED}), False)
        assert mbox.read_bytes() == MBOX  # kept in memory until check(), expunge or close
        assert folder.envelopes([1])[0].flags == frozenset({Flag.SEEN, Flag.DRAFT})
    data = mbox.read_bytes()
    assert b"Message-ID: <m1@x.org>\nStatus: RO\nX-Status: T\n\nFirst body." in data
    assert b"In-Reply-To: <m1@x.org>\nStatus: RO\nX-Status: A\n\nSecond body." in data
    assert data.endswith(THREE)
    assert mbox.stat().st_ino == inode  # rewritten in place
    with MboxFolder(mbox) as again:
        assert [e.flags for e in again.envelopes(again.uids())] == [
            frozenset({Flag.SEEN, Flag.DRAFT}),
            frozenset({Flag.SEEN, Flag.ANSWERED}),
            frozenset(),
        ]
        assert again.status().recent == 0


def test_a_read_only_folder_refuses_changes(mbox: Path) -> None:
    with MboxFolder(mbox, read_only=True) as folder:
        for attempt in (
            lambda: folder.set_flags([1], frozenset({Flag.SEEN}), True),
            folder.expunge,
            lambda: folder.append(b"Subject: x\n\ny\n"),
        ):
            with pytest.raises(StoreError, match="read-only"):
                attempt()
    assert mbox.read_bytes() == MBOX


# --------------------------------------------------------------------------- writing


def test_append_quotes_from_lines_and_round_trips(mbox: Path) -> None:
    message = b"Subject: fcc\n\nFrom the top\n>From quoted\nlast line"
    with MboxFolder(mbox) as folder:
        uid = folder.append(message, frozenset({Flag.SEEN}), datetime(2025, 1, 2, tzinfo=UTC))
        assert uid == 4
        assert folder.check() is False  # ours, not new mail
        assert folder.fetch_message(4) == message + b"\n"  # a message ends with a newline
        assert folder.envelopes([4])[0].flags == frozenset({Flag.SEEN})
    data = mbox.read_bytes()
    assert data.startswith(MBOX)
    assert b"\n\n>From the top\n>>From quoted\nlast line\n\n" in data
    with MboxFolder(mbox) as again:
        assert again.fetch_message(4) == message + b"\n"


def test_append_separates_from_a_message_without_an_empty_line(tmp_path: Path) -> None:
    path = tmp_path / "sloppy"
    path.write_bytes(b"From a Mon Nov 13 10:00:00 2023\nSubject: a\n\nno final newline")
    with MboxFolder(path) as folder:
        folder.append(b"Subject: b\n\nsecond\n")
        assert folder.fetch_message(1) == b"Subject: a\n\nno final newline\n"
        assert _subjects(folder) == ["a", "b"]
    with MboxFolder(path) as again:
        assert _subjects(again) == ["a", "b"]
        assert again.fetch_message(1) == b"Subject: a\n\nno final newline\n"


def test_expunge_rewrites_in_place_and_keeps_uids(mbox: Path) -> None:
    inode = mbox.stat().st_ino
    with MboxFolder(mbox) as folder:
        folder.set_flags([1, 3], frozenset({Flag.DELETED}), True)
        assert folder.expunge() == [1, 3]
        assert folder.uids() == [2]
        assert folder.fetch_message(2).startswith(b"From: Bob")
        assert folder.expunge() == []
    assert mbox.read_bytes() == TWO
    assert mbox.stat().st_ino == inode
    assert not any(p.exists() for p in journal_paths(mbox))
    assert not lock_path(mbox).exists()


def test_check_finds_mail_an_mta_appended(mbox: Path) -> None:
    with MboxFolder(mbox) as folder:
        assert folder.check() is False
        with open(mbox, "ab") as handle:
            handle.write(_arriving(4))
        assert folder.check() is True
        assert folder.uids() == [1, 2, 3, 4]
        assert _subjects(folder)[-1] == "arrived 4"
        assert folder.check() is False


def test_uids_survive_another_program_rewriting_the_file(mbox: Path) -> None:
    with MboxFolder(mbox) as folder:
        folder.envelopes(folder.uids())
        # Another MUA expunges message 1 and marks message 3 seen and flagged.
        mbox.write_bytes(TWO + THREE.replace(b"Status: O\n", b"Status: RO\nX-Status: F\n"))
        folder.check()
        assert folder.uids() == [2, 3]
        assert _subjects(folder) == ["Re: apple", "Zebra"]
        assert folder.envelopes([3])[0].flags == frozenset({Flag.SEEN, Flag.FLAGGED})
        with pytest.raises(StoreError, match="no longer in"):
            folder.fetch_message(1)


def test_copy_between_mbox_files(mbox: Path, tmp_path: Path) -> None:
    target = tmp_path / "saved"
    target.touch()
    with MboxFolder(mbox) as source, MboxFolder(target) as dest:
        source.move_to([2], dest)
        assert source.uids() == [1, 3]
        assert [(e.subject, e.flags) for e in dest.envelopes(dest.uids())] == [
            ("Re: apple", frozenset({Flag.SEEN, Flag.ANSWERED, Flag.FLAGGED}))
        ]
        assert (
            dest.envelopes([1])[0].internal_date == datetime(2023, 11, 14, 22, 13, 25).astimezone()
        )


# --------------------------------------------------------------------------- crash journal


def _deleting_second(path: Path) -> tuple[int, list[tuple[int, int] | bytes]]:
    """(offset, pieces) of an expunge of message 2 of MBOX."""
    entries = scan_bytes(path.read_bytes())
    return entries[1].start, [(entries[2].start, entries[2].end)]


def _flagging_first(path: Path) -> tuple[int, list[tuple[int, int] | bytes]]:
    """(offset, pieces) of a rewrite that adds Status headers to message 1 (grows)."""
    data = path.read_bytes()
    first = scan_bytes(data)[0]
    block = with_status(data[first.head : first.blank], frozenset({Flag.SEEN}))
    return 0, [(0, first.head), block, (first.blank, len(data))]


def _journal(path: Path, offset: int, pieces: list[tuple[int, int] | bytes]) -> Path:
    fd = os.open(path, os.O_RDONLY)
    try:
        journal = write_journal(fd, path, offset, pieces)
    finally:
        os.close(fd)
    return journal.path


def test_a_rewrite_interrupted_before_truncating_is_finished_keeping_new_mail(
    mbox: Path,
) -> None:
    offset, pieces = _deleting_second(mbox)
    journal = _journal(mbox, offset, pieces)
    assert read_journal(journal) is not None
    with open(mbox, "r+b") as handle:  # the crash: half the new tail written...
        handle.seek(offset)
        handle.write(THREE[:40])
    with open(mbox, "ab") as handle:  # ...then an MTA (the locks died with us) appends
        handle.write(_arriving(4))
    with MboxFolder(mbox) as folder:
        assert _subjects(folder) == ["banana", "Zebra", "arrived 4"]
    assert mbox.read_bytes() == ONE + THREE + _arriving(4)
    assert not journal.exists()


def test_a_rewrite_interrupted_after_truncating_is_not_done_twice(mbox: Path) -> None:
    offset, pieces = _deleting_second(mbox)
    journal = _journal(mbox, offset, pieces)
    with open(mbox, "r+b") as handle:  # the rewrite was complete, the journal not removed
        handle.seek(offset)
        handle.write(THREE)
        handle.truncate(len(ONE + THREE))
        handle.write(_arriving(4))
    fd = os.open(mbox, os.O_RDONLY)
    parsed = read_journal(journal)
    assert parsed is not None and appended_since(fd, parsed) == len(ONE + THREE)
    os.close(fd)
    with MboxFolder(mbox) as folder:
        assert _subjects(folder) == ["banana", "Zebra", "arrived 4"]
    assert mbox.read_bytes() == ONE + THREE + _arriving(4)


@pytest.mark.parametrize("grown", [False, True])
def test_a_growing_rewrite_interrupted_before_writing_is_finished(mbox: Path, grown: bool) -> None:
    offset, pieces = _flagging_first(mbox)
    journal = _journal(mbox, offset, pieces)
    parsed = read_journal(journal)
    assert parsed is not None and parsed.new_size > parsed.old_size
    with open(mbox, "r+b") as handle:
        if grown:  # the file was grown (zeros) before the crash
            handle.truncate(parsed.new_size)
        handle.seek(0, os.SEEK_END)
        handle.write(_arriving(4))
    with MboxFolder(mbox) as folder:
        assert _subjects(folder) == ["banana", "Re: apple", "Zebra", "arrived 4"]
        assert folder.envelopes([1])[0].flags == frozenset({Flag.SEEN})
    data = mbox.read_bytes()
    assert b"\0" not in data
    assert data.endswith(TWO + THREE + _arriving(4))


def test_an_incomplete_journal_is_dropped_and_the_mailbox_left_alone(mbox: Path) -> None:
    offset, pieces = _deleting_second(mbox)
    journal = _journal(mbox, offset, pieces)
    journal.write_bytes(journal.read_bytes()[:-10])  # the crash came while writing it
    assert read_journal(journal) is None
    with MboxFolder(mbox) as folder:
        assert folder.status().count == 3
    assert mbox.read_bytes() == MBOX
    assert not journal.exists()


def test_a_read_only_open_does_not_repair_but_says_so(mbox: Path) -> None:
    offset, pieces = _deleting_second(mbox)
    journal = _journal(mbox, offset, pieces)
    with pytest.raises(StoreError, match="repair it after an interrupted rewrite"):
        MboxFolder(mbox, read_only=True)
    assert journal.exists() and mbox.read_bytes() == MBOX


# --------------------------------------------------------------------------- locks

HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
{lock}
print("locked", flush=True)
time.sleep(0.5)
os.lseek(fd, 0, os.SEEK_END)
os.write(fd, sys.argv[2].encode("latin-1"))
{unlock}
"""
STYLES = {
    "fcntl": ("fcntl.lockf(fd, fcntl.LOCK_EX)", "fcntl.lockf(fd, fcntl.LOCK_UN)"),  # Postfix
    "flock": ("fcntl.flock(fd, fcntl.LOCK_EX)", "fcntl.flock(fd, fcntl.LOCK_UN)"),  # c-client
    "dotlock": (
        "os.close(os.open(sys.argv[1] + '.lock', os.O_CREAT | os.O_EXCL | os.O_WRONLY))",
        "os.unlink(sys.argv[1] + '.lock')",
    ),
}


@pytest.mark.parametrize("style", STYLES)
def test_expunge_waits_for_another_writer_and_keeps_its_mail(mbox: Path, style: str) -> None:
    lock, unlock = STYLES[style]
    with MboxFolder(mbox) as folder:
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                HOLDER.format(lock=lock, unlock=unlock),
                str(mbox),
                _arriving(4).decode("latin-1"),
            ],
            stdout=subprocess.PIPE,
        )
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline() == b"locked\n"
            folder.set_flags([2], frozenset({Flag.DELETED}), True)
            # Waits for the holder, which appends while it holds its lock; then rewrites.
            assert folder.expunge() == [2]
            assert _subjects(folder) == ["banana", "Zebra", "arrived 4"]
        finally:
            assert holder.wait(timeout=10) == 0
    assert mbox.read_bytes() == ONE + THREE + _arriving(4)


CHECK_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("free")
except OSError:
    print("held")
"""


def test_closing_another_descriptor_of_the_file_keeps_our_lock(mbox: Path) -> None:
    # Classic POSIX locks die when the process closes *any* descriptor of the file (a
    # second folder on it, a copy); ours are open-file-description locks.
    def other_process_sees() -> str:
        done = subprocess.run(
            [sys.executable, "-c", CHECK_LOCK, str(mbox)], capture_output=True, text=True
        )
        return done.stdout.strip()

    fd = os.open(mbox, os.O_RDWR)
    try:
        with locked_mailbox(mbox, fd, exclusive=True):
            os.close(os.open(mbox, os.O_RDONLY))
            assert other_process_sees() == "held"
        assert other_process_sees() == "free"
    finally:
        os.close(fd)


def test_a_dot_lock_of_a_dead_process_is_broken(tmp_path: Path) -> None:
    target = tmp_path / "box"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    lock_path(target).write_text(dead.stdout)
    lock = DotLock(target)
    assert lock.acquire(timeout=5)
    assert lock_path(target).read_text() == f"{os.getpid()}\n"
    lock.release()
    assert not lock_path(target).exists()


def test_an_old_dot_lock_is_stale_and_a_fresh_one_is_not(tmp_path: Path) -> None:
    target = tmp_path / "box"
    lock_path(target).touch()  # Postfix's are empty: only their age tells
    now = time.time()
    assert not is_stale(lock_path(target), now)
    assert is_stale(lock_path(target), now + 301)
    lock = DotLock(target, stale_after=0.2)
    assert lock.acquire(timeout=5)  # broken once it is older than 0.2 s
    lock.release()


def test_a_live_dot_lock_is_waited_for_then_reported(tmp_path: Path) -> None:
    target = tmp_path / "box"
    lock_path(target).write_text(f"{os.getpid()}\n")  # a live holder
    with pytest.raises(StoreError, match=r"locked by another program: .*box\.lock \(held by pid"):
        DotLock(target).acquire(timeout=0.3)
    threading.Timer(0.2, lock_path(target).unlink).start()
    lock = DotLock(target)
    assert lock.acquire(timeout=10)  # the holder let go
    lock.release()


def test_a_dot_lock_broken_by_someone_else_is_not_removed_by_us(tmp_path: Path) -> None:
    target = tmp_path / "box"
    lock = DotLock(target)
    assert lock.acquire(timeout=5)
    lock_path(target).unlink()  # someone judged it stale...
    lock_path(target).write_text("12345\n")  # ...and took it
    lock.release()
    assert lock_path(target).read_text() == "12345\n"


# --------------------------------------------------------------------------- store


def test_store_lists_mbox_files_and_maildirs(tmp_path: Path, mbox: Path) -> None:
    mail = tmp_path / "mail"
    (mail / "lists").mkdir(parents=True)
    (mail / "sent-mail").write_bytes(MBOX)
    (mail / "postponed-msgs").touch()
    (mail / "lists" / "python").write_bytes(ONE)
    (mail / "notes.txt").write_text("not mail\n")
    (mail / ".hidden").write_bytes(ONE)
    (mail / "sent-mail.lock").touch()
    for sub in ("cur", "new", "tmp"):
        (mail / "archive" / sub).mkdir(parents=True)
    store = MboxStore(mail)
    listed = store.list_folders()
    assert [(f.name, f.selectable) for f in listed] == [
        ("archive", True),
        ("lists", False),
        ("lists/python", True),
        ("postponed-msgs", True),
        ("sent-mail", True),
    ]
    assert [f.name for f in store.list_folders("%")] == [
        "archive",
        "lists",
        "postponed-msgs",
        "sent-mail",
    ]
    assert isinstance(store.open("archive"), MaildirFolder)
    with store.open("lists/python") as folder:
        assert folder.status().count == 1


def test_store_creates_renames_and_deletes(tmp_path: Path) -> None:
    store = MboxStore(tmp_path)
    store.create("saved")
    store.create("old/")
    assert (tmp_path / "saved").read_bytes() == b"" and (tmp_path / "old").is_dir()
    with pytest.raises(StoreError, match="exists already"):
        store.create("saved")
    with store.open("saved") as folder:
        folder.append(b"Subject: kept\n\nx\n")
    store.rename("saved", "old/saved")
    with store.open("old/saved") as folder:
        assert _subjects(folder) == ["kept"]
    with pytest.raises(StoreError, match="exists"):
        store.rename("old/saved", "old/saved")
    store.delete("old/saved")
    store.delete("old/")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", ["", "/etc/passwd", "../escape", "a/../../b", "x\x1b]0;t\x07"])
def test_store_refuses_names_outside_its_directory(tmp_path: Path, name: str) -> None:
    with pytest.raises(StoreError) as error:
        MboxStore(tmp_path / "mail").open(name)
    assert "\x1b" not in str(error.value) and "\x07" not in str(error.value)


def test_a_planted_journal_does_not_overwrite_the_mailbox(tmp_path: Path) -> None:
    box = tmp_path / "victim"
    box.write_bytes(b"From a@b Mon Jan  1 00:00:00 2024\nSubject: important\n\nkeep me\n\n")
    info = os.stat(box)
    evil = b"From x@y Mon Jan  1 00:00:00 2024\nSubject: replaced\n\npwned\n\n"
    header = f"{info.st_dev} {info.st_ino} 0 {info.st_size} {len(evil)} {'0' * 64} -\n"
    journal = tmp_path / ".victim.pinesh-journal"
    journal.write_bytes(
        b"PINESH-MBOX-JOURNAL 1\n"
        + header.encode()
        + evil
        + b"END "
        + hashlib.sha256(evil).hexdigest().encode()
        + b"\n"
    )
    journal.chmod(0o666)  # writable by others: not one we wrote
    with MboxStore(tmp_path).open("victim") as folder:
        subjects = [e.subject for e in folder.envelopes(folder.uids())]
    assert subjects == ["important"]
    assert b"keep me" in box.read_bytes()


@pytest.mark.timeout(60)  # before the fix, opening the FIFO waited for a writer forever
def test_a_fifo_in_the_folder_directory_is_not_a_mailbox(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "inbox")  # put there by another user of a shared directory
    assert not looks_like_mbox(tmp_path / "inbox")
    assert MboxStore(tmp_path).list_folders() == []
