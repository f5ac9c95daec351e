"""Stores used from many threads at once, over one real protocol connection each.

The UI's workers call a store together: the folder list counts folders while the index
reads one, all on the store's connection (NNTP: one for the whole store and its groups;
IMAP: one for the store's own commands, one per open folder). Here a small server at the
other end of a socketpair speaks NNTP or IMAP, answering each command by its arguments,
and 8 threads drive one connection at once. Every answer must be the right one, nothing
may fail, no reconnect may happen, and the server must never see a command arrive while
it is still answering the one before (no interleaved bytes on the wire).

Without the stores' locks these tests fail: replies go to the wrong thread, a GROUP of
one thread changes the group another one reads from, and the server sees commands
overlap.
"""

from __future__ import annotations

import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pinesh.config.server_spec import ServerSpec
from pinesh.stores.imap.store import ImapStore
from pinesh.stores.nntp.store import NntpStore
from pinesh.transport.channel import Channel
from pinesh.transport.greeting import Greeting, GreetingState, parse_greeting
from pinesh.transport.routes import DirectRoute, Security
from pinesh.transport.service import Service

THREADS = 8
ROUNDS = 25
JOIN_SECONDS = 60.0


class LineServer(threading.Thread):
    """The server end of a socketpair: reads command lines, answers each by answer().

    After a command line it looks whether more bytes have come before it has answered:
    a client that waits for each reply (as NNTP and IMAP without pipelining do) never
    sends them, so any are bytes of another thread's command: counted in ``overlaps``.
    Replies go out in two writes with a pause between, so a client reading without a
    lock would see them cut at a random place.
    """

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.client, self._sock = socket.socketpair()
        self._buf = b""
        self.commands = 0
        self.overlaps = 0

    def answer(self, line: bytes) -> bytes | None:
        """The reply to line (None: close the connection)."""
        raise NotImplementedError

    def _line(self) -> bytes | None:
        while b"\r\n" not in self._buf:
            chunk = self._sock.recv(65536)
            if not chunk:
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\r\n")
        return line

    def _more_waiting(self) -> bool:
        time.sleep(0.0002)  # a moment for a second thread's command to arrive
        if self._buf:
            return True
        readable, _, _ = select.select([self._sock], [], [], 0)
        return bool(readable)

    def run(self) -> None:
        try:
            while (line := self._line()) is not None:
                self.commands += 1
                if self._more_waiting():
                    self.overlaps += 1
                reply = self.answer(line)
                if reply is None:
                    return
                half = len(reply) // 2
                self._sock.sendall(reply[:half])
                time.sleep(0.0001)
                self._sock.sendall(reply[half:])
        except OSError:
            return
        finally:
            self._sock.close()


def _route() -> DirectRoute:
    return DirectRoute("threads.test", 119, Security.TLS)


def _hammer(work: Callable[[int], None]) -> list[str]:
    """work(i) in THREADS threads started together; what each raised, as text."""
    errors: list[str] = []
    start = threading.Barrier(THREADS)

    def body(i: int) -> None:
        try:
            start.wait()
            work(i)
        except BaseException as exc:  # every failure is reported, a KeyboardInterrupt too
            errors.append(f"thread {i}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_SECONDS)
    errors += [f"thread {i} still running" for i, t in enumerate(threads) if t.is_alive()]
    return errors


# --- NNTP ---------------------------------------------------------------------------------

GROUPS = [f"test.group{i}" for i in range(4)]
ARTICLES = 12  # more than nntp.ARTICLE_CACHE: every fetch goes to the server


def nntp_article(group: str, number: int) -> bytes:
    head = (
        f"From: poster{number}@example.org\r\nNewsgroups: {group}\r\n"
        f"Subject: article {number} of {group}\r\nMessage-ID: <{number}.{group}@test>\r\n\r\n"
    )
    body = "".join(f"{group} article {number} line {i}\r\n" for i in range(150))
    return (head + body).encode()


def _group_size(group: str) -> int:
    return ARTICLES + GROUPS.index(group)  # each group its own count


class NntpServer(LineServer):
    """Enough of a reader server: MODE READER, GROUP, ARTICLE, LIST ACTIVE, QUIT."""

    def __init__(self) -> None:
        super().__init__()
        self.selected: str | None = None

    def answer(self, line: bytes) -> bytes | None:
        words = line.decode().split()
        verb = words[0].upper()
        if verb == "MODE":
            return b"200 reader ready\r\n"
        if verb == "GROUP":
            if words[1] not in GROUPS:
                return b"411 no such group\r\n"
            self.selected = words[1]
            n = _group_size(words[1])
            return f"211 {n} 1 {n} {words[1]}\r\n".encode()
        if verb == "ARTICLE":
            number = int(words[1])
            if self.selected is None or not 1 <= number <= _group_size(self.selected):
                return b"423 no such article\r\n"
            text = nntp_article(self.selected, number)
            stuffed = text.replace(b"\r\n.", b"\r\n..")
            return f"220 {number} <{number}.{self.selected}@test>\r\n".encode() + stuffed + b".\r\n"
        if verb == "LIST" and words[1].upper() == "ACTIVE":
            lines = "".join(f"{g} {_group_size(g)} 1 y\r\n" for g in GROUPS)
            return b"215 list follows\r\n" + lines.encode() + b".\r\n"
        if verb == "QUIT":
            return b"205 bye\r\n"
        return b"500 what?\r\n"


class NntpLab:
    """Hands out connections to NntpServers (a reconnect would be a second one)."""

    def __init__(self) -> None:
        self.servers: list[NntpServer] = []

    def open_channel(self) -> Channel:
        server = NntpServer()
        server.start()
        self.servers.append(server)
        server.client.settimeout(10)
        greeting = Greeting(GreetingState.READY, b"200 hi\r\n", "hi", posting_allowed=True)
        return Channel(
            server.client, Service.NNTP, ServerSpec("threads.test"), _route(), greeting, True, False
        )


@pytest.fixture
def nntp(tmp_path: Path) -> Iterator[tuple[NntpStore, NntpLab]]:
    lab = NntpLab()
    store = NntpStore(lab.open_channel, newsrc=tmp_path / ".newsrc", name="threads", timeout=10)
    yield store, lab
    store.close()


def test_nntp_store_and_groups_from_eight_threads(nntp: tuple[NntpStore, NntpLab]) -> None:
    store, lab = nntp

    def work(i: int) -> None:
        group = GROUPS[i % len(GROUPS)]  # two threads per group, four groups at once
        folder = store.open(group)
        for round_ in range(ROUNDS):
            status = folder.status()
            assert (status.name, status.count, status.uidnext) == (
                group,
                _group_size(group),
                _group_size(group) + 1,
            )
            number = (i + round_) % _group_size(group) + 1
            assert folder.fetch_message(number) == nntp_article(group, number)
            if round_ % 5 == 0:
                listed = [f.name for f in store.list_folders("test.*")]
                assert listed == GROUPS
        folder.close()

    errors = _hammer(work)
    assert errors == []
    assert len(lab.servers) == 1  # one connection throughout: nothing broke it
    server = lab.servers[0]
    assert server.overlaps == 0
    # MODE READER, then per thread: GROUP (open) and each round GROUP (status), GROUP
    # again only when another thread selected another group, ARTICLE; LIST every 5th.
    assert server.commands >= 1 + THREADS * (1 + ROUNDS * 2 + ROUNDS // 5)


# --- IMAP ---------------------------------------------------------------------------------

MAILBOXES = [f"Box{i}" for i in range(THREADS)]
MESSAGES = 10
CHUNK = 64  # bytes per UID FETCH: every message streams in several commands


def imap_message(uid: int) -> bytes:
    body = "".join(f"message {uid} line {i}\r\n" for i in range(12))
    return f"Subject: message {uid}\r\nMessage-ID: <{uid}@test>\r\n\r\n{body}".encode()


def _status_of(box: str) -> dict[str, int]:
    i = MAILBOXES.index(box)
    return {"MESSAGES": 100 + i, "RECENT": i, "UNSEEN": 10 + i, "UIDVALIDITY": 500 + i}


_STATUS = re.compile(rb'STATUS "?([^" ]+)"? \(')
_FETCH = re.compile(rb"UID FETCH (\d+) \(BODY\.PEEK\[\]<(\d+)\.(\d+)>\)", re.IGNORECASE)


class ImapServer(LineServer):
    """Enough IMAP (PREAUTH) for LIST, STATUS, SELECT, NOOP, UID SEARCH, chunked UID FETCH."""

    def answer(self, line: bytes) -> bytes | None:
        tag, _, rest = line.partition(b" ")
        verb = rest.split(b" ", 1)[0].upper()
        ok = tag + b" OK done\r\n"
        if verb == b"CAPABILITY":
            return b"* CAPABILITY IMAP4rev1 UIDPLUS\r\n" + ok
        if verb == b"LIST":
            listed = b"".join(
                b'* LIST (\\HasNoChildren) "/" "' + m.encode() + b'"\r\n' for m in MAILBOXES
            )
            return listed + ok
        if verb == b"STATUS":
            found = _STATUS.search(rest)
            assert found is not None
            box = found[1].decode()
            if box not in MAILBOXES:
                return tag + b" NO no such mailbox\r\n"
            items = " ".join(f"{k} {v}" for k, v in _status_of(box).items())
            return f'* STATUS "{box}" ({items} UIDNEXT 42)\r\n'.encode() + ok
        if verb in (b"SELECT", b"EXAMINE"):
            return (
                f"* {MESSAGES} EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 7] ok\r\n"
                f"* OK [UIDNEXT {MESSAGES + 1}] ok\r\n".encode()
                + tag
                + b" OK [READ-WRITE] selected\r\n"
            )
        if verb == b"NOOP":
            return ok
        if rest.upper().startswith(b"UID SEARCH"):
            uids = " ".join(str(u) for u in range(1, MESSAGES + 1))
            return f"* SEARCH {uids}\r\n".encode() + ok
        if rest.upper().startswith(b"UID FETCH"):
            found = _FETCH.search(rest)
            assert found is not None, rest
            uid, offset, size = int(found[1]), int(found[2]), int(found[3])
            data = imap_message(uid)[offset : offset + size]
            head = f"* {uid} FETCH (UID {uid} BODY[]<{offset}> {{{len(data)}}}\r\n".encode()
            return head + data + b")\r\n" + ok
        if verb == b"LOGOUT":
            return b"* BYE bye\r\n" + ok
        return tag + b" BAD what?\r\n"


class ImapLab:
    def __init__(self) -> None:
        self.servers: list[ImapServer] = []

    def open_channel(self) -> Channel:
        server = ImapServer()
        server.start()
        self.servers.append(server)
        greeting = parse_greeting(Service.IMAP, b"* PREAUTH ready\r\n")
        return Channel(
            server.client, Service.IMAP, ServerSpec("threads.test"), _route(), greeting, True, False
        )


@pytest.fixture
def imap() -> Iterator[tuple[ImapStore, ImapLab]]:
    lab = ImapLab()
    store = ImapStore(lab.open_channel, name="threads.test", timeout=10, chunk_size=CHUNK)
    yield store, lab
    store.close()


def test_imap_store_connection_from_eight_threads(imap: tuple[ImapStore, ImapLab]) -> None:
    """LIST and STATUS share the store's own connection."""
    store, lab = imap

    def work(i: int) -> None:
        box = MAILBOXES[i]
        for round_ in range(ROUNDS):
            status = store.folder_status(box)
            expected = _status_of(box)
            assert (status.name, status.count, status.unseen, status.uidvalidity) == (
                box,
                expected["MESSAGES"],
                expected["UNSEEN"],
                expected["UIDVALIDITY"],
            )
            if round_ % 5 == 0:
                assert [f.name for f in store.list_folders()] == MAILBOXES

    errors = _hammer(work)
    assert errors == []
    assert len(lab.servers) == 1
    assert lab.servers[0].overlaps == 0


def test_imap_folder_connection_from_eight_threads(imap: tuple[ImapStore, ImapLab]) -> None:
    """One open folder's connection, streaming messages in chunks to 8 threads: each
    chunk is a command of its own, so the threads' commands alternate between chunks."""
    store, lab = imap
    folder = store.open("Box0")

    def work(i: int) -> None:
        for round_ in range(ROUNDS):
            uid = (i + round_) % MESSAGES + 1
            assert folder.fetch_message(uid) == imap_message(uid)
            if round_ % 5 == 0:
                assert folder.uids() == list(range(1, MESSAGES + 1))

    errors = _hammer(work)
    assert errors == []
    assert len(lab.servers) == 1  # the folder's connection; the store's was never needed
    assert lab.servers[0].overlaps == 0
    assert folder.reconnects == 0
