"""Resynchronising a cached mailbox in the opening exchange (commands.open_mailbox with a
Known): the readers of VANISHED and FETCH FLAGS MODSEQ (protocol/resync.py) on good,
broken and hostile bytes, and what goes on the wire per method against literal server
transcripts, with what the Opening's Resync says."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest

from pinesh.stores.base import Flag, StoreError
from pinesh.stores.imap.commands import Known, Resync, resync_method
from pinesh.stores.imap.connection import Connection, Connector
from pinesh.stores.imap.errors import ImapSyntaxError
from pinesh.stores.imap.folder import ImapFolder
from pinesh.stores.imap.protocol.resync import (
    MAX_VANISHED_UIDS,
    VanishedTooLarge,
    changed_flags,
    fetched,
    is_earlier,
    uid_ranges,
    vanished,
)
from pinesh.stores.imap.store import CHUNK_SIZE
from tests.unit.test_imap_hostile import SELECTED, Reply, Server

# ---------------------------------------------------------------- VANISHED


def test_vanished_earlier_and_now_are_told_apart() -> None:
    told = vanished([b"(EARLIER) 1:3,7", b"9", b"(earlier) 12:11"])
    assert told.earlier == {1, 2, 3, 7, 11, 12}
    assert told.now == {9}
    assert is_earlier(b"(EARLIER) 4") and not is_earlier(b"4") and not is_earlier((b"x", b"y"))


def test_vanished_ranges_are_cut_at_uidnext_before_they_are_made() -> None:
    told = vanished([b"(EARLIER) 1:4294967295"], below=40)
    assert told.earlier == frozenset(range(1, 40))
    assert vanished([b"(EARLIER) 50:60"], below=40).earlier == frozenset()


def test_a_huge_vanished_range_is_refused_unexpanded() -> None:
    with pytest.raises(VanishedTooLarge):
        vanished([b"(EARLIER) 1:4294967295"])
    with pytest.raises(VanishedTooLarge):
        vanished([b"(EARLIER) 1:1000", b"1001:2000"], limit=1500)
    assert vanished([b"1:2000000"]).now.__len__() == MAX_VANISHED_UIDS
    # A flood of ranges, each cut away by UIDNEXT, is still counted.
    with pytest.raises(VanishedTooLarge):
        vanished([b"(EARLIER) " + b",".join([b"90"] * 11)], below=10, limit=10)


@pytest.mark.parametrize(
    "data",
    [
        b"(EARLIER) 1:*",
        b"*",
        b"(EARLIER)",
        b"(EARLIER) ",
        b"",
        b"0",
        b"(EARLIER) 3:0",
        b"4294967296",
        b"12345678901",
        b"1,,2",
        b"1:2:3",
        b"(LATER) 4",
        b"1 2",
        b"-1",
        b"1:5,\xff",
        b"(EARLIER) 1:5\r\n* 4 EXPUNGE",
    ],
)
def test_unreadable_vanished_sets(data: bytes) -> None:
    with pytest.raises(ImapSyntaxError):
        vanished([data])


def test_a_vanished_with_a_literal_is_unreadable() -> None:
    with pytest.raises(ImapSyntaxError, match="literal"):
        vanished([(b"(EARLIER) {3}", b"1:5")])


def test_uid_ranges_are_ordered_and_never_expanded() -> None:
    assert list(uid_ranges(b"5:1,9,4294967295:4294967294")) == [
        (1, 5),
        (9, 9),
        (4294967294, 4294967295),
    ]


# ---------------------------------------------------------------- FETCH


def test_a_fetch_of_flags_and_modseq() -> None:
    found = fetched(b"12 (UID 5 FLAGS (\\Seen \\Flagged $Junk \\Recent) MODSEQ (7))")
    assert (found.uid, found.flags, found.modseq) == (5, frozenset({Flag.SEEN, Flag.FLAGGED}), 7)


def test_fetch_items_in_any_order_and_others_skipped() -> None:
    found = fetched(b'3 (MODSEQ (9223372036854775807) X-THING ("a b" NIL (1 2)) FLAGS () UID 8)')
    assert (found.uid, found.flags, found.modseq) == (8, frozenset(), (1 << 63) - 1)
    assert fetched(b"1 (FLAGS (\\Answered))").uid is None


def test_changed_flags_last_of_a_uid_wins_and_those_without_uid_are_skipped() -> None:
    data = [
        b"1 (UID 4 FLAGS (\\Seen) MODSEQ (10))",
        b"2 (FLAGS (\\Deleted))",  # unsolicited, by message number: told again next time
        b"1 (UID 4 FLAGS (\\Seen \\Answered) MODSEQ (11))",
        b"3 (UID 9 MODSEQ (11))",  # no FLAGS: nothing to say of them
    ]
    assert changed_flags(data) == {4: frozenset({Flag.SEEN, Flag.ANSWERED})}


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"FETCH",
        b"1 UID 5",
        b"1 (UID 5",
        b"1 (UID 5))",
        b"1 (UID 5) trailing",
        b"0 (UID 5)",
        b"99999999999 (UID 5)",
        b"1 (UID 0)",
        b"1 (UID 4294967296)",
        b"1 (UID x)",
        b"1 (UID (5))",
        b"1 (UID 5 UID 6)",
        b"1 (UID 5 FLAGS)",
        b"1 (UID 5 FLAGS \\Seen)",
        b"1 (UID 5 FLAGS ((\\Seen)))",
        b"1 (UID 5 MODSEQ 7)",
        b"1 (UID 5 MODSEQ (7 8))",
        b"1 (UID 5 MODSEQ (0))",
        b"1 (UID 5 MODSEQ (9223372036854775808))",
        b"1 (UID 5 MODSEQ (123456789012345678901234))",
        b"1 (\\Seen 5)",
        b"1 (UID  5)",
        b"1 ( UID 5)",
        b'1 (UID 5 X "open)',
        b"1 (UID 5 X {3})",
        b"1 (UID 5 FLAGS (\\*))",
        b"1 (UID 5 X \x00)",
        b"1 (UID 5 X " + b"(" * 20 + b")" * 20 + b")",
        b"1 (UID 5 X (" + b"a " * 5000 + b"))",
        b"1 (UID 5 FLAGS (\\Seen)\r\n* 2 EXPUNGE)",
    ],
)
def test_unreadable_fetch_responses(data: bytes) -> None:
    with pytest.raises(ImapSyntaxError):
        fetched(data)


def test_a_fetch_with_a_literal_is_unreadable() -> None:
    with pytest.raises(ImapSyntaxError, match="literal"):
        changed_flags([(b"1 (UID 5 X {3}", b"abc"), b")"])


# ---------------------------------------------------------------- which method


def test_the_method_follows_the_capabilities_and_what_is_known() -> None:
    every = frozenset({b"QRESYNC", b"ENABLE", b"CONDSTORE", b"ESEARCH"})
    assert resync_method(every, None) is None
    assert resync_method(every, Known(7, 5)) == "qresync"
    assert resync_method(every - {b"ENABLE"}, Known(7, 5)) == "condstore"
    assert resync_method(every - {b"QRESYNC"}, Known(7, 5)) == "condstore"
    assert resync_method(every, Known(7, None)) == "flag-searches"
    assert resync_method(every, Known(7, 0)) == "flag-searches"
    assert resync_method(frozenset({b"ESEARCH"}), Known(7, 5)) == "flag-searches"
    assert resync_method(frozenset({b"IDLE"}), Known(7, 5)) is None


@pytest.mark.parametrize("values", [(0, 1), (1 << 32, 1), (7, -1), (7, 1 << 63), (True, 1)])
def test_a_known_that_imap_cannot_carry_is_refused(values: tuple[int, int]) -> None:
    with pytest.raises(ValueError):
        Known(*values)


# ---------------------------------------------------------------- transcripts

QRESYNC_GREETING = (
    b"* PREAUTH [CAPABILITY IMAP4rev1 ENABLE QRESYNC CONDSTORE ESEARCH UIDPLUS] ready\r\n"
)
CONDSTORE_GREETING = b"* PREAUTH [CAPABILITY IMAP4rev1 CONDSTORE ESEARCH UIDPLUS] ready\r\n"
ESEARCH_GREETING = b"* PREAUTH [CAPABILITY IMAP4rev1 ESEARCH UIDPLUS] ready\r\n"
PLAIN_GREETING = b"* PREAUTH [CAPABILITY IMAP4rev1 UIDPLUS] ready\r\n"
SELECT_MODSEQ = SELECTED.replace(
    b"* OK [UIDNEXT 4] ok\r\n", b"* OK [UIDNEXT 4] ok\r\n* OK [HIGHESTMODSEQ 20] ok\r\n"
)
SELECT_QRESYNC = SELECT_MODSEQ.replace(
    b"{tag} OK",
    b"* VANISHED (EARLIER) 4:6,9\r\n* 2 FETCH (UID 2 FLAGS (\\Seen \\Flagged) MODSEQ (18))\r\n"
    b"* 3 FETCH (UID 3 FLAGS () MODSEQ (20))\r\n{tag} OK",
)
ENABLED: Reply = b"* ENABLED QRESYNC\r\n{tag} OK enabled\r\n"
SEARCHES: list[Reply] = [
    b'* ESEARCH (TAG "{tag}") UID ALL 1:3\r\n{tag} OK searched\r\n',
    b'* ESEARCH (TAG "{tag}") UID ALL 3\r\n{tag} OK searched\r\n',
]
FLAG_SEARCHES: list[Reply] = [
    *SEARCHES,
    b'* ESEARCH (TAG "{tag}") UID ALL 1,3\r\n{tag} OK searched\r\n',
    b"{tag} OK searched\r\n",  # no reply: nothing matched
    b'* ESEARCH (TAG "{tag}") UID ALL 2\r\n{tag} OK searched\r\n',
]


@pytest.fixture
def connect() -> Iterator[Callable[[Server, Known | None], Connection]]:
    made: list[Connection] = []

    def make(server: Server, known: Known | None) -> Connection:
        connector = Connector(
            server.open_channel, label="IMAP server resync.test", user=None, password=None,
            timeout=2,
        )  # fmt: skip
        connection = connector("INBOX")
        connection.known = lambda: known
        connection.ensure()
        made.append(connection)
        return connection

    yield make
    for connection in made:
        connection.close()


def _commands(server: Server) -> list[bytes]:
    return [line.split(b" ", 1)[1] for line in server.sent()]


def test_qresync_is_one_write_of_enable_select_and_searches(
    connect: Callable[[Server, Known | None], Connection],
) -> None:
    server = Server(
        {b"ENABLE": ENABLED, b"SELECT": SELECT_QRESYNC, b"UID SEARCH": SEARCHES},
        greeting=QRESYNC_GREETING,
    )
    connection = connect(server, Known(7, 15))
    assert _commands(server) == [
        b"ENABLE QRESYNC",
        b'SELECT "INBOX" (QRESYNC (7 15))',
        b"UID SEARCH RETURN (ALL) ALL",
        b"UID SEARCH RETURN (ALL) UNSEEN",
    ]
    opening = connection.opening
    assert opening is not None and (opening.uids, opening.unseen) == ([1, 2, 3], [3])
    assert opening.resync == Resync(
        method="qresync",
        changed={2: frozenset({Flag.SEEN, Flag.FLAGGED}), 3: frozenset()},
        flag_sets={},
        vanished=frozenset(),  # 4:6,9 all cut away: UIDNEXT is 4
        highestmodseq=20,
    )
    assert connection.resync is opening.resync
    assert connection.opening is not None  # the changes read were not taken for news


def test_qresync_vanished_below_uidnext_are_kept(
    connect: Callable[[Server, Known | None], Connection],
) -> None:
    select = SELECT_QRESYNC.replace(b"[UIDNEXT 4]", b"[UIDNEXT 40]")
    server = Server(
        {b"ENABLE": ENABLED, b"SELECT": select, b"UID SEARCH": SEARCHES},
        greeting=QRESYNC_GREETING,
    )
    resync = connect(server, Known(7, 15)).resync
    assert resync is not None and resync.vanished == {4, 5, 6, 9}


def test_enable_is_sent_once_per_connection_and_again_after_a_reconnect(
    connect: Callable[[Server, Known | None], Connection],
) -> None:
    script = {b"ENABLE": ENABLED, b"SELECT": SELECT_QRESYNC, b"UID SEARCH": SEARCHES}
    server = Server(script, greeting=QRESYNC_GREETING)
    connection = connect(server, Known(7, 15))
    client = connection.ensure()
    assert client.qresync_enabled
    connection.drop("test")
    connection.ensure()
    assert [c for c in _commands(server) if c.startswith(b"ENABLE")] == [b"ENABLE QRESYNC"] * 2
    assert connection.resync is not None and connection.resync.method == "qresync"


def test_another_uidvalidity_gives_no_resync(
    connect: Callable[[Server, Known | None], Connection],
) -> None:
    server = Server(
        {b"ENABLE": ENABLED, b"SELECT": SELECT_MODSEQ, b"UID SEARCH": SEARCHES},
        greeting=QRESYNC_GREETING,
    )
    connection = connect(server, Known(6, 15))
    assert connection.resync is None and connection.uidvalidity == 7
    assert connection.opening is not None and connection.opening.uids == [1, 2, 3]


def test_a_mailbox_without_modseqs_gives_no_resync(
    connect: Callable[[Server, Known | None], Connection],
) -> None:
    select = SELECTED.replace(b"{tag} OK", b"* OK [NOMODSEQ] none\r\n{tag} OK")
    server = Server(
        {b"ENABLE": ENABLED, b"SELECT": select, b"UID SEARCH": SEARCHES},
        greeting=QRESYNC_GREETING,
    )
    assert connect(server, Known(7, 15)).resync is None


def test_qresync_refused_falls_back_to_condstore_in_a_second_exchange(
    connect: Callable[[Server, Known | None], Connection],
) -> None:
    server = Server(
        {
            b"ENABLE": b"{tag} NO not here\r\n",
            b"SELECT": [b"{tag} BAD no QRESYNC\r\n", SELECT_MODSEQ],
            b"UID SEARCH": [b"{tag} BAD no mailbox\r\n", b"{tag} BAD no mailbox\r\n", *SEARCHES],
            b"UID FETCH": b"* 2 FETCH (UID 2 FLAGS (\\Deleted) MODSEQ (19))\r\n{tag} OK done\r\n",
        },
        greeting=QRESYNC_GREETING,
    )
    connection = connect(server, Known(7, 15))
    assert _commands(server)[4:] == [
        b'SELECT "INBOX" (CONDSTORE)',
        b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE 15)",
        b"UID SEARCH RETURN (ALL) ALL",
        b"UID SEARCH RETURN (ALL) UNSEEN",
    ]
    assert connection.resync == Resync(
        "condstore", {2: frozenset({Flag.DELETED})}, {}, frozenset(), 20
    )


def test_condstore_fetches_the_changed_flags_in_the_same_write(
    connect: Callable[[Server, Known | None], Connection],
) -> None:
    server = Server(
        {
            b"SELECT": SELECT_MODSEQ,
            b"UID SEARCH": SEARCHES,
            b"UID FETCH": b"* 1 FETCH (UID 1 FLAGS (\\Answered) MODSEQ (16))\r\n"
            b"* 3 FETCH (UID 3 FLAGS (\\Flagged) MODSEQ (20))\r\n{tag} OK done\r\n",
        },
        greeting=CONDSTORE_GREETING,
    )
    connection = connect(server, Known(7, 15))
    assert _commands(server) == [
        b'SELECT "INBOX" (CONDSTORE)',
        b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE 15)",
        b"UID SEARCH RETURN (ALL) ALL",
        b"UID SEARCH RETURN (ALL) UNSEEN",
    ]
    assert connection.resync == Resync(
        "condstore",
        {1: frozenset({Flag.ANSWERED}), 3: frozenset({Flag.FLAGGED})},
        {},
        frozenset(),
        20,
    )
    assert connection.opening is not None and connection.opening.unseen == [3]


def test_a_refused_changedsince_gives_no_resync(
    connect: Callable[[Server, Known | None], Connection],
) -> None:
    server = Server(
        {b"SELECT": SELECT_MODSEQ, b"UID SEARCH": SEARCHES, b"UID FETCH": b"{tag} BAD no\r\n"},
        greeting=CONDSTORE_GREETING,
    )
    connection = connect(server, Known(7, 15))
    assert connection.resync is None and connection.opening is not None
    assert connection.opening.uids == [1, 2, 3]


def test_flag_searches_without_a_modseq(
    connect: Callable[[Server, Known | None], Connection],
) -> None:
    server = Server({b"UID SEARCH": FLAG_SEARCHES}, greeting=ESEARCH_GREETING)
    connection = connect(server, Known(7, None))
    assert _commands(server) == [
        b'SELECT "INBOX"',
        b"UID SEARCH RETURN (ALL) ALL",
        b"UID SEARCH RETURN (ALL) UNSEEN",
        b"UID SEARCH RETURN (ALL) FLAGGED",
        b"UID SEARCH RETURN (ALL) DELETED",
        b"UID SEARCH RETURN (ALL) ANSWERED",
    ]
    assert connection.resync == Resync(
        "flag-searches",
        {},
        {
            Flag.FLAGGED: frozenset({1, 3}),
            Flag.DELETED: frozenset(),
            Flag.ANSWERED: frozenset({2}),
        },
        frozenset(),
        None,
    )


def test_a_refused_flag_search_gives_no_resync(
    connect: Callable[[Server, Known | None], Connection],
) -> None:
    refused = [*FLAG_SEARCHES[:3], b"{tag} NO not now\r\n", FLAG_SEARCHES[4]]
    server = Server({b"UID SEARCH": refused}, greeting=ESEARCH_GREETING)
    connection = connect(server, Known(7, None))
    assert connection.resync is None
    assert connection.opening is not None and connection.opening.uids == [1, 2, 3]


def test_without_esearch_a_known_changes_nothing(
    connect: Callable[[Server, Known | None], Connection],
) -> None:
    server = Server({}, greeting=PLAIN_GREETING)
    connection = connect(server, Known(7, None))
    assert _commands(server) == [b'SELECT "INBOX"']
    assert connection.resync is None


def test_a_cold_open_sends_what_it_did_before(
    connect: Callable[[Server, Known | None], Connection],
) -> None:
    server = Server({b"SELECT": SELECT_MODSEQ, b"UID SEARCH": SEARCHES}, greeting=QRESYNC_GREETING)
    connection = connect(server, None)
    assert _commands(server) == [
        b'SELECT "INBOX" (CONDSTORE)',
        b"UID SEARCH RETURN (ALL) ALL",
        b"UID SEARCH RETURN (ALL) UNSEEN",
    ]
    assert connection.resync is None and connection.highestmodseq == 20


@pytest.mark.parametrize(
    "select",
    [
        SELECT_QRESYNC.replace(b"(EARLIER) 4:6,9", b"(EARLIER) 4:*"),
        SELECT_QRESYNC.replace(b"MODSEQ (18)", b"MODSEQ (x)"),
        SELECT_QRESYNC.replace(b"FLAGS () MODSEQ", b"FLAGS ((( MODSEQ"),
        SELECT_QRESYNC.replace(b"UID 3 ", b"UID 3 UID 4 "),
    ],
)
def test_a_hostile_resync_answer_breaks_the_opening(
    connect: Callable[[Server, Known | None], Connection], select: bytes
) -> None:
    server = Server(
        {b"ENABLE": ENABLED, b"SELECT": select, b"UID SEARCH": SEARCHES},
        greeting=QRESYNC_GREETING,
    )
    with pytest.raises(StoreError, match="could not be read"):
        connect(server, Known(7, 15))


def test_a_vanished_too_large_to_keep_gives_no_resync(
    connect: Callable[[Server, Known | None], Connection],
) -> None:
    select = SELECT_QRESYNC.replace(b"[UIDNEXT 4]", b"[UIDNEXT 4294967295]").replace(
        b"(EARLIER) 4:6,9", b"(EARLIER) 1:4000000000"
    )
    server = Server(
        {b"ENABLE": ENABLED, b"SELECT": select, b"UID SEARCH": SEARCHES},
        greeting=QRESYNC_GREETING,
    )
    connection = connect(server, Known(7, 15))
    assert connection.resync is None and connection.opening is not None


# ---------------------------------------------------------------- VANISHED in a session


class KnowingConnector(Connector):
    """A Connector whose connections know what a cache would hold (before the SELECT)."""

    def __init__(self, server: Server, known: Known | None) -> None:
        super().__init__(
            server.open_channel, label="IMAP server resync.test", user=None, password=None,
            timeout=2,
        )  # fmt: skip
        self._known = known

    def __call__(self, mailbox: str | None, *, read_only: bool = False) -> Connection:
        connection = super().__call__(mailbox, read_only=read_only)
        connection.known = lambda: self._known
        return connection


@pytest.fixture
def folders() -> Iterator[Callable[[Server, Known | None], ImapFolder]]:
    made: list[ImapFolder] = []

    def make(server: Server, known: Known | None) -> ImapFolder:
        folder = ImapFolder(
            "INBOX", KnowingConnector(server, known), read_only=False, chunk_size=CHUNK_SIZE
        )
        made.append(folder)
        return folder

    yield make
    for folder in made:
        with contextlib.suppress(StoreError):
            folder.close()


def test_the_folder_gives_the_resync_once_and_apart_from_the_first_look(
    folders: Callable[[Server, Known | None], ImapFolder],
) -> None:
    server = Server(
        {b"ENABLE": ENABLED, b"SELECT": SELECT_QRESYNC, b"UID SEARCH": SEARCHES},
        greeting=QRESYNC_GREETING,
    )
    folder = folders(server, Known(7, 15))
    assert folder.first_look() is not None
    resync = folder.resync()
    assert resync is not None and resync.highestmodseq == 20
    assert folder.resync() is None


def test_a_vanished_in_the_session_is_an_expunge_told_by_uid(
    folders: Callable[[Server, Known | None], ImapFolder],
) -> None:
    server = Server(
        {
            b"ENABLE": ENABLED,
            b"SELECT": SELECT_QRESYNC,
            b"UID SEARCH": [*SEARCHES, b"* ESEARCH UID ALL 1\r\n{tag} OK searched\r\n"],
            b"UID EXPUNGE": b"* VANISHED 2:3\r\n{tag} OK expunged\r\n",
        },
        greeting=QRESYNC_GREETING,
    )
    folder = folders(server, Known(7, 15))
    told: list[frozenset[int]] = []
    connection = folder._connection
    forget = connection.on_vanished

    def on_vanished(uids: frozenset[int]) -> None:
        told.append(uids)
        forget(uids)

    connection.on_vanished = on_vanished
    changed: list[bool] = []
    connection.on_messages_changed = lambda: changed.append(True)
    assert folder.expunge() == [1]  # what the search found, as without QRESYNC
    assert told == [frozenset({2, 3})]
    assert changed == [True]
    assert connection.exists == 1 and connection.changed
    assert connection.opening is None  # the first look holds no more


def test_a_hostile_vanished_in_the_session_drops_the_connection(
    folders: Callable[[Server, Known | None], ImapFolder],
) -> None:
    server = Server(
        {
            b"ENABLE": ENABLED,
            b"SELECT": SELECT_QRESYNC,
            b"UID SEARCH": SEARCHES,
            b"NOOP": b"* VANISHED 1:*\r\n{tag} OK noop\r\n",
        },
        greeting=QRESYNC_GREETING,
    )
    folder = folders(server, Known(7, 15))
    with pytest.raises(StoreError, match="could not be read"):
        folder.check()
    assert folder.channel is None
