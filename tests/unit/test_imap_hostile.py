"""The whole driver against literal server transcripts, broken and hostile ones included.

Each connection is one end of a socketpair; at the other end a Peer answers each command
with scripted bytes ("{tag}" becomes the command's tag). What a server says is never
trusted: every bad reply must end as a StoreError naming the server and folder, and the
program goes on (the next command reconnects).
"""

from __future__ import annotations

import base64
import contextlib
import gc
import re
import socket
import threading
import tracemalloc
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest

from pinesh.config.server_spec import ServerSpec
from pinesh.stores.base import Flag, SearchQuery, StoreError
from pinesh.stores.imap.channel_client import MAX_LINE, UNTAGGED_ENTRY_COST, ChannelIMAPClient
from pinesh.stores.imap.connection import Connector
from pinesh.stores.imap.folder import ImapFolder
from pinesh.stores.imap.store import CHUNK_SIZE, ImapStore
from pinesh.transport.channel import Channel
from pinesh.transport.greeting import parse_greeting
from pinesh.transport.routes import DirectRoute, Security
from pinesh.transport.service import Service

Reply = bytes | None  # None: close the connection when this command comes
EOF = b"<EOF>"  # at the end of a reply: close the connection after sending it
Script = dict[bytes, Reply | list[Reply]]

CAPS = b"IMAP4rev1 UIDPLUS IDLE SORT THREAD=REFERENCES MOVE"
SELECTED = (
    b"* FLAGS (\\Seen \\Deleted)\r\n* 3 EXISTS\r\n* 1 RECENT\r\n* OK [UIDVALIDITY 7] ok\r\n"
    b"* OK [UIDNEXT 4] ok\r\n{tag} OK [READ-WRITE] selected\r\n"
)
ENVELOPE = (
    b'* 1 FETCH (UID 1 RFC822.SIZE 100 FLAGS (\\Seen) INTERNALDATE "01-Jan-2024 10:00:00 +0000"'
    b' ENVELOPE ("Mon, 1 Jan 2024 10:00:00 +0000" "=?utf-8?q?caf=C3=A9?=" '
    b'(("Ann" NIL "ann" "example.org")) NIL NIL NIL NIL NIL NIL "<1@example.org>") '
    b"BODY[HEADER.FIELDS (REFERENCES NEWSGROUPS)] {2}\r\n\r\n)\r\n{tag} OK fetched\r\n"
)
DEFAULTS: Script = {
    b"CAPABILITY": b"* CAPABILITY " + CAPS + b"\r\n{tag} OK done\r\n",
    b"SELECT": SELECTED,
    b"EXAMINE": SELECTED.replace(b"READ-WRITE", b"READ-ONLY"),
    b"NOOP": b"{tag} OK noop\r\n",
    b"LOGOUT": b"* BYE bye\r\n{tag} OK bye\r\n",
    b"UID SEARCH": b"* SEARCH 1 2 3\r\n{tag} OK searched\r\n",
    b"UID FETCH": ENVELOPE,
    b"UID STORE": b"* 1 FETCH (UID 1 FLAGS (\\Seen \\Flagged))\r\n{tag} OK stored\r\n",
    b"STATUS": b'* STATUS "INBOX" (UIDNEXT 4)\r\n{tag} OK done\r\n',
    b"AUTHENTICATE": b"+ \r\n",
    b"SASL": b"{tag} OK logged in\r\n",
}
_LITERAL = re.compile(rb"\{(\d+)(\+?)\}$")


class Peer(threading.Thread):
    """The server end of one connection, answering from a script."""

    def __init__(self, script: Script) -> None:
        super().__init__(daemon=True)
        self.client, self._sock = socket.socketpair()
        self._script = {**DEFAULTS, **script}
        self._buf = b""
        self.received: list[bytes] = []

    def _line(self) -> bytes | None:
        data = b""
        while True:
            while b"\r\n" not in self._buf:
                chunk = self._sock.recv(65536)
                if not chunk:
                    return None
                self._buf += chunk
            line, _, self._buf = self._buf.partition(b"\r\n")
            data += line
            literal = _LITERAL.search(line)
            if literal is None:
                return data
            if not literal[2]:
                self._sock.sendall(b"+ go on\r\n")
            size = int(literal[1])
            while len(self._buf) < size:
                self._buf += self._sock.recv(65536)
            data += b"\r\n" + self._buf[:size]
            self._buf = self._buf[size:]

    def _reply(self, verb: bytes) -> Reply:
        found = self._script.get(verb, b"{tag} OK fine\r\n")
        if isinstance(found, list):
            return found.pop(0) if len(found) > 1 else found[0]
        return found

    def run(self) -> None:
        # IDLE's DONE and AUTHENTICATE's response are untagged lines that finish the
        # command before them: they are answered ("DONE", "SASL") with its tag.
        waiting: tuple[bytes, bytes] | None = None
        try:
            while (line := self._line()) is not None:
                self.received.append(line)
                if waiting is not None:
                    (tag, verb), waiting = waiting, None
                else:
                    tag, _, rest = line.partition(b" ")
                    words = rest.upper().split(b" ")
                    verb = b" ".join(words[:2]) if words[0] == b"UID" else words[0]
                    if verb in (b"IDLE", b"AUTHENTICATE"):
                        waiting = (tag, b"DONE" if verb == b"IDLE" else b"SASL")
                reply = self._reply(verb)
                if reply is None:
                    return
                self._sock.sendall(reply.replace(b"{tag}", tag).removesuffix(EOF))
                if reply.endswith(EOF):
                    return
        except OSError:
            return
        finally:
            self._sock.close()


class Server:
    """Hands out connections, one Peer each, with the scripts given in turn (the last
    one again when they run out)."""

    def __init__(self, *scripts: Script, greeting: bytes = b"* PREAUTH ready\r\n") -> None:
        self.scripts = list(scripts) or [{}]
        self.greeting = greeting
        self.encrypted = True
        self.peers: list[Peer] = []

    def open_channel(self) -> Channel:
        script = self.scripts.pop(0) if len(self.scripts) > 1 else self.scripts[0]
        peer = Peer({k: list(v) if isinstance(v, list) else v for k, v in script.items()})
        peer.start()
        self.peers.append(peer)
        return Channel(
            peer.client,
            Service.IMAP,
            ServerSpec("hostile.test"),
            DirectRoute("hostile.test", 993, Security.TLS),
            parse_greeting(Service.IMAP, self.greeting),
            encrypted=self.encrypted,
            shared_master=False,
        )

    def sent(self) -> list[bytes]:
        return [line for peer in self.peers for line in peer.received]


@pytest.fixture
def stores() -> Iterator[Callable[..., ImapStore]]:
    made: list[ImapStore] = []

    def make(server: Server, **options: object) -> ImapStore:
        options.setdefault("timeout", 2)
        store = ImapStore(server.open_channel, name="hostile.test", **options)  # type: ignore[arg-type]
        made.append(store)
        return store

    yield make
    for store in made:
        with contextlib.suppress(StoreError):
            store.close()


def test_a_sane_transcript(stores: Callable[..., ImapStore]) -> None:
    server = Server()
    folder = stores(server).open("INBOX")
    status = folder.status()
    assert (status.count, status.recent, status.unseen, status.uidvalidity) == (3, 1, 3, 7)
    [envelope] = folder.envelopes([1])
    assert (envelope.subject, envelope.sender[0].email) == ("café", "ann@example.org")
    assert folder.reconnects == 0
    fetches = [line for line in server.sent() if b"UID FETCH" in line]
    assert len(fetches) == 1 and b"UID FETCH 1 (ENVELOPE FLAGS" in fetches[0]
    folder.envelopes([1])  # cached: nothing more is asked
    assert len([line for line in server.sent() if b"UID FETCH" in line]) == 1


def test_expunge_takes_only_the_deleted_it_found(stores: Callable[..., ImapStore]) -> None:
    search = b"* SEARCH 1 3\r\n{tag} OK searched\r\n"
    expunged = b"* 3 EXPUNGE\r\n* 1 EXPUNGE\r\n{tag} OK expunged\r\n"
    server = Server({b"UID SEARCH": search, b"UID EXPUNGE": expunged})
    folder = stores(server).open("INBOX")
    assert folder.expunge() == [1, 3]
    sent = server.sent()
    assert any(line.endswith(b"UID SEARCH DELETED") for line in sent)
    assert any(line.endswith(b"UID EXPUNGE 1,3") for line in sent)
    assert not any(line.endswith(b" EXPUNGE") for line in sent)
    assert folder.status().count == 1  # two EXPUNGE responses taken in


def test_idle_without_news_ends_at_the_timeout(stores: Callable[..., ImapStore]) -> None:
    server = Server({b"IDLE": b"+ idling\r\n", b"DONE": b"{tag} OK idle done\r\n"})
    folder = stores(server).open("INBOX")
    assert folder.check(timeout=0.2) is False
    sent = server.sent()
    assert sent[-1] == b"DONE" and sent[-2].endswith(b" IDLE")


@pytest.mark.parametrize(
    ("verb", "reply", "words"),
    [
        (b"UID SEARCH", b"hello there\r\n", "could not be read"),
        (b"UID SEARCH", b"* SEARCH 1 (2\r\n{tag} OK done\r\n", "could not be read"),
        (b"UID SEARCH", b"* SEARCH 1\n{tag} OK bare LF\r\n", "could not be read"),
        (b"UID SEARCH", b"{tag} BAD \x1b[2J\x1b]0;pwned\x07 go away\r\n", "refused"),
        (b"UID SEARCH", b"* SEARCH 1\r\n{tag} OK\r\n", "could not be read"),  # no text
        (b"UID SEARCH", b"x" * (MAX_LINE + 10), "longer than"),
    ],
)
def test_garbage_becomes_a_store_error(
    stores: Callable[..., ImapStore], verb: bytes, reply: bytes, words: str
) -> None:
    server = Server({verb: reply}, {})
    folder = stores(server).open("INBOX")
    with pytest.raises(StoreError, match=words) as failure:
        folder.uids()
    message = str(failure.value)
    assert "hostile.test INBOX" in message
    assert "\x1b" not in message and "\x07" not in message
    # The program goes on (on a new connection, unless the server merely said BAD).
    assert [e.uid for e in folder.envelopes([1])] == [1]


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (b"* 1 FETCH (UID 1 ENVELOPE {99999999999999}\r\n", "literal of 99999999999999 bytes"),
        (b'* 1 FETCH (UID 1 ENVELOPE ("d" "s" NIL NIL\r\n{tag} OK done\r\n', "incomplete"),
        (b"* 1 FETCH (UID 1 ENVELOPE NIL)\r\n{tag} OK done\r\n", "could not be read"),
        (
            b'* 1 FETCH (UID 1 ENVELOPE (NIL NIL "x" NIL NIL NIL NIL NIL NIL NIL))\r\n'
            b"{tag} OK done\r\n",
            "could not be read",
        ),
        (b"* 1 FETCH (UID 1 ENVELOPE (NIL))\r\n{tag} OK done\r\n", "could not be read"),
        (b"* 1 FETCH (UID one ENVELOPE (NIL))\r\n{tag} OK done\r\n", "invalid UID"),
        (
            b"* 1 FETCH (UID 1 RFC822.SIZE -1 ENVELOPE "
            b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n{tag} OK done\r\n",
            "RFC822.SIZE of UID 1 is not a number",
        ),
        (b"* 1 FETCH " + b"(" * 5000 + b"\r\n{tag} OK done\r\n", "recursion"),
        (b"* 1 FETCH (UID 1 ENVELOPE {5}\r\nab" + EOF, "lost.*EOF in the middle of a literal"),
    ],
)
def test_hostile_fetch_replies(stores: Callable[..., ImapStore], reply: bytes, words: str) -> None:
    server = Server({b"UID FETCH": reply})
    folder = stores(server).open("INBOX")
    with pytest.raises(StoreError, match=r"hostile.test INBOX: .*" + words):
        folder.envelopes([1])
    assert folder.status().count == 3


@pytest.mark.parametrize(
    ("verb", "reply"),
    [
        (b"UID THREAD", b"* THREAD (1 (2) 3)\r\n{tag} OK done\r\n"),
        (b"UID THREAD", b"* THREAD (abc)\r\n{tag} OK done\r\n"),
        (b"UID SORT", b"* SORT 1 x 3\r\n{tag} OK done\r\n"),
        (
            b"UID FETCH",
            b'* 1 FETCH (UID 1 BODYSTRUCTURE ("text" "plain" ("charset") NIL))\r\n'
            b"{tag} OK done\r\n",
        ),
        (b"UID FETCH", b"* 1 FETCH (UID 1 BODYSTRUCTURE NIL)\r\n{tag} OK done\r\n"),
    ],
)
def test_hostile_structure_thread_and_sort(
    stores: Callable[..., ImapStore], verb: bytes, reply: bytes
) -> None:
    from pinesh.stores.base import SortKey

    folder = stores(Server({verb: reply})).open("INBOX")
    with pytest.raises(StoreError, match=r"hostile.test INBOX"):
        if verb == b"UID THREAD":
            folder.thread()
        elif verb == b"UID SORT":
            folder.sort(SortKey.DATE)
        else:
            folder.structure(1)


def test_a_bad_chunk_of_a_part(stores: Callable[..., ImapStore]) -> None:
    structure = (
        b'* 1 FETCH (UID 1 BODYSTRUCTURE ("text" "plain" NIL NIL NIL "base64" 8 1))\r\n'
        b"{tag} OK done\r\n"
    )
    too_long = b"* 1 FETCH (UID 1 BODY[1]<0> {9}\r\nQUJDREVG\n)\r\n{tag} OK done\r\n"
    server = Server({b"UID FETCH": [structure, too_long]})
    folder = stores(server, chunk_size=8).open("INBOX")
    with pytest.raises(StoreError, match=r"larger than asked"):
        b"".join(folder.fetch_part(1, "1"))


def test_lost_once_then_the_command_is_repeated(stores: Callable[..., ImapStore]) -> None:
    server = Server({b"UID SEARCH": None}, {})
    folder = stores(server).open("INBOX")
    assert folder.uids() == [1, 2, 3]
    assert folder.reconnects == 1


def test_bye_counts_as_lost(stores: Callable[..., ImapStore]) -> None:
    server = Server({b"UID SEARCH": b"* BYE shutting down\r\n"}, {})
    folder = stores(server).open("INBOX")
    assert folder.uids() == [1, 2, 3]
    assert folder.reconnects == 1


def test_lost_twice_is_a_clear_error(stores: Callable[..., ImapStore]) -> None:
    server = Server({b"UID SEARCH": None})
    folder = stores(server).open("INBOX")
    with pytest.raises(StoreError, match=r"hostile.test INBOX: the connection was lost"):
        folder.uids()


def test_a_silent_server_times_out(stores: Callable[..., ImapStore]) -> None:
    server = Server({b"UID SEARCH": b""})  # says nothing, keeps the connection
    folder = stores(server, timeout=0.3).open("INBOX")
    with pytest.raises(StoreError, match=r"connection was lost.*timed out"):
        folder.uids()


def test_flag_changes_are_replayed_after_a_reconnect(stores: Callable[..., ImapStore]) -> None:
    server = Server({b"UID STORE": None}, {})
    folder = stores(server).open("INBOX")
    folder.set_flags([1, 2, 3, 7], frozenset({Flag.FLAGGED}), True)
    stores_sent = [line for line in server.peers[1].received if b"STORE" in line]
    # Replayed on the new connection, then the command itself once more.
    assert len(stores_sent) == 2
    assert all(b"UID STORE 1,2,3,7 +FLAGS (\\Flagged)" in line for line in stores_sent)


def test_missing_uidvalidity(stores: Callable[..., ImapStore]) -> None:
    select = b"* 3 EXISTS\r\n{tag} OK [READ-WRITE] selected\r\n"
    with pytest.raises(StoreError, match=r"hostile.test INBOX.*could not be read"):
        stores(Server({b"SELECT": select})).open("INBOX")


def test_no_such_folder(stores: Callable[..., ImapStore]) -> None:
    select = b"{tag} NO [NONEXISTENT] Mailbox doesn't exist: Nope\r\n"
    with pytest.raises(StoreError, match=r"refused opening.*doesn't exist"):
        stores(Server({b"SELECT": select})).open("Nope")


def test_a_read_only_mailbox_opens_read_only(stores: Callable[..., ImapStore]) -> None:
    select = SELECTED.replace(b"READ-WRITE", b"READ-ONLY")
    server = Server({b"SELECT": select})
    folder = stores(server).open("INBOX")
    assert folder.read_only and folder.status().read_only
    with pytest.raises(StoreError, match=r"read-only"):
        folder.set_flags([1], frozenset({Flag.SEEN}), True)
    # The server's [READ-ONLY] SELECT is the session, as c-client takes it: no EXAMINE after.
    opened = [
        line for line in server.sent() if line.split(b" ")[1:2] in ([b"SELECT"], [b"EXAMINE"])
    ]
    assert len(opened) == 1


def test_untagged_responses_before_idle_continuation(stores: Callable[..., ImapStore]) -> None:
    idle = b"* 4 EXISTS\r\n+ idling\r\n"
    done = b"* 1 RECENT\r\n{tag} OK idle done\r\n"
    search = b"* SEARCH 4\r\n{tag} OK done\r\n"
    folder = stores(Server({b"IDLE": idle, b"DONE": done, b"UID SEARCH": search})).open("INBOX")
    assert folder.check(timeout=5) is True
    assert folder.status().count == 4


def test_search_strings_are_quoted_or_literals(stores: Callable[..., ImapStore]) -> None:
    server = Server()
    folder = stores(server).open("INBOX")
    folder.search(SearchQuery(subject='a "b"\r\nX1 DELETE INBOX', body="Grüße"))
    [search] = [line for line in server.sent() if b"UID SEARCH" in line]
    assert b'SUBJECT "a \\"b\\"  X1 DELETE INBOX"' in search
    assert b"CHARSET UTF-8" in search and "Grüße".encode() in search
    assert not any(line.startswith(b"X1") for line in server.sent())


# ------------------------------------------------------------------ memory

ALLOWANCE = 16 * 1024  # max_untagged of the folders below: a flood is cut off early


class RecordingConnector(Connector):
    """A Connector that keeps the clients it starts, to look at what they hold."""

    def __init__(self, server: Server, **options: Any) -> None:
        super().__init__(
            server.open_channel,
            label="IMAP server hostile.test",
            user=None,
            password=None,
            timeout=2,
            **options,
        )
        self.clients: list[ChannelIMAPClient] = []

    def start(self, channel: Channel) -> tuple[ChannelIMAPClient, frozenset[str]]:
        client, capabilities = super().start(channel)
        self.clients.append(client)
        return client, capabilities


@pytest.fixture
def folders() -> Iterator[Callable[..., tuple[ImapFolder, RecordingConnector]]]:
    made: list[ImapFolder] = []

    def make(server: Server, **options: Any) -> tuple[ImapFolder, RecordingConnector]:
        connector = RecordingConnector(server, **options)
        folder = ImapFolder("INBOX", connector, read_only=False, chunk_size=CHUNK_SIZE)
        made.append(folder)
        return folder, connector

    yield make
    for folder in made:
        with contextlib.suppress(StoreError):
            folder.close()


def _held(untagged: Mapping[str, Sequence[bytes | tuple[bytes, bytes]]]) -> tuple[int, int]:
    """(responses, bytes of their data) in imaplib's untagged responses."""
    values = [data for kept in untagged.values() for data in kept]
    sizes = (sum(map(len, data)) if isinstance(data, tuple) else len(data) for data in values)
    return len(values), sum(sizes)


def test_a_flood_of_untagged_responses_is_cut_off(
    folders: Callable[..., tuple[ImapFolder, RecordingConnector]],
) -> None:
    flood = b"* OK still here\r\n" * 100_000 + b"* SEARCH 1\r\n{tag} OK done\r\n"
    folder, connector = folders(Server({b"UID SEARCH": flood}, {}), max_untagged=ALLOWANCE)
    with pytest.raises(StoreError) as failure:
        folder.uids()
    assert failure.value.message == (
        "IMAP server hostile.test INBOX: cut off while listing messages: the server sent "
        f"more than {ALLOWANCE} bytes of untagged responses to one command"
    )
    # What the client held when it stopped reading: within the allowance (each response
    # counts 64 bytes beyond its data), nowhere near the 100,000 lines sent.
    responses, data = _held(connector.clients[0].imap.untagged_responses)
    assert responses <= ALLOWANCE // UNTAGGED_ENTRY_COST
    assert data + responses * UNTAGGED_ENTRY_COST <= ALLOWANCE
    # The program goes on, on a new connection.
    assert folder.uids() == [1, 2, 3]
    assert len(connector.clients) == 2


@pytest.mark.parametrize(
    "reply",
    [
        b"* 1 FETCH (UID 1 BODY[] {%d}\r\n" % (2 * ALLOWANCE)
        + b"x" * (2 * ALLOWANCE)
        + b")\r\n{tag} OK done\r\n",
        b"* 1 FETCH (UID 1 FLAGS (" + b"\\Seen " * ALLOWANCE + b"))\r\n{tag} OK done\r\n",
    ],
    ids=["literal", "line"],
)
def test_one_large_untagged_response_counts_in_full(
    folders: Callable[..., tuple[ImapFolder, RecordingConnector]], reply: bytes
) -> None:
    folder, _ = folders(Server({b"UID FETCH": reply}), max_untagged=ALLOWANCE)
    with pytest.raises(StoreError, match="cut off while reading envelopes"):
        folder.envelopes([1])


def test_the_allowance_is_per_command(
    folders: Callable[..., tuple[ImapFolder, RecordingConnector]],
) -> None:
    chatter = b"* OK still here\r\n" * (ALLOWANCE // 2 // (64 + len(b"still here")))
    search = chatter + b"* SEARCH 1 2 3\r\n{tag} OK done\r\n"
    folder, connector = folders(Server({b"UID SEARCH": search}), max_untagged=ALLOWANCE)
    for _ in range(4):  # each within the allowance, together well past it
        assert folder.uids() == [1, 2, 3]
    assert len(connector.clients) == 1


def test_untagged_responses_are_not_kept_after_the_command(
    folders: Callable[..., tuple[ImapFolder, RecordingConnector]],
) -> None:
    search = (
        b"* 3 FOO bar\r\n* FLAGS (\\Seen $Junk)\r\n* OK [HIGHESTMODSEQ 9] x\r\n"
        b'* LIST () "/" Other\r\n* SEARCH 1 2 3\r\n{tag} OK done\r\n'
    )
    folder, connector = folders(Server({b"UID SEARCH": search}))
    assert folder.uids() == [1, 2, 3]
    assert connector.clients[0].imap.untagged_responses == {}


def test_read_only_news_still_refuses_the_next_change(
    folders: Callable[..., tuple[ImapFolder, RecordingConnector]],
) -> None:
    search = b"* OK [READ-ONLY] now read-only\r\n* SEARCH 1\r\n{tag} OK done\r\n"
    folder, _ = folders(Server({b"UID SEARCH": search}))
    assert folder.uids() == [1]
    with pytest.raises(StoreError, match="READ-ONLY"):
        folder.set_flags([1], frozenset({Flag.SEEN}), True)


def test_long_lines_are_not_kept_after_the_command(
    folders: Callable[..., tuple[ImapFolder, RecordingConnector]],
) -> None:
    line = b"* OK " + b"\xff" * (1 << 20) + b"\r\n"
    folder, _ = folders(Server({b"UID SEARCH": line * 4 + b"* SEARCH 1\r\n{tag} OK done\r\n"}))
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        assert folder.uids() == [1]
        # What is still reachable: garbage waiting for a collection is not kept (another
        # test may have paused the collector, as the client's start does for a moment).
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 1 << 20  # imaplib alone kept a repr() of each line: 16 MiB


# ------------------------------------------------------------------ logins


def test_cleartext_channel_gets_no_password(stores: Callable[..., ImapStore]) -> None:
    server = Server(greeting=b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n")
    server.encrypted = False
    asked: list[int] = []

    def password() -> str:
        asked.append(1)
        return "secret"

    store = stores(server, user="jane", password=password)
    with pytest.raises(StoreError, match=r"refusing to send a password over an unencrypted"):
        store.open("INBOX")
    assert asked == []
    assert not any(b"secret" in line or b"LOGIN" in line for line in server.sent())


def test_login_over_an_encrypted_channel(stores: Callable[..., ImapStore]) -> None:
    server = Server(greeting=b"* OK hi\r\n")
    store = stores(server, user='j"ane', password=lambda: "s3cret")
    folder = store.open("INBOX")
    assert folder.status().count == 3
    [login] = [line for line in server.sent() if b" LOGIN " in line]
    assert login.endswith(b' LOGIN "j\\"ane" "s3cret"')


def test_authenticate_plain_when_offered(stores: Callable[..., ImapStore]) -> None:
    caps = b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK done\r\n"
    server = Server({b"CAPABILITY": caps}, greeting=b"* OK hi\r\n")
    store = stores(server, user="mü", password=lambda: "pässword")
    assert store.open("INBOX").status().count == 3
    sent = server.sent()
    at = next(i for i, line in enumerate(sent) if line.endswith(b" AUTHENTICATE PLAIN"))
    assert base64.b64decode(sent[at + 1]) == "\0mü\0pässword".encode()
    assert not any(b" LOGIN " in line for line in sent)


@pytest.mark.parametrize(("user", "password"), [("jane\r\nX", "pw"), ("jane", "pw\r\nX1 LIST")])
def test_line_breaks_in_credentials_are_refused(
    stores: Callable[..., ImapStore], user: str, password: str
) -> None:
    server = Server(greeting=b"* OK hi\r\n")
    store = stores(server, user=user, password=lambda: password)
    with pytest.raises(StoreError, match=r"line break"):
        store.open("INBOX")
    assert not any(b"LOGIN" in line for line in server.sent())


def test_a_refused_login(stores: Callable[..., ImapStore]) -> None:
    server = Server({b"LOGIN": b"{tag} NO [AUTHENTICATIONFAILED] nope\r\n"}, greeting=b"* OK\r\n")
    with pytest.raises(StoreError, match=r"login refused.*nope"):
        stores(server, user="jane", password=lambda: "wrong").open("INBOX")


def test_no_user_configured(stores: Callable[..., ImapStore]) -> None:
    with pytest.raises(StoreError, match=r"no user or password"):
        stores(Server(greeting=b"* OK hi\r\n")).open("INBOX")
