"""The Maildir driver on temporary Maildirs: reading, flags in file names, delivery,
expunge, files moved by other programs, Maildir++ folders, and a 10,000-message fill."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pinesh.stores.base import Flag, SearchQuery, SortKey, StoreError, ThreadNode
from pinesh.stores.local.maildir_delivery import deliver
from pinesh.stores.local.maildir_folder import MaildirFolder
from pinesh.stores.local.maildir_names import arrival_key, flags_of, split_name, with_flags
from pinesh.stores.local.maildir_store import MaildirStore
from pinesh.stores.local.mbox_folder import MboxFolder
from tests.lab.maildir_fill import fill_maildir


def _message(number: int, *, subject: str, sender: str, date: str, extra: str = "") -> bytes:
    return (
        f"From: {sender}\nTo: Pine Lab <lab@pinesh.test>\nSubject: {subject}\n"
        f"Date: {date}\nMessage-ID: <m{number}@pinesh.test>\n{extra}\n"
        f"Body of message {number}.\n"
    ).encode()


MESSAGES = [
    # (file name, bytes): names start with the delivery time, as real ones do
    (
        "new/1700000003.M3P1.host",
        _message(
            3, subject="Zebra", sender="Carol <carol@x.org>", date="Tue, 14 Nov 2023 22:13:23 +0000"
        ),
    ),
    (
        "cur/1700000001.M1P1.host:2,S",
        _message(
            1, subject="Re: apple", sender="Bob <bob@x.org>", date="Tue, 14 Nov 2023 22:13:25 +0000"
        ),
    ),
    (
        "cur/1700000002.M2P1.host:2,FRS",
        _message(
            2,
            subject="banana",
            sender="Alice <alice@x.org>",
            date="Mon, 13 Nov 2023 10:00:00 +0000",
            extra="In-Reply-To: <m1@pinesh.test>\n",
        ),
    ),
    (
        "cur/1700000010.M10P1.host:2,T",
        _message(
            10, subject="trash", sender="Dan <dan@x.org>", date="Wed, 15 Nov 2023 10:00:00 +0000"
        )
        + b"x" * 500,
    ),
]


def _maildir(root: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for name, data in MESSAGES:
        (root / name).write_bytes(data)
    return root


def _files(root: Path) -> list[str]:
    return sorted(f"{sub}/{n}" for sub in ("new", "cur") for n in os.listdir(root / sub))


@pytest.fixture
def box(tmp_path: Path) -> Path:
    return _maildir(tmp_path / "Maildir")


# --------------------------------------------------------------------------- names


def test_file_names_give_base_flags_and_order() -> None:
    assert split_name("1.M2P3.host:2,FS") == ("1.M2P3.host", "2,FS")
    assert flags_of("2,DFRST") == frozenset(Flag)
    assert flags_of("2,Sa") == frozenset({Flag.SEEN})
    assert flags_of("1,S") == frozenset()  # an experimental info: no flags of ours
    assert with_flags("2,Sa", frozenset({Flag.FLAGGED, Flag.DELETED}), True) == "2,FSTa"
    assert with_flags("2,FSa", frozenset({Flag.FLAGGED}), False) == "2,Sa"
    assert with_flags("", frozenset({Flag.DRAFT}), True) == "2,D"
    names = ["1700000000.M10P1", "1700000000.M9P1", "999999999.M1P1", "1700000001.M1P1"]
    assert sorted(names, key=arrival_key) == [
        "999999999.M1P1",
        "1700000000.M9P1",
        "1700000000.M10P1",
        "1700000001.M1P1",
    ]


# --------------------------------------------------------------------------- reading


def test_open_counts_and_uids_in_arrival_order(box: Path) -> None:
    folder = MaildirFolder(box)
    status = folder.status()
    assert (status.count, status.recent, status.unseen) == (4, 1, 2)
    assert status.uidnext == 5
    assert folder.uids() == [1, 2, 3, 4]
    subjects = [e.subject for e in folder.envelopes(folder.uids())]
    assert subjects == ["Re: apple", "banana", "Zebra", "trash"]  # by the names' times
    assert _files(box) == sorted(n for n, _ in MESSAGES)  # opening moves nothing


def test_a_window_of_envelopes_in_the_order_asked(box: Path) -> None:
    folder = MaildirFolder(box)
    window = folder.envelopes([3, 1, 99])
    assert [(e.uid, e.subject) for e in window] == [(3, "Zebra"), (1, "Re: apple")]
    first = window[1]
    assert first.sender[0].email == "bob@x.org"
    assert first.message_id == "<m1@pinesh.test>"
    assert first.flags == frozenset({Flag.SEEN})
    assert first.date == datetime(2023, 11, 14, 22, 13, 25, tzinfo=UTC)
    assert first.size == len(MESSAGES[1][1])
    assert folder.envelopes([2])[0].flags == frozenset({Flag.FLAGGED, Flag.ANSWERED, Flag.SEEN})


def test_each_folder_gets_a_new_uidvalidity(box: Path) -> None:
    assert MaildirFolder(box).status().uidvalidity != MaildirFolder(box).status().uidvalidity


def test_sort_by_date_from_subject_size_and_arrival(box: Path) -> None:
    folder = MaildirFolder(box)
    assert folder.sort(SortKey.DATE) == [2, 3, 1, 4]
    assert folder.sort(SortKey.DATE, reverse=True) == [4, 1, 3, 2]
    assert folder.sort(SortKey.FROM) == [2, 1, 3, 4]
    assert folder.sort(SortKey.SUBJECT) == [1, 2, 4, 3]  # "Re: apple" sorts as "apple"
    assert folder.sort(SortKey.SIZE)[-1] == 4
    assert folder.sort(SortKey.ARRIVAL, reverse=True) == [4, 3, 2, 1]


def test_thread_and_search(box: Path) -> None:
    folder = MaildirFolder(box)
    assert ThreadNode(1, (ThreadNode(2),)) in folder.thread()
    assert folder.search(SearchQuery(body="message 3")) == [3]
    assert folder.search(SearchQuery(flags=frozenset({Flag.SEEN}))) == [1, 2]
    assert folder.search(SearchQuery(sender="ALICE", not_flags=frozenset({Flag.DELETED}))) == [2]


def test_message_structure_and_parts(box: Path) -> None:
    folder = MaildirFolder(box)
    assert folder.fetch_message(3) == MESSAGES[0][1]
    assert folder.structure(3).part_id == "1"
    assert b"".join(folder.fetch_part(3, "1")) == b"Body of message 3.\n"
    with pytest.raises(StoreError, match="no part 7"):
        folder.fetch_part(3, "7")


def test_an_envelope_reads_only_the_headers(box: Path) -> None:
    # A message whose body is not even readable as far as the envelope is concerned.
    head = b"Subject: big\nFrom: x@y\n\n"
    path = box / "new" / "1700000020.M20P1.host"
    with open(path, "wb") as handle:
        handle.write(head)
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB of NULs after the headers
    folder = MaildirFolder(box)
    (envelope,) = folder.envelopes([5])
    assert (envelope.subject, envelope.size) == ("big", 50 * 1024 * 1024)


# --------------------------------------------------------------------------- flags


def test_flags_round_trip_through_file_names(box: Path) -> None:
    folder = MaildirFolder(box)
    folder.set_flags([3], frozenset({Flag.FLAGGED}), True)  # a new/ message leaves new/
    folder.set_flags([1], frozenset({Flag.ANSWERED, Flag.DRAFT}), True)
    folder.set_flags([2], frozenset({Flag.FLAGGED, Flag.SEEN}), False)
    assert _files(box) == [
        "cur/1700000001.M1P1.host:2,DRS",
        "cur/1700000002.M2P1.host:2,R",
        "cur/1700000003.M3P1.host:2,F",
        "cur/1700000010.M10P1.host:2,T",
    ]
    again = MaildirFolder(box)
    assert [e.flags for e in again.envelopes(again.uids())] == [
        frozenset({Flag.DRAFT, Flag.ANSWERED, Flag.SEEN}),
        frozenset({Flag.ANSWERED}),
        frozenset({Flag.FLAGGED}),
        frozenset({Flag.DELETED}),
    ]


def test_seen_moves_a_new_message_to_cur_and_keeps_other_letters(box: Path) -> None:
    (box / "cur" / "1700000030.M30P1.host:2,Sa").write_bytes(b"Subject: kw\n\nx\n")
    folder = MaildirFolder(box)
    folder.set_flags([3], frozenset({Flag.SEEN}), True)
    assert "cur/1700000003.M3P1.host:2,S" in _files(box)
    assert folder.status().recent == 0
    folder.set_flags([5], frozenset({Flag.FLAGGED}), True)
    assert "cur/1700000030.M30P1.host:2,FSa" in _files(box)  # Dovecot's keyword kept


def test_a_read_only_folder_refuses_changes(box: Path) -> None:
    folder = MaildirFolder(box, read_only=True)
    with pytest.raises(StoreError, match="read-only"):
        folder.set_flags([1], frozenset({Flag.SEEN}), True)
    with pytest.raises(StoreError, match="read-only"):
        folder.expunge()
    with pytest.raises(StoreError, match="read-only"):
        folder.append(b"Subject: x\n\ny\n")
    assert _files(box) == sorted(n for n, _ in MESSAGES)


# --------------------------------------------------------------------------- other programs


def test_a_file_moved_by_another_program_is_found_by_its_base_name(box: Path) -> None:
    folder = MaildirFolder(box)
    folder.envelopes([3])
    # Another MUA (or Dovecot) reads message 3 and sets its flags.
    os.rename(box / "new/1700000003.M3P1.host", box / "cur/1700000003.M3P1.host:2,RS")
    assert folder.fetch_message(3) == MESSAGES[0][1]
    assert folder.envelopes([3])[0].flags == frozenset({Flag.ANSWERED, Flag.SEEN})
    os.rename(box / "cur/1700000001.M1P1.host:2,S", box / "cur/1700000001.M1P1.host:2,ST")
    folder.set_flags([1], frozenset({Flag.FLAGGED}), True)
    assert "cur/1700000001.M1P1.host:2,FST" in _files(box)  # theirs kept, ours added


def test_a_file_removed_by_another_program_is_gone(box: Path) -> None:
    folder = MaildirFolder(box)
    os.unlink(box / "cur/1700000001.M1P1.host:2,S")
    with pytest.raises(StoreError, match="no longer in"):
        folder.fetch_message(1)
    assert [e.uid for e in folder.envelopes([1, 2])] == [2]
    folder.set_flags([1], frozenset({Flag.SEEN}), True)  # nothing to flag: no error
    assert 1 not in folder.uids()


def test_check_finds_new_mail_with_higher_uids(box: Path) -> None:
    folder = MaildirFolder(box)
    assert folder.check() is False
    deliver(box, b"Subject: arrived\n\nnew mail\n")
    assert folder.check() is True
    assert folder.uids() == [1, 2, 3, 4, 5]
    assert folder.envelopes([5])[0].subject == "arrived"
    assert folder.check() is False


# --------------------------------------------------------------------------- writing


def test_append_delivers_through_tmp_with_flags_and_date(box: Path) -> None:
    folder = MaildirFolder(box)
    date = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    saved = b"Subject: saved\n\nFcc copy\n"
    uid = folder.append(saved, frozenset({Flag.SEEN}), date)
    assert uid == 5
    assert folder.check() is False  # our own message is not new mail
    (name,) = [n for n in os.listdir(box / "cur") if n.endswith(":2,S") and "M1P1" not in n]
    assert name.split(":")[0].endswith(f",S={len(saved)}")
    assert os.listdir(box / "tmp") == []
    assert (box / "cur" / name).stat().st_mtime == date.timestamp()
    (envelope,) = folder.envelopes([uid])
    assert (envelope.subject, envelope.flags, envelope.internal_date) == (
        "saved",
        frozenset({Flag.SEEN}),
        date,
    )
    assert folder.fetch_message(uid) == saved
    unread = folder.append(b"Subject: unread\n\nx\n")
    assert unread == 6
    assert len(os.listdir(box / "new")) == 2


def test_expunge_unlinks_the_deleted(box: Path) -> None:
    folder = MaildirFolder(box)
    folder.set_flags([2], frozenset({Flag.DELETED}), True)
    # Another program trashed message 3 meanwhile: expunge acts on the flags as they are.
    os.rename(box / "new/1700000003.M3P1.host", box / "cur/1700000003.M3P1.host:2,T")
    assert folder.expunge() == [2, 3, 4]
    assert folder.uids() == [1]
    assert _files(box) == ["cur/1700000001.M1P1.host:2,S"]
    assert folder.expunge() == []


def test_copy_between_maildir_and_mbox_keeps_content_flags_and_dates(
    box: Path, tmp_path: Path
) -> None:
    mbox_path = tmp_path / "saved"
    mbox_path.touch()
    maildir = MaildirFolder(box)
    with MboxFolder(mbox_path) as mbox:
        maildir.copy_to([2, 3], mbox)
        assert [(e.subject, e.flags) for e in mbox.envelopes(mbox.uids())] == [
            ("banana", frozenset({Flag.FLAGGED, Flag.ANSWERED, Flag.SEEN})),
            ("Zebra", frozenset()),
        ]
        assert mbox.fetch_message(2) == maildir.fetch_message(3)
        back = tmp_path / "back"
        for sub in ("cur", "new", "tmp"):
            (back / sub).mkdir(parents=True)
        copy = MaildirFolder(back)
        mbox.copy_to(mbox.uids(), copy)
    assert [(e.subject, e.flags) for e in copy.envelopes(copy.uids())] == [
        ("banana", frozenset({Flag.FLAGGED, Flag.ANSWERED, Flag.SEEN})),
        ("Zebra", frozenset()),
    ]
    assert copy.fetch_message(1) == maildir.fetch_message(2)
    original = maildir.envelopes([2])[0]
    assert copy.envelopes([1])[0].internal_date == original.internal_date


# --------------------------------------------------------------------------- store


def test_store_lists_creates_renames_and_deletes_folders(box: Path) -> None:
    store = MaildirStore(box)
    store.create("Lists")
    store.create("Lists.python")
    store.create("Work.2024")  # its parent "Work" does not exist
    assert (box / ".Lists" / "maildirfolder").exists()
    listed = {f.name: f for f in store.list_folders()}
    assert list(listed) == ["INBOX", "Lists", "Lists.python", "Work", "Work.2024"]
    assert listed["Lists"].has_children and listed["Lists"].selectable
    assert not listed["Work"].selectable and listed["Work"].has_children
    assert listed["Lists.python"].display == "python"
    assert [f.name for f in store.list_folders("%")] == ["INBOX", "Lists", "Work"]
    assert [f.name for f in store.list_folders("Lists.*")] == ["Lists.python"]

    deliver(box / ".Lists.python", b"Subject: in a folder\n\nx\n")
    store.rename("Lists", "Mailing")
    assert [f.name for f in store.list_folders("Mailing*")] == ["Mailing", "Mailing.python"]
    with store.open("Mailing.python") as folder:
        assert folder.status().count == 1
    store.delete("Mailing.python")
    assert [f.name for f in store.list_folders("Mailing*")] == ["Mailing"]
    assert store.open("INBOX").status().count == 4


@pytest.mark.parametrize("name", ["", "a/b", ".hidden", "trailing.", "a..b", "bad\x1b[2J", "inbox"])
def test_bad_folder_names_are_refused(box: Path, name: str) -> None:
    with pytest.raises(StoreError) as error:
        MaildirStore(box).create(name)
    assert "\x1b" not in str(error.value)


def test_missing_folders_and_non_maildirs_give_clear_errors(box: Path, tmp_path: Path) -> None:
    store = MaildirStore(box)
    with pytest.raises(StoreError, match="no folder 'Nope'"):
        store.open("Nope")
    store.create("Dup")
    with pytest.raises(StoreError, match="exists already"):
        store.create("Dup")
    with pytest.raises(StoreError, match="not a Maildir"):
        MaildirFolder(tmp_path)
    with pytest.raises(StoreError, match="INBOX"):
        store.rename("INBOX", "Old")


# --------------------------------------------------------------------------- scale


def test_a_10000_message_maildir_opens_and_pages(tmp_path: Path) -> None:
    root = tmp_path / "big"
    filled = fill_maildir(root, 10_000)
    folder = MaildirFolder(root)
    assert folder.status().count == 10_000
    assert folder.status().recent == sum(1 for m in filled if m.filename.startswith("new/"))
    uids = folder.uids()
    # The first page, and a page from the middle: the right messages, in arrival order.
    for start in (0, 5_000):
        page = folder.envelopes(uids[start : start + 50])
        assert [e.message_id for e in page] == [m.message_id for m in filled[start : start + 50]]
        assert [e.subject for e in page] == [m.subject for m in filled[start : start + 50]]
    # Opening and paging read only those files' headers (everything else stays unread).
    assert len(folder._cache) == 100
