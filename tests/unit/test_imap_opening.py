"""Opening an IMAP mailbox in one exchange, against literal server transcripts: the
greeting's capabilities taken as they are, SELECT and both ESEARCHes written at once, and
what they told given to the view once; a COPY by name without opening the target."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pinesh.stores.base import StoreError
from pinesh.stores.imap.store import ImapStore
from tests.unit.test_imap_hostile import SELECTED, Reply, Server, stores

__all__ = ["stores"]  # the fixture, used by name

GREETING = b"* PREAUTH [CAPABILITY IMAP4rev1 ESEARCH CONDSTORE UIDPLUS IDLE] ready\r\n"
SELECT_MODSEQ = SELECTED.replace(
    b"* OK [UIDNEXT 4] ok\r\n", b"* OK [UIDNEXT 4] ok\r\n* OK [HIGHESTMODSEQ 9] ok\r\n"
)
SEARCHES: list[Reply] = [
    b'* ESEARCH (TAG "{tag}") UID ALL 1:3\r\n{tag} OK searched\r\n',
    b'* ESEARCH (TAG "{tag}") UID ALL 2\r\n{tag} OK searched\r\n',
]


def verbs(server: Server) -> list[bytes]:
    out = []
    for line in server.sent():
        words = line.split(b" ")
        out.append(b" ".join(words[1:3]) if words[1:2] == [b"UID"] else words[1])
    return out


def test_opening_is_select_and_both_searches_and_nothing_else(
    stores: Callable[..., ImapStore],
) -> None:
    server = Server({b"SELECT": SELECT_MODSEQ, b"UID SEARCH": SEARCHES}, greeting=GREETING)
    folder = stores(server).open("INBOX")
    look = folder.first_look()
    assert look is not None
    assert (look.uids, look.unseen) == ((1, 2, 3), (2,))
    status = look.status
    assert (status.count, status.recent, status.unseen, status.uidvalidity, status.uidnext) == (
        3,
        1,
        1,
        7,
        4,
    )
    sent = server.sent()
    assert verbs(server) == [b"SELECT", b"UID SEARCH", b"UID SEARCH"]  # no CAPABILITY, NOOP
    assert sent[0].endswith(b'SELECT "INBOX" (CONDSTORE)')
    assert sent[1].endswith(b"UID SEARCH RETURN (ALL) ALL")
    assert sent[2].endswith(b"UID SEARCH RETURN (ALL) UNSEEN")
    assert folder.first_look() is None  # given once
    assert folder.status().count == 3 and folder._connection.highestmodseq == 9


def test_without_a_capability_code_capability_is_asked(stores: Callable[..., ImapStore]) -> None:
    server = Server({b"UID SEARCH": SEARCHES}, greeting=b"* PREAUTH ready\r\n")
    folder = stores(server).open("INBOX")
    assert verbs(server) == [b"CAPABILITY", b"SELECT"]  # DEFAULTS' CAPS: no ESEARCH
    assert folder.first_look() is None  # nothing asked with SELECT: the view asks


def test_refused_searches_leave_the_mailbox_open_and_the_view_asks(
    stores: Callable[..., ImapStore],
) -> None:
    refused = b"{tag} BAD not now\r\n"
    server = Server(
        {b"UID SEARCH": [refused, refused, SEARCHES[0]]},
        greeting=GREETING,
    )
    folder = stores(server).open("INBOX")
    assert folder.first_look() is None
    assert folder.uids() == [1, 2, 3]


def test_news_after_opening_means_the_first_look_is_gone(stores: Callable[..., ImapStore]) -> None:
    server = Server(
        {b"UID SEARCH": SEARCHES, b"NOOP": b"* 4 EXISTS\r\n{tag} OK noop\r\n"}, greeting=GREETING
    )
    folder = stores(server).open("INBOX")
    folder.check()
    assert folder.first_look() is None


def test_a_failed_select_is_refused_with_the_searches_read(
    stores: Callable[..., ImapStore],
) -> None:
    server = Server(
        {
            b"SELECT": b"{tag} NO [NONEXISTENT] no such mailbox\r\n",
            b"UID SEARCH": b"{tag} BAD no mailbox\r\n",
        },
        greeting=GREETING,
    )
    with pytest.raises(StoreError, match=r"refused opening.*no such mailbox"):
        stores(server).open("Nope")


def test_copy_by_name_on_the_same_server_creates_on_trycreate_and_selects_nothing_more(
    stores: Callable[..., ImapStore],
) -> None:
    copy: list[Reply] = [
        b"{tag} NO [TRYCREATE] no such mailbox\r\n",
        b"{tag} OK [COPYUID 7 1 1] copied\r\n",
    ]
    server = Server({b"UID SEARCH": SEARCHES, b"UID COPY": copy}, greeting=GREETING)
    store = stores(server)
    folder = store.open("INBOX")
    assert folder.copy_into([1], store, "Archive") is True
    copies = [line for line in server.sent() if b" UID COPY " in line]
    assert [c.split(b" ", 1)[1] for c in copies] == [b'UID COPY 1 "Archive"'] * 2
    assert any(line.endswith(b'CREATE "Archive"') for line in server.sent())
    assert verbs(server).count(b"SELECT") == 1  # INBOX only: Archive was never opened
    other = stores(Server(greeting=GREETING))
    assert folder.copy_into([1], other, "Archive") is False  # another server: the caller copies
