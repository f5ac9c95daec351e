"""The persistent header cache (stores/cache/header_cache.py) on real SQLite files in
tmp_path: round trips, UIDVALIDITY, set_uids, parts' bound, pending changes, two users of
one file, the file's safety, corrupt files, errors that turn the cache off, threads."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pinesh import paths
from pinesh.stores.base import Address, Envelope, Flag, Part
from pinesh.stores.cache import database, header_cache
from pinesh.stores.cache.header_cache import (
    CachedState,
    CacheUnavailable,
    HeaderCache,
    MailboxCache,
    PendingChange,
)

SEEN = frozenset({Flag.SEEN})
FLAGGED = frozenset({Flag.FLAGGED})
KEY = "imap://me@mail.example.org:993"


@pytest.fixture
def root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return paths.cache_dir()


@pytest.fixture
def cache(root: Path) -> Iterator[HeaderCache]:
    opened = HeaderCache.open(root, KEY)
    yield opened
    opened.close()


@pytest.fixture
def inbox(cache: HeaderCache) -> MailboxCache:
    box = cache.mailbox("INBOX")
    box.reset(42)
    return box


@pytest.fixture(params=["runs", "rows"])
def both_ways(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """set_uids by runs of UIDs, and (a limit of 0 runs) row by row."""
    if request.param == "rows":
        monkeypatch.setattr(header_cache, "RUNS_LIMIT", 0)
    return str(request.param)


def _envelope(uid: int, flags: frozenset[Flag] = frozenset(), subject: str = "hi") -> Envelope:
    return Envelope(
        uid=uid,
        date=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        sender=(Address("A", "a@example.org"),),
        to=(),
        cc=(),
        subject=subject,
        message_id=f"<{uid}@x>",
        in_reply_to=None,
        references=(),
        size=100 + uid,
        flags=flags,
    )


def _path(root: Path, key: str = KEY) -> Path:
    return root / "imap" / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".sqlite")


# -- state --------------------------------------------------------------------------------


def test_nothing_cached_then_reset_and_set_state(cache: HeaderCache) -> None:
    box = cache.mailbox("INBOX")
    assert box.state() is None
    assert box.uids() == [] and box.envelopes([1]) == {} and box.pending() == []
    assert box.reset(7) == 0
    assert box.state() == CachedState(7, None, None)
    box.set_state(uidnext=100, highestmodseq=12345678901234)
    assert box.state() == CachedState(7, 100, 12345678901234)


def test_reset_drops_everything_of_the_mailbox_and_its_pending_changes(
    cache: HeaderCache, inbox: MailboxCache
) -> None:
    other = cache.mailbox("Other")
    for box in (inbox, other):
        box.put_envelopes([_envelope(1), _envelope(2)])
        box.put_structure(1, Part("1", "text/plain"))
        box.put_part(1, "1", b"body")
        box.add_pending([1], SEEN, True)
        box.add_pending([2], FLAGGED, True)
    inbox.set_state(uidnext=3, highestmodseq=9)
    assert inbox.reset(43) == 2
    assert inbox.state() == CachedState(43, None, None)
    assert inbox.uids() == [] and inbox.envelopes([1, 2]) == {}
    assert inbox.structure(1) is None and inbox.part(1, "1") is None
    assert inbox.pending() == []
    assert other.uids() == [1, 2] and other.part(1, "1") == b"body"  # untouched
    assert len(other.pending()) == 2


def test_writes_before_any_reset_make_a_mailbox_of_uidvalidity_0(cache: HeaderCache) -> None:
    box = cache.mailbox("Never reset")
    box.apply_flags({5: SEEN})
    assert box.state() == CachedState(0, None, None)  # no server sends 0: the caller resets
    assert box.uids() == [5]


# -- UIDs and flags -------------------------------------------------------------------------


def test_set_uids_new_rows_take_seen_from_unseen(inbox: MailboxCache, both_ways: str) -> None:
    inbox.set_uids([1, 2, 3, 5], unseen=[2, 5])
    assert inbox.uids() == [1, 2, 3, 5]
    assert inbox.flags([1, 2, 3, 5, 9]) == {1: SEEN, 2: frozenset(), 3: SEEN, 5: frozenset()}
    assert inbox.unseen() == [2, 5] and inbox.unseen_count() == 2


def test_set_uids_keeps_known_flags_and_sets_or_clears_seen(
    inbox: MailboxCache, both_ways: str
) -> None:
    inbox.apply_flags(
        {
            1: frozenset({Flag.FLAGGED, Flag.SEEN}),
            2: frozenset({Flag.ANSWERED}),
            3: frozenset({Flag.DRAFT}),
        }
    )
    inbox.set_uids([1, 2, 3, 4], unseen=[1, 4])
    assert inbox.flags([1, 2, 3, 4]) == {
        1: FLAGGED,  # SEEN cleared, FLAGGED kept
        2: frozenset({Flag.ANSWERED, Flag.SEEN}),  # SEEN set
        3: frozenset({Flag.DRAFT, Flag.SEEN}),
        4: frozenset(),  # new
    }


def test_set_uids_drops_unlisted_rows_with_what_was_kept_of_them(
    inbox: MailboxCache, both_ways: str
) -> None:
    inbox.put_envelopes([_envelope(uid) for uid in (1, 2, 3, 10, 11)])
    for uid in (1, 2, 3, 10, 11):
        inbox.put_structure(uid, Part("1", "text/plain"))
        inbox.put_part(uid, "1", b"x")
    inbox.put_structure(50, Part("1", "text/plain"))  # a structure without a row
    inbox.set_uids([2, 3, 11, 12], unseen=[])
    assert inbox.uids() == [2, 3, 11, 12]
    assert sorted(inbox.envelopes([1, 2, 3, 10, 11])) == [2, 3, 11]
    assert [uid for uid in (1, 2, 3, 10, 11, 50) if inbox.structure(uid)] == [2, 3, 11]
    assert [uid for uid in (1, 2, 3, 10, 11) if inbox.part(uid, "1")] == [2, 3, 11]


def test_set_uids_accepts_unsorted_and_repeated_uids(inbox: MailboxCache, both_ways: str) -> None:
    inbox.set_uids([9, 3, 3, 7, 1], unseen=(7,))
    assert inbox.uids() == [1, 3, 7, 9]
    assert inbox.unseen() == [7]


def test_set_uids_of_nothing_empties_the_mailbox(inbox: MailboxCache, both_ways: str) -> None:
    inbox.set_uids(range(1, 1001), unseen=range(1, 1001, 2))
    assert len(inbox.uids()) == 1000 and inbox.unseen_count() == 500
    inbox.set_uids([], unseen=[])
    assert inbox.uids() == [] and inbox.unseen_count() == 0


def test_set_uids_over_many_runs_with_gaps(inbox: MailboxCache, both_ways: str) -> None:
    first = [uid for uid in range(1, 20_000) if uid % 7]
    inbox.set_uids(first, unseen=first[::3])
    second = [uid for uid in range(5, 20_100) if uid % 5]
    inbox.set_uids(second, unseen=second[::4])
    assert inbox.uids() == second
    assert inbox.unseen() == second[::4]


def test_apply_flag_sets_gives_exactly_these_uids_each_flag(inbox: MailboxCache) -> None:
    inbox.apply_flags({1: SEEN | FLAGGED, 2: FLAGGED, 3: frozenset({Flag.ANSWERED})})
    inbox.apply_flag_sets({Flag.FLAGGED: [2, 3, 99], Flag.DELETED: []})
    assert inbox.flags([1, 2, 3]) == {
        1: SEEN,
        2: FLAGGED,
        3: frozenset({Flag.ANSWERED, Flag.FLAGGED}),
    }
    assert inbox.uids() == [1, 2, 3]  # 99 is not made


def test_change_flags_sets_and_clears_in_place(inbox: MailboxCache) -> None:
    inbox.set_uids([1, 2, 3], unseen=[1, 2, 3])
    inbox.change_flags([1, 2, 77], SEEN | FLAGGED, True)
    inbox.change_flags([2], FLAGGED, False)
    assert inbox.flags([1, 2, 3]) == {1: SEEN | FLAGGED, 2: SEEN, 3: frozenset()}
    assert inbox.uids() == [1, 2, 3]
    assert inbox.unseen_count() == 1


def test_forget_drops_rows_envelopes_structures_and_parts(inbox: MailboxCache) -> None:
    inbox.put_envelopes([_envelope(1), _envelope(2)])
    inbox.put_structure(1, Part("1", "text/plain"))
    inbox.put_part(1, "", b"whole")
    inbox.forget([1, 404])
    assert inbox.uids() == [2]
    assert inbox.envelopes([1, 2]).keys() == {2}
    assert inbox.structure(1) is None and inbox.part(1, "") is None


def test_flags_of_many_uids_are_asked_in_chunks(inbox: MailboxCache) -> None:
    inbox.set_uids(range(1, 2001), unseen=range(1001, 2001))
    found = inbox.flags(list(range(1, 2001)))
    assert len(found) == 2000 and found[1] == SEEN and found[2000] == frozenset()


# -- envelopes, structures, parts -------------------------------------------------------------


def test_envelopes_round_trip_with_the_rows_current_flags(inbox: MailboxCache) -> None:
    inbox.put_envelopes([_envelope(1, SEEN, "one"), _envelope(2, FLAGGED, "two")])
    assert inbox.flags([1, 2]) == {1: SEEN, 2: FLAGGED}  # put_envelopes sets the row
    inbox.change_flags([1], FLAGGED, True)
    got = inbox.envelopes([2, 1, 3])
    assert got[1] == _envelope(1, SEEN | FLAGGED, "one")
    assert got[2] == _envelope(2, FLAGGED, "two")
    assert 3 not in got


def test_an_envelope_blob_gone_bad_counts_as_not_cached(cache: HeaderCache) -> None:
    box = cache.mailbox("INBOX")
    box.put_envelopes([_envelope(1), _envelope(2)])
    with sqlite3.connect(cache.path) as other:
        other.execute("UPDATE envelopes SET data = ? WHERE uid = 1", (b'{"date": [[[',))
    assert box.envelopes([1, 2]).keys() == {2}
    assert cache.problem is None


def test_structure_round_trips(inbox: MailboxCache) -> None:
    tree = Part(
        "",
        "multipart/mixed",
        {"boundary": "b"},
        children=(Part("1", "text/plain", {"charset": "utf-8"}), Part("2", "image/png")),
    )
    inbox.put_structure(5, tree)
    assert inbox.structure(5) == tree
    assert inbox.structure(6) is None


def test_parts_larger_than_an_eighth_of_the_limit_are_not_kept(root: Path) -> None:
    cache = HeaderCache.open(root, KEY, body_limit=8000)
    box = cache.mailbox("INBOX")
    box.put_part(1, "1", b"x" * 1000)
    box.put_part(1, "2", b"x" * 1001)
    assert box.part(1, "1") == b"x" * 1000
    assert box.part(1, "2") is None
    cache.close()


def test_parts_stay_within_the_limit_dropping_the_least_recently_read(root: Path) -> None:
    cache = HeaderCache.open(root, KEY, body_limit=8000)
    inbox, other = cache.mailbox("INBOX"), cache.mailbox("Other")
    for uid in range(1, 9):  # 8 x 1000 bytes: exactly the limit, over two mailboxes
        (inbox if uid % 2 else other).put_part(uid, "1", bytes([uid]) * 1000)
    assert inbox.part(1, "1") == b"\x01" * 1000  # read: now the most recent
    inbox.put_part(9, "1", b"\x09" * 1000)  # over by 1000: 2, the least recent, goes
    assert other.part(4, "1") == b"\x04" * 1000
    other.put_part(10, "1", b"\x0a" * 1000)  # 3 goes: 4 was read
    kept = {uid for uid in range(1, 11) if (inbox if uid % 2 else other).part(uid, "1")}
    assert kept == {1, 4, 5, 6, 7, 8, 9, 10}
    with sqlite3.connect(cache.path) as other_conn:
        total = other_conn.execute("SELECT sum(size) FROM parts").fetchone()[0]
    assert total <= 8000
    cache.close()


def test_a_part_is_read_while_another_process_holds_the_write_lock(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 50)
    cache = HeaderCache.open(root, KEY)
    box = cache.mailbox("INBOX")
    box.put_part(1, "1", b"body")
    blocker = sqlite3.connect(cache.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    assert box.part(1, "1") == b"body"  # its use is not recorded, and that is all
    blocker.execute("ROLLBACK")
    blocker.close()
    assert cache.problem is None
    cache.close()


def test_a_section_sqlite_cannot_store_is_not_kept(cache: HeaderCache) -> None:
    box = cache.mailbox("INBOX")
    box.put_part(1, "1.\ud800", b"x")  # a lone surrogate: SQLite takes only UTF-8
    assert box.part(1, "1.\ud800") is None
    box.put_part(1, "1", b"y")
    assert box.part(1, "1") == b"y"
    assert cache.problem is None


def test_a_part_put_again_replaces_the_old(inbox: MailboxCache) -> None:
    inbox.put_part(1, "1.2", b"old")
    inbox.put_part(1, "1.2", b"new")
    assert inbox.part(1, "1.2") == b"new"


# -- pending changes --------------------------------------------------------------------------


def test_pending_changes_are_applied_and_survive_reopening(root: Path) -> None:
    cache = HeaderCache.open(root, KEY)
    box = cache.mailbox("INBOX")
    box.reset(1)
    box.set_uids(range(1, 11), unseen=range(1, 11))
    first = box.add_pending(range(1, 11), SEEN, True)
    second = box.add_pending([3, 5], FLAGGED, True)
    third = box.add_pending([4], SEEN, False)
    assert 0 < first < second < third
    assert box.unseen() == [4]
    cache.close()

    again = HeaderCache.open(root, KEY).mailbox("INBOX")
    assert again.pending() == [
        PendingChange(first, tuple(range(1, 11)), SEEN, True),
        PendingChange(second, (3, 5), FLAGGED, True),
        PendingChange(third, (4,), SEEN, False),
    ]
    again.confirm(second)
    assert [change.id for change in again.pending()] == [first, third]
    assert again.flags([3]) == {3: SEEN | FLAGGED}


def test_pending_change_of_a_generator_of_uids_keeps_them_all(inbox: MailboxCache) -> None:
    inbox.set_uids([1, 2, 3], unseen=[1, 2, 3])
    inbox.add_pending((uid for uid in (1, 3)), SEEN, True)  # type: ignore[arg-type]
    assert inbox.pending()[0].uids == (1, 3)
    assert inbox.unseen() == [2]


def test_pending_changes_belong_to_their_mailbox(cache: HeaderCache) -> None:
    one, two = cache.mailbox("one"), cache.mailbox("two")
    change = one.add_pending([1], SEEN, True)
    assert two.pending() == []
    two.confirm(change)  # another mailbox's id: nothing happens
    assert len(one.pending()) == 1


# -- the file -----------------------------------------------------------------------------------


def test_the_file_is_named_by_the_hash_of_the_key_and_is_private(
    root: Path, cache: HeaderCache
) -> None:
    assert cache.path == _path(root)
    for directory in (root, root / "imap"):
        assert stat.S_IMODE(os.lstat(directory).st_mode) == 0o700
    assert stat.S_IMODE(os.lstat(cache.path).st_mode) == 0o600
    cache.mailbox("INBOX").apply_flags({1: SEEN})  # the WAL is made with the file's mode
    wal = cache.path.with_name(cache.path.name + "-wal")
    assert stat.S_IMODE(os.lstat(wal).st_mode) == 0o600


def test_mailbox_names_stay_inside_the_database(root: Path, cache: HeaderCache) -> None:
    names = ["../../x", "a\0b", "a", "/etc/passwd", "\ud800", ""]
    for number, name in enumerate(names, start=1):
        cache.mailbox(name).apply_flags({number: SEEN})
    for number, name in enumerate(names, start=1):
        assert cache.mailbox(name).uids() == [number]
    assert cache.problem is None
    made = sorted(path.name for path in root.rglob("*"))
    assert made == sorted(["imap", *(cache.path.name + end for end in ("", "-wal", "-shm"))])
    assert not (root.parent / "x").exists()


def test_two_caches_on_one_file_both_work(root: Path) -> None:
    first, second = HeaderCache.open(root, KEY), HeaderCache.open(root, KEY)
    first.mailbox("INBOX").put_envelopes([_envelope(1)])
    second.mailbox("INBOX").put_envelopes([_envelope(2)])
    second.mailbox("INBOX").add_pending([1], FLAGGED, True)
    for cache in (first, second):
        box = cache.mailbox("INBOX")
        assert box.uids() == [1, 2]
        assert len(box.pending()) == 1
        assert cache.problem is None
    first.close()
    second.close()


def test_a_symlink_planted_at_the_file_is_refused(root: Path, tmp_path: Path) -> None:
    target = tmp_path / "victim"
    target.write_bytes(b"precious")
    (root / "imap").mkdir(parents=True, mode=0o700)
    _path(root).symlink_to(target)
    with pytest.raises(CacheUnavailable, match="symbolic link"):
        HeaderCache.open(root, KEY)
    assert target.read_bytes() == b"precious"


def test_a_symlink_planted_as_the_directory_is_refused(root: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    root.mkdir(parents=True, mode=0o700)
    (root / "imap").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(CacheUnavailable, match="symbolic link"):
        HeaderCache.open(root, KEY)
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_a_directory_others_can_write_to_is_refused(root: Path) -> None:
    (root / "imap").mkdir(parents=True, mode=0o700)
    os.chmod(root / "imap", 0o777)  # noqa: S103 - the case under test
    with pytest.raises(CacheUnavailable, match=r"writable by others.*chmod 700"):
        HeaderCache.open(root, KEY)


@pytest.mark.skipif(os.getuid() != 0, reason="giving a file away needs root")
def test_a_file_of_another_user_is_refused(root: Path) -> None:
    HeaderCache.open(root, KEY).close()
    os.chown(_path(root), 65534, 65534)
    with pytest.raises(CacheUnavailable, match="belongs to uid 65534"):
        HeaderCache.open(root, KEY)


@pytest.mark.skipif(os.getuid() != 0, reason="giving a directory away needs root")
def test_a_directory_of_another_user_is_refused(root: Path) -> None:
    (root / "imap").mkdir(parents=True, mode=0o700)
    os.chown(root / "imap", 65534, 65534)
    with pytest.raises(CacheUnavailable, match=r"belongs to uid 65534.*remove it"):
        HeaderCache.open(root, KEY)


def test_a_readable_file_is_closed_to_others(root: Path) -> None:
    HeaderCache.open(root, KEY).close()
    os.chmod(_path(root), 0o644)
    HeaderCache.open(root, KEY).close()
    assert stat.S_IMODE(os.lstat(_path(root)).st_mode) == 0o600


@pytest.mark.parametrize(
    "content",
    [b"this is no database, but text", b"SQLite format 3\0" + b"\xff" * 200],
)
def test_a_corrupt_file_is_moved_aside_and_a_new_one_made(root: Path, content: bytes) -> None:
    (root / "imap").mkdir(parents=True, mode=0o700)
    path = _path(root)
    path.write_bytes(content)
    os.chmod(path, 0o600)
    cache = HeaderCache.open(root, KEY)
    cache.mailbox("INBOX").apply_flags({1: SEEN})
    assert cache.mailbox("INBOX").uids() == [1]
    aside = [p for p in path.parent.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes() == content
    cache.close()


def test_a_database_of_another_schema_version_is_moved_aside(root: Path) -> None:
    (root / "imap").mkdir(parents=True, mode=0o700)
    path = _path(root)
    with sqlite3.connect(path) as foreign:
        foreign.execute("CREATE TABLE notes (text TEXT)")
        foreign.execute("PRAGMA user_version = 99")
    foreign.close()
    os.chmod(path, 0o600)
    cache = HeaderCache.open(root, KEY)
    assert cache.mailbox("INBOX").state() is None and cache.problem is None
    assert len([p for p in path.parent.iterdir() if ".corrupt-" in p.name]) == 1
    cache.close()


def test_tables_of_another_program_are_moved_aside(root: Path) -> None:
    (root / "imap").mkdir(parents=True, mode=0o700)
    path = _path(root)
    with sqlite3.connect(path) as foreign:
        foreign.execute("CREATE TABLE notes (text TEXT)")
    foreign.close()
    cache = HeaderCache.open(root, KEY)
    cache.mailbox("INBOX").reset(1)
    assert cache.mailbox("INBOX").state() == CachedState(1, None, None)
    assert len([p for p in path.parent.iterdir() if ".corrupt-" in p.name]) == 1
    cache.close()


# -- errors turn the cache off ------------------------------------------------------------------


def test_a_lock_held_too_long_turns_the_cache_off_with_a_problem(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 50)
    cache = HeaderCache.open(root, KEY)
    box = cache.mailbox("INBOX")
    box.set_uids([1, 2], unseen=[2])
    blocker = sqlite3.connect(cache.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process, writing for too long
    box.apply_flags({3: SEEN})
    blocker.execute("ROLLBACK")
    blocker.close()
    assert cache.problem is not None and "locked" in cache.problem
    assert str(cache.path) in cache.problem and box.problem == cache.problem
    assert not cache.available
    # Off for the rest of the process: reads answer empty, writes do nothing.
    assert box.uids() == [] and box.state() is None and box.unseen_count() == 0
    assert box.add_pending([1], SEEN, True) == 0
    box.put_envelopes([_envelope(5)])
    cache.close()
    again = HeaderCache.open(root, KEY).mailbox("INBOX")
    assert again.uids() == [1, 2] and again.pending() == []  # nothing half-written


def test_a_database_closed_underneath_turns_the_cache_off(cache: HeaderCache) -> None:
    box = cache.mailbox("INBOX")
    box.put_envelopes([_envelope(1)])
    assert cache._conn is not None
    cache._conn.close()  # as if the file had gone away under us
    assert box.envelopes([1]) == {}
    assert cache.problem is not None and "closed" in cache.problem
    assert box.structure(1) is None and box.part(1, "") is None and box.pending() == []


def test_a_file_corrupt_beyond_its_first_page_is_moved_aside_at_open(root: Path) -> None:
    cache = HeaderCache.open(root, KEY)
    cache.mailbox("INBOX").set_uids(range(1, 5000), unseen=[])
    cache.close()
    path = _path(root)
    data = bytearray(path.read_bytes())
    data[4096:] = b"\xee" * (len(data) - 4096)  # every page after the first
    path.write_bytes(bytes(data))
    cache = HeaderCache.open(root, KEY)
    assert cache.mailbox("INBOX").state() is None and cache.problem is None
    assert any(".corrupt-" in p.name for p in path.parent.iterdir())
    cache.close()


class _CorruptConnection:
    """A connection whose file went bad after opening (SQLite cannot be made to show
    this on cue: its page cache still holds the good pages)."""

    def execute(self, *args: object) -> None:
        raise sqlite3.DatabaseError("database disk image is malformed")

    def close(self) -> None:
        pass


def test_a_file_gone_corrupt_while_open_turns_off_and_is_moved_aside(root: Path) -> None:
    cache = HeaderCache.open(root, KEY)
    cache._conn = _CorruptConnection()  # type: ignore[assignment]
    assert cache.mailbox("INBOX").uids() == []
    assert cache.problem is not None and "malformed" in cache.problem
    assert any(".corrupt-" in p.name for p in _path(root).parent.iterdir())
    fresh = HeaderCache.open(root, KEY)  # a new file, not the bad one again
    assert fresh.mailbox("INBOX").state() is None and fresh.problem is None
    fresh.close()


def test_threads_calling_at_once_do_not_fail(cache: HeaderCache) -> None:
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        box = cache.mailbox(f"box{number % 2}")
        try:
            for round_ in range(30):
                base = round_ * 10
                box.set_uids(range(1, base + 10), unseen=range(base, base + 10))
                box.put_envelopes([_envelope(base + 1)])
                box.change_flags([base + 1], FLAGGED, True)
                box.put_part(base + 1, "1", b"x" * 100)
                box.envelopes(range(1, base + 10))
                box.uids()
                box.unseen_count()
                box.add_pending([base + 1], SEEN, True)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert cache.problem is None
    assert len(cache.mailbox("box0").pending()) == 60
