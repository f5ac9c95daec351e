"""FolderView on real local folders: a filled Maildir and an mbox file written here."""

from __future__ import annotations

import mailbox
import shutil
import threading
from array import array
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.services.connections import Connections
from pinesh.services.folder_view import COMPACT_FROM, FolderView, Order, compact, flatten_threads
from pinesh.services.mail import MailSession
from pinesh.stores.base import (
    Envelope,
    FirstLook,
    Flag,
    FolderStatus,
    SortKey,
    StoreError,
    ThreadNode,
)
from pinesh.stores.local.maildir_folder import MaildirFolder
from pinesh.stores.ordering import base_subject, unicode_casemap
from tests.lab.maildir_fill import FilledMessage, fill_maildir


def session_for(inbox: str, tmp: Path) -> MailSession:
    rc = parse_pinerc(f"inbox-path={inbox}\n", str(tmp / "pinerc"))
    return MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp / "data")


@pytest.fixture
def filled(tmp_path: Path) -> tuple[Path, list[FilledMessage]]:
    maildir = tmp_path / "Maildir"
    return maildir, fill_maildir(maildir, 40, seed=5)


@pytest.fixture
def view(tmp_path: Path, filled: tuple[Path, list[FilledMessage]]) -> Iterator[FolderView]:
    opened = FolderView.open(session_for(f"#md/{filled[0]}", tmp_path), "INBOX")
    yield opened
    opened.close()


def message_files(maildir: Path) -> list[Path]:
    return sorted(p for sub in ("cur", "new") for p in (maildir / sub).iterdir())


def test_open_lists_in_arrival_order_and_reads_no_envelope(
    view: FolderView, filled: tuple[Path, list[FilledMessage]], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert view.count == 40
    assert view.route == "local" and not view.is_news and not view.read_only
    assert [view.index_of(view.uid_at(i)) for i in range(40)] == list(range(40))
    assert view.cached(view.uid_at(0)) is None  # nothing read yet
    summary = view.summary()
    unseen = sum(1 for m in filled[1] if not m.flags)
    assert summary == f"INBOX local: 40 messages, {unseen} unseen"


@pytest.mark.parametrize(("unseen_at", "start"), [((30, 7), 7), ((), 39)])
def test_what_opening_told_starts_the_view_without_asking(
    tmp_path: Path,
    filled: tuple[Path, list[FilledMessage]],
    monkeypatch: pytest.MonkeyPatch,
    unseen_at: tuple[int, ...],
    start: int,
) -> None:
    def first_look(folder: MaildirFolder) -> FirstLook:
        uids = tuple(MaildirFolder.uids(folder))
        unseen = tuple(uids[i] for i in unseen_at)
        return FirstLook(FolderStatus("INBOX", 40, 0, len(unseen), 1), uids, unseen)

    monkeypatch.setattr(MaildirFolder, "first_look", first_look)
    view = FolderView.open(session_for(f"#md/{filled[0]}", tmp_path), "INBOX")
    asked: list[str] = []
    for name in ("uids", "status", "search"):
        real = getattr(MaildirFolder, name)

        def counted(self: MaildirFolder, *args: Any, _name: str = name, _real: Any = real) -> Any:
            asked.append(_name)
            return _real(self, *args)

        monkeypatch.setattr(MaildirFolder, name, counted)
    try:
        assert view.count == 40
        assert view.summary() == f"INBOX local: 40 messages, {len(unseen_at)} unseen"
        assert view.opening_start() == start  # the first unseen, else the newest
        assert asked == []
        assert view.opening_start() is None  # told once: later, the folder is asked
        view.summary()
        assert asked == ["status"]
    finally:
        view.close()


def test_window_reads_only_what_is_missing(
    view: FolderView, filled: tuple[Path, list[FilledMessage]], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []
    real = MaildirFolder.envelopes

    def counting(self: MaildirFolder, uids: Sequence[int]) -> list[Envelope]:
        asked.extend(uids)
        return real(self, uids)

    monkeypatch.setattr(MaildirFolder, "envelopes", counting)
    first = view.window(10, 20)
    assert [e.subject for e in first] == [m.subject for m in filled[1][10:20]]
    assert len(asked) == 10
    again = view.window(15, 25)  # five cached, five new
    assert len(again) == 10 and len(asked) == 15
    assert view.window(15, 25) == again and len(asked) == 15
    assert view.cached(view.uid_at(24)) is not None and view.cached(view.uid_at(25)) is None


def test_sort_reverse_and_back_to_arrival(view: FolderView) -> None:
    view.set_sort(SortKey.SUBJECT)
    envelopes = view.window(0, view.count)
    keys = [unicode_casemap(base_subject(e.subject)) for e in envelopes]
    assert keys == sorted(keys) and keys != [
        unicode_casemap(base_subject(e.subject)) for e in sorted(envelopes, key=lambda e: e.uid)
    ]
    view.set_sort(SortKey.SUBJECT, reverse=True)
    assert [unicode_casemap(base_subject(e.subject)) for e in view.window(0, 40)] == sorted(
        keys, reverse=True
    )
    view.set_sort(SortKey.ARRIVAL, reverse=True)
    assert list(view.order.uids) == sorted(view.order.uids, reverse=True)
    view.set_sort(SortKey.ARRIVAL)
    assert list(view.order.uids) == sorted(view.order.uids)


def test_thread_view_keeps_depths(
    view: FolderView, filled: tuple[Path, list[FilledMessage]]
) -> None:
    view.set_threaded()
    assert view.threaded and view.count == 40
    by_id = {m.message_id: m for m in filled[1]}
    envelopes = {e.uid: e for e in view.window(0, 40)}
    for position in range(40):
        envelope = envelopes[view.uid_at(position)]
        parent = by_id.get(envelope.in_reply_to or "")
        if view.depth_at(position) == 0:
            continue
        # A reply sits below its parent, one level deeper, when the parent is here.
        assert parent is not None
        above = [envelopes[view.uid_at(p)] for p in range(position)]
        assert any(e.message_id == parent.message_id for e in above)
    assert any(view.depth_at(p) > 0 for p in range(40))
    view.set_sort(SortKey.ARRIVAL)
    assert not view.threaded and view.depth_at(5) == 0


def test_flatten_threads_skips_missing_parents_without_recursion() -> None:
    nodes = [
        ThreadNode(1, (ThreadNode(2, (ThreadNode(3),)), ThreadNode(4))),
        ThreadNode(None, (ThreadNode(5), ThreadNode(6, (ThreadNode(7),)))),
    ]
    assert flatten_threads(nodes) == ((1, 2, 3, 4, 5, 6, 7), (0, 1, 2, 1, 0, 0, 1))
    deep = ThreadNode(5000)
    for uid in range(4999, 0, -1):
        deep = ThreadNode(uid, (deep,))
    uids, depths = flatten_threads([deep])
    assert len(uids) == 5000 and depths[-1] == 4999


def test_flags_delete_and_expunge_on_disk(
    view: FolderView, filled: tuple[Path, list[FilledMessage]]
) -> None:
    maildir = filled[0]
    view.window(0, 40)
    uid = view.uid_at(3)
    view.set_flags([uid], frozenset({Flag.DELETED}), True)
    cached = view.cached(uid)
    assert cached is not None and Flag.DELETED in cached.flags
    assert any(p.name.endswith("T") or ",T" in p.name for p in message_files(maildir))
    assert view.deleted_count() >= 1
    before = len(message_files(maildir))
    removed = view.expunge()
    assert uid in removed and view.count == 40 - len(removed)
    assert len(message_files(maildir)) == before - len(removed)
    assert view.index_of(uid) is None and view.cached(uid) is None


def test_save_into_a_new_mbox_readable_by_the_stdlib(
    view: FolderView, filled: tuple[Path, list[FilledMessage]], tmp_path: Path
) -> None:
    uids = [view.uid_at(0), view.uid_at(7)]
    dest = tmp_path / "saved"
    view.save_to(uids, str(dest))
    box = mailbox.mbox(dest)
    ids = [m["Message-ID"] for m in box]
    assert ids == [filled[1][0].message_id, filled[1][7].message_id]
    with pytest.raises(StoreError, match="into itself"):
        view.save_to(uids, "INBOX")


def test_export_is_atomic_and_asks_before_overwriting(view: FolderView, tmp_path: Path) -> None:
    uid = view.uid_at(2)
    path = tmp_path / "out.eml"
    written = view.export(uid, path)
    assert path.read_bytes() == view.raw(uid) and written == len(view.raw(uid))
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):
        view.export(view.uid_at(3), path)
    assert path.read_bytes() == view.raw(uid)
    view.export(view.uid_at(3), path, overwrite=True)
    assert path.read_bytes() == view.raw(view.uid_at(3))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".pinesh-")] == []


def test_search_and_next_match(view: FolderView, filled: tuple[Path, list[FilledMessage]]) -> None:
    word = filled[1][12].subject.split()[-1]
    matches = view.search(word)
    assert view.uid_at(12) in matches
    assert view.next_match(matches, 11) == 12
    assert view.next_match(matches, 39) == min(view.index_of(u) or 0 for u in matches)
    assert view.search("no such word anywhere 7f3a") == []
    assert view.next_match([], 0) is None


def test_read_marks_seen_and_gives_text(
    view: FolderView, filled: tuple[Path, list[FilledMessage]]
) -> None:
    position = next(i for i, m in enumerate(filled[1]) if not m.flags and m.kind == "plain")
    uid = view.uid_at(position)
    readable = view.read_protected(uid).readable
    assert readable.text.strip()
    envelope = view.envelope(uid)
    assert envelope is not None and Flag.SEEN in envelope.flags
    name = Path(filled[1][position].filename).name
    assert (filled[0] / "cur" / f"{name}:2,S").exists()
    headers = view.header_text(uid)
    assert f"Message-ID: {filled[1][position].message_id}" in headers
    assert "\n\n" not in headers  # the headers only


def test_first_unseen(view: FolderView, filled: tuple[Path, list[FilledMessage]]) -> None:
    first = next(i for i, m in enumerate(filled[1]) if not m.flags)
    assert view.first_unseen() == first


def test_many_threads_share_one_folder(view: FolderView) -> None:
    errors: list[BaseException] = []

    def work(start: int) -> None:
        try:
            for _ in range(5):
                view.window(start, start + 8)
                view.set_flags([view.uid_at(start)], frozenset({Flag.FLAGGED}), True)
                view.raw(view.uid_at(start + 1))
        except BaseException as exc:  # collected: the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i * 4,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(view.cached(view.uid_at(i)) is not None for i in range(36))


def test_closed_view_says_so(view: FolderView) -> None:
    view.close()
    view.close()  # twice is fine
    with pytest.raises(StoreError, match="closed"):
        view.raw(1)


MBOX_MESSAGES = [
    (b"alice@x.org", b"apple", b"<a@x.org>"),
    (b"bob@x.org", b"cherry", b"<b@x.org>"),
    (b"carol@x.org", b"banana", b"<c@x.org>"),
]


def write_mbox(path: Path) -> None:
    out = b""
    for day, (sender, subject, msgid) in enumerate(MBOX_MESSAGES, 1):
        out += (
            b"From "
            + sender
            + b" Mon Nov 1%d 10:00:00 2023\n" % day
            + b"From: "
            + sender
            + b"\nSubject: "
            + subject
            + b"\nDate: Mon, 1%d Nov 2023 10:00:00 +0000\n" % day
            + b"Message-ID: "
            + msgid
            + b"\n\nBody of "
            + subject
            + b".\n\n"
        )
    path.write_bytes(out)


def test_an_mbox_folder(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    write_mbox(spool)
    opened = FolderView.open(session_for(str(spool), tmp_path), "INBOX")
    try:
        assert opened.count == 3 and opened.route == "local"
        assert [e.subject for e in opened.window(0, 3)] == ["apple", "cherry", "banana"]
        opened.set_sort(SortKey.SUBJECT)
        assert [e.subject for e in opened.window(0, 3)] == ["apple", "banana", "cherry"]
        assert "Body of apple." in opened.read_protected(opened.uid_at(0)).readable.text
        cherry = opened.uid_at(2)
        opened.set_flags([cherry], frozenset({Flag.DELETED}), True)
        assert opened.expunge() == [cherry]
        assert [e.subject for e in opened.window(0, opened.count)] == ["apple", "banana"]
    finally:
        opened.close()
    box = mailbox.mbox(spool)
    assert sorted(m["Subject"] for m in box) == ["apple", "banana"]
    status = {m["Subject"]: m["Status"] or "" for m in box}
    assert "R" in status["apple"] and "R" not in status["banana"]  # written at close


def test_a_read_only_folder_is_read_without_marking_seen(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    write_mbox(spool)
    session = session_for(str(spool), tmp_path)
    folder = session.open_folder("INBOX", read_only=True)
    opened = FolderView(session, "INBOX", folder, session.parse("INBOX").driver)
    try:
        opened.set_sort(SortKey.ARRIVAL)
        assert opened.read_only and opened.count == 3
        uid = opened.uid_at(0)
        assert "Body of apple." in opened.read_protected(uid).readable.text
        envelope = opened.envelope(uid)
        assert envelope is not None and Flag.SEEN not in envelope.flags
    finally:
        opened.close()
    assert "Status: R" not in spool.read_text()


@pytest.fixture
def maildir_view(tmp_path: Path) -> Iterator[tuple[FolderView, Path]]:
    maildir = tmp_path / "Maildir"
    fill_maildir(maildir, 5, seed=3)
    view = FolderView.open(session_for(f"#md/{maildir}", tmp_path), "INBOX")
    yield view, maildir
    view.close()


def test_deleted_count_on_a_maildir_replaced_by_a_file_is_a_store_error(
    maildir_view: tuple[FolderView, Path],
) -> None:
    # Was: NotADirectoryError (an OSError) from the directory listing, not the store's error.
    view, maildir = maildir_view
    shutil.rmtree(maildir)
    maildir.write_bytes(b"")
    with pytest.raises(StoreError) as caught:
        view.deleted_count()
    assert caught.value.message == "cannot count the deleted messages in INBOX: Not a directory"
    assert caught.value.hint == "another program moved or removed the folder; open it again"


def test_deleted_count_on_a_removed_maildir_is_a_store_error(
    maildir_view: tuple[FolderView, Path],
) -> None:
    view, maildir = maildir_view
    shutil.rmtree(maildir)
    with pytest.raises(StoreError, match="has lost its new/ directory"):
        view.deleted_count()


def test_deleted_count_still_counts(maildir_view: tuple[FolderView, Path]) -> None:
    view, _ = maildir_view
    view.set_flags([view.uid_at(0), view.uid_at(2)], frozenset({Flag.DELETED}), True)
    assert view.deleted_count() == 2


class _RacyCache(dict[int, Any]):
    """A cache that runs another worker's step the first time it is touched while the
    view's lock is free: what another thread may do at that moment."""

    def __init__(self, lock: threading.Lock, step: Callable[[], None]) -> None:
        super().__init__()
        self.lock, self.step, self.fired = lock, step, False

    def _maybe(self) -> None:
        if len(self) and not self.fired and not self.lock.locked():
            self.fired = True
            self.step()

    def __contains__(self, key: object) -> bool:
        found = super().__contains__(key)
        self._maybe()  # after the answer: what was there may be gone when it is used
        return found

    def get(self, key: int, default: Any = None) -> Any:
        found = super().get(key, default)
        self._maybe()
        return found


def test_a_window_read_while_another_worker_expunges(view: FolderView) -> None:
    # Was: the window was read from the cache after the lock was let go: an expunge in
    # another worker in between made it raise KeyError.
    uids = [view.uid_at(i) for i in range(view.count)]

    def expunge_one() -> None:
        with view._lock:
            dict.pop(cache, uids[0], None)

    cache = _RacyCache(view._lock, expunge_one)
    view._cache = cache
    found = view.window(0, view.count)
    assert [e.uid for e in found] == uids


def test_flag_changes_from_two_workers_both_stay_in_the_cache(view: FolderView) -> None:
    # Was: the cached envelope was read, then written back changed, without the lock: a
    # change made by another worker in between was lost from the index.
    uid = view.uid_at(0)
    view.window(0, 1)
    cache = _RacyCache(view._lock, lambda: view.set_flags([uid], frozenset({Flag.FLAGGED}), True))
    cache.update(view._cache)
    view._cache = cache
    view.set_flags([uid], frozenset({Flag.DELETED}), True)
    if not cache.fired:  # it did not come in between: it comes after
        cache.fired = True
        view.set_flags([uid], frozenset({Flag.FLAGGED}), True)
    envelope = view.cached(uid)
    assert envelope is not None
    assert {Flag.FLAGGED, Flag.DELETED} <= envelope.flags


def test_a_long_order_keeps_its_uids_compact_and_finds_positions_without_a_dict() -> None:
    uids = list(range(1, COMPACT_FROM + 1))
    order = Order(compact(uids))
    assert isinstance(order.uids, array) and order.uids.itemsize == 4
    assert list(order.uids) == uids
    assert order.index_of(1) == 0 and order.index_of(COMPACT_FROM) == COMPACT_FROM - 1
    assert order.index_of(0) is None and order.index_of(COMPACT_FROM + 1) is None
    assert "positions" not in order.__dict__  # arrival order: bisection, no dict built
    shorter = order.without({1, 2})
    assert isinstance(shorter.uids, tuple) and shorter.index_of(3) == 0


def test_an_order_not_ascending_finds_positions_through_its_dict() -> None:
    order = Order(compact([5, 3, 9, 1]))
    assert order.uids == (5, 3, 9, 1)
    assert [order.index_of(u) for u in (1, 3, 5, 9, 7)] == [3, 1, 0, 2, None]
    assert "positions" in order.__dict__


def test_uids_no_array_can_hold_stay_a_tuple() -> None:
    uids = [-1, *range(1, COMPACT_FROM + 1)]
    assert isinstance(compact(uids), tuple)
    assert isinstance(compact([2**32, *range(1, COMPACT_FROM + 1)]), tuple)


def test_first_unseen_of_a_long_arrival_order_is_the_lowest_unseen_shown(
    view: FolderView,
) -> None:
    view._order = Order(compact(range(10, 10 + COMPACT_FROM)))
    view._first_unseen, view._unseen = (7, 500, 12), 3  # 7 is not shown
    assert view.first_unseen() == 2  # UID 12
    assert "positions" not in view.order.__dict__


def test_counts_are_written_with_thousands_separators_as_pine_does(tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    filled = fill_maildir(maildir, 1200, seed=6)
    opened = FolderView.open(session_for(f"#md/{maildir}", tmp_path), "INBOX")
    try:
        unseen = sum(1 for m in filled if not m.flags)
        assert opened.summary() == f"INBOX local: 1,200 messages, {unseen:,} unseen"
    finally:
        opened.close()


def test_a_count_is_printed_with_its_noun_singular_for_one() -> None:
    from pinesh.services.folder_view import counted

    assert [counted(n, "message") for n in (0, 1, 2, 100_000)] == [
        "0 messages",
        "1 message",
        "2 messages",
        "100,000 messages",
    ]


def _seen_and_new(tmp: Path) -> Path:
    """Four messages: 1 and 3 seen, 2 and 4 new."""
    maildir = tmp / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    for n in range(1, 5):
        where = f"cur/{1_000_000_000 + n}.m{n}.pinesh:2,S" if n % 2 else f"new/{n}.m{n}.pinesh"
        (maildir / where).write_bytes(
            f"From: a{n}@example.org\r\nSubject: m{n}\r\n\r\nb\r\n".encode()
        )
    return maildir


@pytest.fixture
def seen_and_new(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FolderView]:
    """INBOX open on _seen_and_new's four messages; HOME is tmp_path."""
    monkeypatch.setenv("HOME", str(tmp_path))
    inbox = FolderView.open(session_for(f"#md/{_seen_and_new(tmp_path)}", tmp_path), "INBOX")
    yield inbox
    inbox.close()


def test_read_messages_move_to_the_read_message_folder(
    seen_and_new: FolderView, tmp_path: Path
) -> None:
    said = seen_and_new.move_read_to("read-messages")
    assert said == "2 read messages moved to read-messages"
    assert seen_and_new.count == 2
    moved = mailbox.mbox(tmp_path / "mail" / "read-messages")
    assert sorted(m["Subject"] for m in moved) == ["m1", "m3"]


def test_moving_read_messages_expunges_nothing_the_user_only_marked(
    seen_and_new: FolderView,
) -> None:
    inbox = seen_and_new
    inbox.set_flags([inbox.uid_at(1)], frozenset({Flag.DELETED}), True)  # m2, unread
    said = inbox.move_read_to("read-messages")
    assert said.endswith("(marked deleted: other messages are marked deleted too)")
    assert inbox.count == 4  # nothing expunged


@pytest.mark.parametrize(
    ("features", "shown"), [("", "html words"), ("prefer-plain-text", "plain words")]
)
def test_an_alternative_shows_its_html_unless_prefer_plain_text(
    features: str, shown: str, tmp_path: Path
) -> None:
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1.alt.pinesh").write_bytes(
        b'From: a@example.org\r\nContent-Type: multipart/alternative; boundary="a"\r\n\r\n'
        b"--a\r\nContent-Type: text/plain\r\n\r\nplain words\r\n--a\r\n"
        b"Content-Type: text/html\r\n\r\n<p>html words</p>\r\n--a--\r\n"
    )
    rc = parse_pinerc(f"inbox-path=#md/{maildir}\nfeature-list={features}\n", str(tmp_path / "rc"))
    session = MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp_path / "d")
    inbox = FolderView.open(session, "INBOX")
    try:
        text = inbox.read_protected(inbox.uid_at(0)).readable.text
    finally:
        inbox.close()
    assert shown in text and ({"html words", "plain words"} - {shown}).pop() not in text
