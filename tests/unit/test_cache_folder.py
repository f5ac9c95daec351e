"""A mailbox read from its header cache alone (CacheFolder): what it answers without a
server, and what it refuses with a message that says it needs one."""

from __future__ import annotations

from array import array
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pinesh.stores.base import Address, Envelope, Flag, Part, SearchQuery, SortKey, StoreError
from pinesh.stores.cache.cache_folder import CacheFolder
from pinesh.stores.cache.header_cache import HeaderCache, MailboxCache

SEEN = frozenset({Flag.SEEN})
FLAGGED = frozenset({Flag.FLAGGED})


def _envelope(uid: int, subject: str, day: int, flags: frozenset[Flag] = SEEN) -> Envelope:
    return Envelope(
        uid=uid,
        date=datetime(2026, 1, day, tzinfo=UTC),
        sender=(Address("Ann", f"ann{uid}@example.org"),),
        to=(),
        cc=(),
        subject=subject,
        message_id=f"<{uid}@example.org>",
        in_reply_to=None,
        references=(),
        size=100 * uid,
        flags=flags,
        internal_date=datetime(2026, 1, day, tzinfo=UTC),
    )


@pytest.fixture
def kept(tmp_path: Path) -> MailboxCache:
    cache = HeaderCache.open(tmp_path, "imap:me@mail.example.org")
    box = cache.mailbox("INBOX")
    box.reset(7)
    box.set_uids([1, 2, 3, 5], unseen=[3, 5])
    box.put_envelopes([_envelope(2, "beta", 3), _envelope(3, "alpha", 2, frozenset())])
    box.put_structure(3, Part("1", "text/plain", {"charset": "utf-8"}))
    box.put_part(3, "1", b"kept text\n")
    box.set_state(uidnext=6, highestmodseq=40)
    return box


def test_it_lists_every_uid_and_counts_the_unseen_without_a_server(kept: MailboxCache) -> None:
    folder = CacheFolder("IMAP server mail INBOX", kept, "offline")
    look = folder.first_look()
    assert look is not None
    assert list(look.uids) == [1, 2, 3, 5] and list(look.unseen) == [3, 5]
    status = folder.status()
    assert (status.count, status.unseen, status.uidvalidity, status.uidnext) == (4, 2, 7, 6)


def test_envelopes_read_before_come_back_in_the_order_asked(kept: MailboxCache) -> None:
    folder = CacheFolder("INBOX", kept, "offline")
    assert [e.subject for e in folder.envelopes([3, 1, 2])] == ["alpha", "beta"]


def test_a_message_read_before_reads_and_one_never_read_says_why_not(kept: MailboxCache) -> None:
    folder = CacheFolder("IMAP server mail INBOX", kept, "offline")
    assert folder.structure(3).content_type == "text/plain"
    assert b"".join(folder.fetch_part(3, "1")) == b"kept text\n"
    with pytest.raises(StoreError, match="UID 1 was not read before") as caught:
        folder.structure(1)
    assert "offline" in caught.value.message and caught.value.hint


def test_flag_searches_answer_from_the_cache_and_text_searches_need_the_server(
    kept: MailboxCache,
) -> None:
    folder = CacheFolder("INBOX", kept, "offline")
    assert folder.search(SearchQuery(not_flags=SEEN)) == [3, 5]
    with pytest.raises(StoreError, match="cannot search"):
        folder.search(SearchQuery(text="alpha"))


def test_a_flag_change_is_kept_as_pending_and_shown(kept: MailboxCache) -> None:
    folder = CacheFolder("INBOX", kept, "offline")
    folder.set_flags([2, 2, 0], FLAGGED, True)
    pending = kept.pending()
    assert [(p.uids, p.flags, p.value) for p in pending] == [((2,), FLAGGED, True)]
    assert Flag.FLAGGED in folder.envelopes([2])[0].flags


def test_expunge_and_append_need_the_server(kept: MailboxCache) -> None:
    folder = CacheFolder("INBOX", kept, "offline")
    with pytest.raises(StoreError, match="cannot expunge"):
        folder.expunge()
    with pytest.raises(StoreError, match="cannot save"):
        folder.append(b"Subject: x\r\n\r\n")
    assert folder.check() is False


def test_sorting_puts_messages_never_read_first_in_arrival_order(kept: MailboxCache) -> None:
    folder = CacheFolder("INBOX", kept, "offline")
    assert folder.sort(SortKey.SUBJECT) == [1, 5, 3, 2]


def test_a_flag_change_the_cache_cannot_keep_is_refused_aloud(tmp_path: Path) -> None:
    cache = HeaderCache.open(tmp_path, "imap:me@mail.example.org")
    box = cache.mailbox("INBOX")
    box.reset(7)
    box.set_uids([1, 2], unseen=[])
    folder = CacheFolder("IMAP server mail INBOX", box, "offline")
    cache.close()  # as the cache does itself after a disk error
    with pytest.raises(StoreError, match="could not be kept") as caught:
        folder.set_flags([2], FLAGGED, True)
    assert caught.value.hint


def test_its_first_look_holds_the_uids_as_c_ints(kept: MailboxCache) -> None:
    # A million cached UIDs as Python ints (and a tuple copy) cost ~44 MB; as array('I') 4.
    look = CacheFolder("INBOX", kept, "offline").first_look()
    assert look is not None
    assert isinstance(look.uids, array) and look.uids.typecode == "I"
    assert isinstance(look.unseen, array) and look.unseen.typecode == "I"
