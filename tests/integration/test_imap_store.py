"""The IMAP driver against the lab's real Dovecot: preauthenticated over ssh (and LOGIN over
TLS), on Maildirs written by fill_maildir, including connections killed mid-command."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pinesh.config.server_spec import ServerSpec
from pinesh.errors import PineshError
from pinesh.services.connections import Connections
from pinesh.stores.base import (
    Capability,
    Envelope,
    Flag,
    Reopened,
    SearchQuery,
    SortKey,
    StoreError,
    ThreadNode,
)
from pinesh.stores.imap.channel_client import ChannelIMAPClient
from pinesh.stores.imap.folder import ImapFolder
from pinesh.stores.imap.store import CHUNK_SIZE, ImapStore
from pinesh.stores.ordering import base_subject, internal_time, sort_uids, unicode_casemap
from pinesh.transport.channel import Channel
from pinesh.transport.opener import open_route
from pinesh.transport.routes import DirectRoute, Security, TlsPolicy
from pinesh.transport.service import Service
from tests.integration.helpers import PREAUTH_RULE, connections, short_dir, stop_masters
from tests.lab.dovecot import LabDovecot
from tests.lab.maildir_fill import FilledMessage, fill_maildir
from tests.lab.sshd import LabSshd

# Dovecot told to offer none of the extensions the driver uses when they are there.
PLAIN_IMAP_RULE = """
[[rule]]
servers = ["lab"]
services = ["imap"]
imap_command = ["/usr/lib/dovecot/imap", "-o", "imap_capability=IMAP4rev1 LITERAL+"]
fallback = []
"""

_FLAG_LETTERS = {"S": Flag.SEEN, "R": Flag.ANSWERED, "F": Flag.FLAGGED, "T": Flag.DELETED}


class Lab:
    """Stores on the lab's Dovecot through one pinesh Connections (one ssh master)."""

    def __init__(self, conns: Connections) -> None:
        self.conns = conns
        self.down = False  # while True, opening a channel fails as an unreachable host does
        self.opened = 0
        self.stores: list[ImapStore] = []

    def open_channel(self) -> Channel:
        if self.down:
            raise PineshError("cannot reach imap on lab: (the test took the network down)")
        self.opened += 1
        return self.conns.open(ServerSpec("lab"), Service.IMAP).channel

    def store(self, *, chunk_size: int = CHUNK_SIZE) -> ImapStore:
        store = ImapStore(self.open_channel, name="lab", chunk_size=chunk_size)
        self.stores.append(store)
        return store


@contextlib.contextmanager
def lab_on(sshd: LabSshd, rule: str = PREAUTH_RULE) -> Iterator[Lab]:
    with short_dir() as work:
        lab = Lab(connections(sshd, work, rule))
        try:
            yield lab
        finally:
            lab.down = False
            for store in lab.stores:
                with contextlib.suppress(StoreError):
                    store.close()
            stop_masters(lab.conns)


@pytest.fixture
def lab(sshd: LabSshd, dovecot: LabDovecot) -> Iterator[Lab]:
    with lab_on(sshd) as opened:
        yield opened


@pytest.fixture
def filled(lab_maildir: Path, dovecot: LabDovecot) -> list[FilledMessage]:
    """10,000 realistic messages in the lab user's INBOX (UIDs 1..10000 in this order)."""
    return fill_maildir(lab_maildir, 10_000, owner=dovecot.user)


@pytest.fixture
def small(lab_maildir: Path, dovecot: LabDovecot) -> list[FilledMessage]:
    """500 messages, for tests about connections rather than folder size."""
    return fill_maildir(lab_maildir, 500, owner=dovecot.user)


def _sender(text: str) -> tuple[str, str]:
    if " <" not in text:
        return "", text
    name, address = text.rsplit(" <", 1)
    return name, address.removesuffix(">")


def _flags(letters: str) -> frozenset[Flag]:
    return frozenset(_FLAG_LETTERS[c] for c in letters if c in _FLAG_LETTERS)


def _wire_size(message: FilledMessage) -> int:
    """RFC822.SIZE: the size with CRLF line endings, the W= of the Maildir file name."""
    return int(message.filename.split(",W=")[1].split(":")[0])


def _uidvalidity_on_disk(maildir: Path) -> int:
    header = (maildir / "dovecot-uidlist").read_text().split()
    return int(next(word for word in header if word.startswith("V"))[1:])


def _kill_ssh(folder: ImapFolder) -> None:
    channel = folder.channel
    assert channel is not None and channel.child is not None
    channel.child.kill()


def _check_envelope(envelope: Envelope, message: FilledMessage) -> None:
    name, address = _sender(message.sender)
    assert envelope.uid == message.uid_hint
    assert envelope.subject == message.subject
    assert [(a.name, a.email) for a in envelope.sender] == [(name, address)]
    assert envelope.date == message.date
    assert envelope.date is not None and envelope.date.utcoffset() == message.date.utcoffset()
    assert envelope.message_id == message.message_id
    assert envelope.in_reply_to == message.in_reply_to
    if message.in_reply_to:
        assert envelope.references[-1] == message.in_reply_to
    assert envelope.flags == _flags(message.flags)
    assert envelope.size == _wire_size(message)


# ------------------------------------------------------------------ reading a big folder


def test_open_reports_what_the_fill_wrote(
    lab: Lab, filled: list[FilledMessage], lab_maildir: Path
) -> None:
    folder = lab.store().open("INBOX")
    status = folder.status()
    assert status.count == 10_000
    assert status.unseen == sum(1 for m in filled if m.flags == "")
    assert status.recent == 10_000  # the first session sees every message as new
    assert status.uidvalidity == _uidvalidity_on_disk(lab_maildir)
    assert status.uidnext == 10_001
    assert not status.read_only
    assert Capability.SERVER_SORT in folder.capabilities
    assert Capability.IDLE in folder.capabilities
    assert folder.channel is not None and "preauth" in folder.channel.describe()


def test_folder_status_counts_without_selecting(
    lab: Lab, small: list[FilledMessage], lab_maildir: Path
) -> None:
    status = lab.store().folder_status("INBOX")
    assert status.count == len(small)
    assert status.unseen == sum(1 for m in small if m.flags == "")
    assert status.uidvalidity == _uidvalidity_on_disk(lab_maildir)
    assert status.uidnext == len(small) + 1 and status.read_only


def test_windows_of_envelopes_match_the_fill(lab: Lab, filled: list[FilledMessage]) -> None:
    folder = lab.store().open("INBOX")
    uids = folder.uids()
    assert uids == [m.uid_hint for m in filled]
    for start in (0, 50, 9_950):  # the first window, the next, the last
        window = folder.envelopes(uids[start : start + 50])
        assert [e.uid for e in window] == uids[start : start + 50]
        for envelope in window:
            _check_envelope(envelope, filled[envelope.uid - 1])
    # In the order asked, repeats once, UIDs that are not there left out.
    assert [e.uid for e in folder.envelopes([60, 7, 60, 99_999, 3])] == [60, 7, 3]
    # The first window is cached: read again with the connection dead, it needs none.
    _kill_ssh(folder)
    again = folder.envelopes(uids[:50])
    assert [e.uid for e in again] == uids[:50]
    assert folder.reconnects == 0


def test_encoded_words_and_charsets_are_decoded(lab: Lab, filled: list[FilledMessage]) -> None:
    folder = lab.store().open("INBOX")
    foreign = [m for m in filled if not m.subject.isascii() or not m.sender.isascii()][:300]
    assert len(foreign) == 300
    by_uid = {e.uid: e for e in folder.envelopes([m.uid_hint for m in foreign])}
    for message in foreign:
        _check_envelope(by_uid[message.uid_hint], message)


def test_server_sort_matches_the_fill_and_the_local_sort(
    lab: Lab, filled: list[FilledMessage]
) -> None:
    folder = lab.store().open("INBOX")
    envelopes = folder.envelopes(folder.uids())
    by_uid = {m.uid_hint: m for m in filled}

    by_date = folder.sort(SortKey.DATE)
    dates = [by_uid[u].date.astimezone(UTC) for u in by_date]
    assert sorted(by_date) == sorted(by_uid)
    assert dates == sorted(dates)
    assert folder.sort(SortKey.DATE, reverse=True)[0] == by_date[-1]

    by_from = folder.sort(SortKey.FROM)
    senders = [unicode_casemap(_sender(by_uid[u].sender)[1].split("@")[0]) for u in by_from]
    assert senders == sorted(senders)

    by_subject = folder.sort(SortKey.SUBJECT)
    subjects = [unicode_casemap(base_subject(by_uid[u].subject)) for u in by_subject]
    assert subjects == sorted(subjects)
    assert subjects[0] != subjects[-1]

    # And the local sort (for servers without SORT) puts them in the very same order.
    for key in SortKey:
        for reverse in (False, True):
            local = sort_uids(envelopes, key, reverse, arrival=internal_time)
            assert folder.sort(key, reverse) == local, key


def test_server_threads_link_replies_to_their_parents(
    lab: Lab, filled: list[FilledMessage]
) -> None:
    folder = lab.store().open("INBOX")
    threads = folder.thread()
    parent_of: dict[int, int | None] = {}
    stack: list[tuple[ThreadNode, int | None]] = [(node, None) for node in threads]
    while stack:
        node, parent = stack.pop()
        if node.uid is not None:
            assert node.uid not in parent_of
            parent_of[node.uid] = parent
        stack += [(child, node.uid if node.uid is not None else parent) for child in node.children]
    assert sorted(parent_of) == [m.uid_hint for m in filled]
    uid_of = {m.message_id: m.uid_hint for m in filled}
    replies = [(m.uid_hint, uid_of[m.in_reply_to]) for m in filled if m.in_reply_to in uid_of]
    assert len(replies) > 1000
    for uid, parent in replies:
        assert parent_of[uid] == parent


def test_search_by_subject(lab: Lab, filled: list[FilledMessage]) -> None:
    folder = lab.store().open("INBOX")
    for needle in ("quarterly", "Отчёт", "Grüße aus"):
        expected = [m.uid_hint for m in filled if needle.lower() in m.subject.lower()]
        assert expected
        assert folder.search(SearchQuery(subject=needle)) == expected
    unread = [m.uid_hint for m in filled if "quarterly" in m.subject.lower() and not m.flags]
    query = SearchQuery(subject="Quarterly", not_flags=frozenset({Flag.SEEN}))
    assert folder.search(query) == unread
    # A query with a line break in it stays one search (no command smuggled in).
    assert folder.search(SearchQuery(subject="quarterly\r\nA1 DELETE INBOX")) == []
    assert folder.status().count == 10_000


def test_attachments_stream_in_chunks(lab: Lab, filled: list[FilledMessage]) -> None:
    chunk = 16 * 1024
    folder = lab.store(chunk_size=chunk).open("INBOX")
    wanted = [m for m in filled if m.attachment_sha256 and m.kind == "large"][:3]
    wanted += [m for m in filled if m.attachment_name and not m.attachment_name.isascii()][:5]
    assert len(wanted) == 8
    for message in wanted:
        tree = folder.structure(message.uid_hint)
        assert tree.part_id == "" and tree.content_type == "multipart/mixed"
        text, attachment = tree.children
        assert (text.part_id, attachment.part_id) == ("1", "2")
        assert attachment.filename == message.attachment_name
        assert attachment.disposition == "attachment" and attachment.encoding == "base64"
        digest = hashlib.sha256()
        sizes = []
        for piece in folder.fetch_part(message.uid_hint, "2"):
            digest.update(piece)
            sizes.append(len(piece))
        assert digest.hexdigest() == message.attachment_sha256
        assert max(sizes) <= chunk
        if message.kind == "large":
            assert len(sizes) > 5
        # The covering note is decoded text in its charset.
        note = b"".join(folder.fetch_part(message.uid_hint, "1"))
        assert note.decode(text.charset or "ascii")
    whole = folder.fetch_message(wanted[0].uid_hint)
    assert len(whole) == _wire_size(wanted[0])
    assert b"".join(folder.fetch_part(wanted[0].uid_hint, "")) == whole
    with pytest.raises(StoreError, match="has no part 7"):
        folder.fetch_part(wanted[0].uid_hint, "7")


def test_single_part_body_is_part_one(lab: Lab, filled: list[FilledMessage]) -> None:
    folder = lab.store().open("INBOX")
    message = next(m for m in filled if m.kind == "latin1")
    tree = folder.structure(message.uid_hint)
    assert (tree.part_id, tree.content_type, tree.children) == ("1", "text/plain", ())
    body = b"".join(folder.fetch_part(message.uid_hint, "1"))
    text = body.decode(tree.charset or "ascii")
    assert text.strip() and "=E9" not in text and "=\n" not in text


# ------------------------------------------------------------------ changing a folder


def test_flags_round_trip(lab: Lab, filled: list[FilledMessage]) -> None:
    unread = next(m.uid_hint for m in filled if not m.flags)
    seen = next(m.uid_hint for m in filled if m.flags == "S")
    folder = lab.store().open("INBOX")
    folder.set_flags([unread], frozenset({Flag.SEEN, Flag.FLAGGED}), True)
    folder.set_flags([seen], frozenset({Flag.SEEN}), False)
    folder.set_flags([seen], frozenset({Flag.ANSWERED, Flag.DELETED}), True)
    [first, second] = folder.envelopes([unread, seen])
    assert first.flags == {Flag.SEEN, Flag.FLAGGED}
    assert second.flags == {Flag.ANSWERED, Flag.DELETED}
    folder.close()
    fresh = lab.store().open("INBOX")
    [first, second] = fresh.envelopes([unread, seen])
    assert first.flags == {Flag.SEEN, Flag.FLAGGED}
    assert second.flags == {Flag.ANSWERED, Flag.DELETED}
    fresh.set_flags([unread], frozenset({Flag.SEEN, Flag.FLAGGED}), False)
    fresh.set_flags([seen], frozenset({Flag.ANSWERED, Flag.DELETED}), False)
    fresh.close()
    [first, second] = lab.store().open("INBOX").envelopes([unread, seen])
    assert (first.flags, second.flags) == (frozenset(), frozenset())


def test_copy_move_and_expunge(lab: Lab, filled: list[FilledMessage]) -> None:
    a, b, c, d, e = [m.uid_hint for m in filled if "T" not in m.flags][10:15]
    store = lab.store()
    store.create("Saved")
    assert "Saved" in [f.name for f in store.list_folders()]
    inbox = store.open("INBOX")
    saved = store.open("Saved")
    inbox.copy_to([a, b, c], saved)
    inbox.move_to([d, e], saved)
    ids = {m.uid_hint: m.message_id for m in filled}
    in_saved = sorted(m.message_id or "" for m in saved.envelopes(saved.uids()))
    assert in_saved == sorted(ids[u] for u in (a, b, c, d, e))
    assert saved.status().count == 5
    assert inbox.envelopes([d, e]) == []
    assert inbox.status().count == 9_998

    deleted_before = inbox.search(SearchQuery(flags=frozenset({Flag.DELETED})))
    assert deleted_before  # the fill flags some messages as trashed
    inbox.set_flags([a, b], frozenset({Flag.DELETED}), True)
    gone = inbox.expunge()
    assert sorted(gone) == sorted({*deleted_before, a, b})
    assert inbox.status().count == 9_998 - len(gone)
    assert not set(gone) & set(inbox.uids())
    assert inbox.envelopes([a]) == []
    # The copies are untouched by the expunge in INBOX.
    assert lab.store().open("Saved").status().count == 5


def test_copy_between_stores_takes_the_generic_path(lab: Lab, small: list[FilledMessage]) -> None:
    """Two stores are two servers as far as the driver knows: no UID COPY between them,
    but fetch and APPEND, keeping flags and arrival times; a non-ASCII folder name too."""
    source = lab.store().open("INBOX")
    other = lab.store()
    other.create("Entwürfe")
    assert "Entwürfe" in [f.name for f in other.list_folders("%")]
    dest = other.open("Entwürfe")
    picked = [m for m in small if m.flags][:3] + [m for m in small if not m.flags][:2]
    source.copy_to([m.uid_hint for m in picked], dest)
    copies = {e.message_id: e for e in dest.envelopes(dest.uids())}
    originals = {e.message_id: e for e in source.envelopes([m.uid_hint for m in picked])}
    assert set(copies) == set(originals)
    for message_id, original in originals.items():
        copy = copies[message_id]
        assert (copy.flags, copy.internal_date, copy.size) == (
            original.flags,
            original.internal_date,
            original.size,
        )


def test_fcc_append_with_seen(lab: Lab, filled: list[FilledMessage]) -> None:
    store = lab.store()
    store.create("Sent")
    sent = store.open("Sent")
    when = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=2)))
    message = (
        b"From: Pine Lab <pineshlab@pinesh.test>\nTo: bob@example.net\n"
        b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= from the lab\n"
        b"Message-ID: <fcc.1@pinesh.test>\nDate: Tue, 4 Mar 2025 05:06:07 +0200\n\nHello Bob.\n"
    )
    uid = sent.append(message, frozenset({Flag.SEEN}), when)
    assert uid is not None
    found = [e for e in sent.envelopes(sent.uids()) if e.message_id == "<fcc.1@pinesh.test>"]
    assert [e.uid for e in found] == [uid]
    assert found[0].flags == {Flag.SEEN}
    assert found[0].subject == "Grüße from the lab"
    assert found[0].internal_date == when
    assert sent.fetch_message(uid) == message.replace(b"\n", b"\r\n")


def test_check_sees_mail_added_by_another_connection(lab: Lab, filled: list[FilledMessage]) -> None:
    folder = lab.store().open("INBOX")
    assert folder.check() is False
    other = lab.store().open("INBOX")

    def deliver() -> None:
        time.sleep(0.5)
        other.append(b"Subject: new\nMessage-ID: <new.1@pinesh.test>\n\nnew mail\n")

    sender = threading.Thread(target=deliver)
    sender.start()
    started = time.monotonic()
    try:
        assert folder.check(timeout=30) is True
    finally:
        sender.join()
    assert time.monotonic() - started < 30  # IDLE woke up for it, not the timeout
    assert folder.check() is False  # reported once
    assert folder.status().count == 10_001
    [new] = folder.envelopes([10_001])
    assert new.message_id == "<new.1@pinesh.test>"


def test_without_server_extensions(sshd: LabSshd, dovecot: LabDovecot, lab_maildir: Path) -> None:
    """No SORT, THREAD, IDLE, UIDPLUS or MOVE: the local and plain paths do the work."""
    filled = fill_maildir(lab_maildir, 2_000, owner=dovecot.user)
    with lab_on(sshd, PLAIN_IMAP_RULE) as plain, lab_on(sshd) as full:
        folder = plain.store().open("INBOX")
        assert not folder.capabilities & (Capability.SERVER_SORT | Capability.IDLE)
        reference = full.store().open("INBOX")
        for key in (SortKey.DATE, SortKey.FROM, SortKey.SUBJECT, SortKey.SIZE):
            assert folder.sort(key) == reference.sort(key)
        parent_of = {}
        for root in folder.thread():
            stack = [root]
            while stack:
                node = stack.pop()
                parent_of.update({child.uid: node.uid for child in node.children})
                stack += node.children
        uid_of = {m.message_id: m.uid_hint for m in filled}
        replies = [(m.uid_hint, uid_of[m.in_reply_to]) for m in filled if m.in_reply_to in uid_of]
        assert len(replies) > 100
        for uid, parent in replies:
            assert parent_of[uid] == parent
        reference.append(b"Subject: new\n\nnew mail\n")
        assert folder.check(timeout=1) is True  # by NOOP
        trashed = folder.search(SearchQuery(flags=frozenset({Flag.DELETED})))
        assert trashed
        first, second, third = [m.uid_hint for m in filled if "T" not in m.flags][:3]
        store = plain.store()
        store.create("Kept")
        kept = store.open("Kept")
        folder.move_to([first, second], kept)  # COPY, STORE \Deleted, EXPUNGE
        assert [e.uid for e in folder.envelopes([first, second, third])] == [third]
        assert kept.status().count == 2
        # Without UIDPLUS, EXPUNGE takes every \Deleted message (as Pine's does).
        assert folder.status().count == 2_001 - 2 - len(trashed)
        folder.set_flags([third], frozenset({Flag.DELETED}), True)
        assert folder.expunge() == [third]
        assert folder.status().count == 2_001 - 3 - len(trashed)


# ------------------------------------------------------------------ connections that die


def _big_message(maildir: Path, dovecot: LabDovecot, size: int) -> tuple[str, str]:
    """A message with a size-byte attachment written into new/; (its sha256, Message-ID)."""
    payload = random.Random(7).randbytes(size)
    body = base64.encodebytes(payload)
    message = (
        b"From: big@example.org\nSubject: big\nMessage-ID: <big.1@pinesh.test>\n"
        b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=XX\n\n--XX\n"
        b"Content-Type: text/plain\n\nsee attached\n--XX\n"
        b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n"
        b"Content-Disposition: attachment; filename=big.bin\n\n" + body + b"--XX--\n"
    )
    path = maildir / "new" / "1760000000.M1P1.big"
    path.write_bytes(message)
    os.chown(path, dovecot.user.uid, dovecot.user.gid)
    return hashlib.sha256(payload).hexdigest(), "<big.1@pinesh.test>"


def _kill_when(folder: ImapFolder, event: threading.Event) -> threading.Thread:
    def killer() -> None:
        if event.wait(30):
            _kill_ssh(folder)

    thread = threading.Thread(target=killer)
    thread.start()
    return thread


def test_killed_ssh_during_a_large_fetch(lab: Lab, lab_maildir: Path, dovecot: LabDovecot) -> None:
    digest, _ = _big_message(lab_maildir, dovecot, 24 * 1024 * 1024)
    chunk = 256 * 1024
    folder = lab.store(chunk_size=chunk).open("INBOX")
    [uid] = folder.uids()
    started = threading.Event()
    killer = _kill_when(folder, started)
    hashed = hashlib.sha256()
    pieces = 0
    try:
        for piece in folder.fetch_part(uid, "2"):
            hashed.update(piece)
            pieces += 1
            if pieces == 3:
                started.set()  # the killer strikes while the next chunks are in flight
    finally:
        started.set()
        killer.join()
    assert hashed.hexdigest() == digest
    assert folder.reconnects >= 1
    assert pieces > 50


def test_killed_ssh_during_envelope_windows(lab: Lab, filled: list[FilledMessage]) -> None:
    folder = lab.store().open("INBOX")
    uids = folder.uids()
    halfway = threading.Event()
    killer = _kill_when(folder, halfway)
    seen: list[Envelope] = []
    try:
        for start in range(0, len(uids), 50):
            seen += folder.envelopes(uids[start : start + 50])
            if start == 2_000:
                halfway.set()
    finally:
        halfway.set()
        killer.join()
    assert [e.uid for e in seen] == uids
    assert [e.message_id for e in seen] == [m.message_id for m in filled]
    assert folder.reconnects >= 1


def test_a_reopened_connection_is_told_with_host_mailbox_and_reason(
    lab: Lab, small: list[FilledMessage]
) -> None:
    told: list[Reopened] = []
    store = ImapStore(lab.open_channel, name="lab", on_reopened=told.append)
    lab.stores.append(store)
    folder = store.open("INBOX")
    assert len(folder.uids()) == 500 and told == []  # the first open is no reopen
    _kill_ssh(folder)
    assert len(folder.uids()) == 500  # lost, reopened, retried
    assert len(told) == 1
    text = told[0].describe()
    assert text.startswith("Connection to lab (IMAP INBOX) dropped (") and text.endswith(
        "); reopened"
    ), text
    assert told[0].reason not in ("", "closed")  # the error's own words, e.g. EOF
    _kill_ssh(folder)
    folder.set_flags([1], frozenset({Flag.FLAGGED}), True)
    assert len(told) == 2 and folder.reconnects == 2  # one notice per drop


def test_an_expunge_whose_reply_was_lost_still_reports_what_went(
    lab: Lab, small: list[FilledMessage], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = lab.store().open("INBOX")
    folder.set_flags([m.uid_hint for m in small], frozenset({Flag.DELETED}), False)
    folder.set_flags([3, 4], frozenset({Flag.DELETED}), True)
    expunge_uids = ImapFolder._expunge_uids
    struck: list[int] = []

    def expunge_then_lose_the_connection(
        self: ImapFolder, client: ChannelIMAPClient, uids: list[int]
    ) -> None:
        expunge_uids(self, client, uids)  # done on the server
        if not struck:
            struck.append(1)
            _kill_ssh(self)
            client.noop()  # EOF: as if the reply had been lost with the connection

    monkeypatch.setattr(ImapFolder, "_expunge_uids", expunge_then_lose_the_connection)
    assert folder.expunge() == [3, 4]  # the retry found nothing left to expunge
    assert folder.reconnects == 1
    assert 3 not in folder.uids() and 4 not in folder.uids()


def test_flag_change_while_the_connection_is_dead(lab: Lab, small: list[FilledMessage]) -> None:
    folder = lab.store().open("INBOX")
    _kill_ssh(folder)
    folder.set_flags([1], frozenset({Flag.FLAGGED}), True)  # reconnects, then stores
    assert folder.reconnects == 1

    # Now the network is gone too: the change is kept, and said so.
    _kill_ssh(folder)
    lab.down = True
    with pytest.raises(StoreError, match=r"lab INBOX") as failure:
        folder.set_flags([2, 3], frozenset({Flag.ANSWERED}), True)
    assert "kept" in str(failure.value)
    with pytest.raises(StoreError, match=r"cannot reach IMAP server lab INBOX"):
        folder.status()
    lab.down = False
    assert folder.status().count == 500  # reconnects and sends the kept change
    folder.close()

    [one, two, three] = lab.store().open("INBOX").envelopes([1, 2, 3])
    assert Flag.FLAGGED in one.flags
    assert Flag.ANSWERED in two.flags and Flag.ANSWERED in three.flags


def test_unsaved_flag_changes_are_reported_at_close(lab: Lab, small: list[FilledMessage]) -> None:
    folder = lab.store().open("INBOX")
    _kill_ssh(folder)
    lab.down = True
    with pytest.raises(StoreError):
        folder.set_flags([1], frozenset({Flag.FLAGGED}), True)
    with pytest.raises(StoreError, match="1 flag change"):
        folder.close()


def test_uidvalidity_change_is_reported(lab: Lab, lab_maildir: Path, dovecot: LabDovecot) -> None:
    unread = next(
        m.uid_hint
        for m in fill_maildir(lab_maildir, 20, folder="Work", owner=dovecot.user)
        if not m.flags
    )
    store = lab.store()
    work = store.open("Work")
    old = work.status().uidvalidity
    assert len(work.envelopes(work.uids())) == 20
    _kill_ssh(work)
    lab.down = True
    with pytest.raises(StoreError):
        work.set_flags([unread], frozenset({Flag.SEEN}), True)  # kept for the reconnect
    lab.down = False
    admin = lab.store()
    admin.rename("Work", "Old")
    admin.create("Work")
    with pytest.raises(StoreError, match=r"Work changed on the server.*1 flag change"):
        work.uids()
    assert work.uids() == []
    assert work.envelopes([1, 2]) == []  # the old envelopes are forgotten
    assert work.status().uidvalidity != old
    assert Flag.SEEN not in lab.store().open("Old").envelopes([unread])[0].flags


def test_reconnect_failure_names_server_and_folder(lab: Lab, small: list[FilledMessage]) -> None:
    folder = lab.store().open("INBOX")
    _kill_ssh(folder)
    lab.down = True
    with pytest.raises(StoreError, match=r"cannot reach IMAP server lab INBOX: cannot reach imap"):
        folder.uids()
    lab.down = False
    assert len(folder.uids()) == 500


# ------------------------------------------------------------------ passwords


def _direct(dovecot: LabDovecot, security: Security) -> Callable[[], Channel]:
    port = dovecot.imaps_port if security is Security.TLS else dovecot.imap_port
    route = DirectRoute(dovecot.host, port, security, TlsPolicy(ca_file=str(dovecot.ca_file)))

    def open_channel() -> Channel:
        return open_route(
            route,
            Service.IMAP,
            server=ServerSpec(dovecot.host),
            deadline=time.monotonic() + 5,
            masters=None,
        )

    return open_channel


def test_no_password_over_a_cleartext_channel(dovecot: LabDovecot) -> None:
    asked = []

    def password() -> str:
        asked.append(1)
        return dovecot.user.password

    logins = dovecot.logins()
    store = ImapStore(
        _direct(dovecot, Security.PLAIN), user=dovecot.user.name, password=password, name="lab"
    )
    with pytest.raises(StoreError, match="refusing to send a password over an unencrypted"):
        store.open("INBOX")
    assert asked == []
    assert dovecot.logins() == logins


def test_login_over_tls(dovecot: LabDovecot, lab_maildir: Path) -> None:
    fill_maildir(lab_maildir, 30, owner=dovecot.user)
    asked = []

    def password() -> str:
        asked.append(1)
        return dovecot.user.password

    logins = dovecot.logins()
    store = ImapStore(
        _direct(dovecot, Security.TLS), user=dovecot.user.name, password=password, name="lab"
    )
    folder = store.open("INBOX")
    assert folder.status().count == 30
    assert asked == [1]
    deadline = time.monotonic() + 5
    while dovecot.logins() == logins and time.monotonic() < deadline:
        time.sleep(0.05)  # the daemon writes its log a moment later
    assert dovecot.logins() == logins + 1
    store.close()

    wrong = ImapStore(
        _direct(dovecot, Security.TLS), user=dovecot.user.name, password=lambda: "wrong", name="x"
    )
    with pytest.raises(StoreError, match="login refused"):
        wrong.open("INBOX")
