"""The NNTP store against the lab's real INN, directly (plain TCP, named in a rule) and over
an ssh channel through the lab's shell host (the case study's ISP).

INN is shared by concurrent test sessions: every test posts under Message-IDs and
subjects of its own and looks for those only.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from pinesh.config.server_spec import ServerSpec
from pinesh.senders.compose import reply_threading
from pinesh.services.connections import Connections
from pinesh.stores.base import (
    Envelope,
    Flag,
    Reopened,
    SearchQuery,
    StoreError,
    ThreadNode,
    Unsupported,
)
from pinesh.stores.nntp.folder import NntpFolder
from pinesh.stores.nntp.newsrc import contains, parse_newsrc
from pinesh.stores.nntp.store import NewsgroupInfo, NntpStore
from pinesh.transport.channel import Channel
from pinesh.transport.routes import DirectRoute, SshChannelRoute
from pinesh.transport.service import Service
from tests.integration.helpers import connections, isp_rules, short_dir, stop_masters
from tests.lab.inn import LabInn
from tests.lab.sshd import LabSshd

pytestmark = pytest.mark.lab

GROUP = "local.test"


@dataclass
class News:
    """How the tests reach the lab's INN, and a factory of stores sharing one ~/.newsrc."""

    route: str
    conns: Connections
    server: str
    newsrc: Path
    opened: list[NntpStore]

    def open_channel(self) -> Channel:
        return self.conns.open(ServerSpec(self.server), Service.NNTP).channel

    def store(self) -> NntpStore:
        store = NntpStore(self.open_channel, newsrc=self.newsrc, name=self.server)
        self.opened.append(store)
        return store


@pytest.fixture(params=["direct", "ssh"])
def news(
    request: pytest.FixtureRequest, sshd: LabSshd, inn: LabInn, tmp_path: Path
) -> Iterator[News]:
    with short_dir() as work:
        if request.param == "direct":
            # Reading news without a password over cleartext: allowed when named.
            body = (
                f'[[rule]]\nservers = ["{inn.host}"]\nservices = ["nntp"]\n'
                f'via = "direct"\nfallback = ["plain:{inn.port}"]\n'
            )
            server = inn.host
        else:
            body = isp_rules("::1", 25, inn.host, inn.port)  # the SMTP rule is not used
            server = "news.isp.test"
        setup = News(request.param, connections(sshd, work, body), server, tmp_path / "newsrc", [])
        try:
            yield setup
        finally:
            for store in setup.opened:
                store.close()
            stop_masters(setup.conns)


def _marker() -> str:
    return f"nntp-store-{uuid.uuid4().hex}"


PLAIN_BODY = "hello news\r\n.starts with a dot\r\n"


def _article(marker: str, *, extra: str = "", body: str = PLAIN_BODY) -> bytes:
    return (
        f"From: Jane Lab <jane@pinesh.test>\r\nNewsgroups: {GROUP}\r\n"
        f"Subject: {marker}\r\nMessage-ID: <{marker}@pinesh.test>\r\n{extra}\r\n{body}"
    ).encode()


def _find(folder: NntpFolder, message_id: str, timeout: float = 10) -> Envelope:
    """The envelope of message_id among the group's newest articles (INN files posts at once;
    waits a little in case another session's posts crowd in)."""
    deadline = time.monotonic() + timeout
    while True:
        for envelope in folder.envelopes(folder.uids()[-200:]):
            if envelope.message_id == message_id:
                return envelope
        if time.monotonic() > deadline:
            raise AssertionError(f"{message_id} is not in {folder.name}")
        folder.check(0)
        time.sleep(0.1)


def _node(trees: Sequence[ThreadNode], uid: int) -> ThreadNode | None:
    stack = list(trees)
    while stack:
        node = stack.pop()
        if node.uid == uid:
            return node
        stack.extend(node.children)
    return None


def test_channel_is_the_route_asked_for(news: News) -> None:
    store = news.store()
    channel = store.run(lambda client: client.channel)
    if news.route == "direct":
        assert isinstance(channel.route, DirectRoute)
        assert not channel.allows_password  # cleartext: a password would never cross it
    else:
        assert isinstance(channel.route, SshChannelRoute)
        assert channel.allows_password
    assert store.posting_allowed  # MODE READER reached nnrpd, which takes posts


def test_list_groups_and_subscriptions(news: News) -> None:
    store = news.store()
    groups = {g.name: g for g in store.list_folders("local.*")}
    assert {"local.test", "local.other"} <= groups.keys()
    assert not any(isinstance(g, NewsgroupInfo) and g.subscribed for g in groups.values())
    store.subscribe("local.test")
    listed = {g.name: g for g in store.list_folders("local.%")}
    test_info, other_info = listed["local.test"], listed["local.other"]
    assert isinstance(test_info, NewsgroupInfo) and test_info.subscribed
    assert isinstance(other_info, NewsgroupInfo) and not other_info.subscribed
    assert test_info.status == "y"
    assert news.newsrc.read_text() == "local.test:\n"
    store.unsubscribe("local.test")
    assert news.newsrc.read_text() == "local.test!\n"
    assert store.subscribed() == []
    assert store.list_folders("no.such.hierarchy.*") == []


def test_post_find_read_and_mark_seen(news: News) -> None:
    marker = _marker()
    news.newsrc.write_text("options -n all\nlocal.other: 1-3\n")
    store = news.store()
    message_id = store.post(
        _article(
            marker,
            extra='MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n',
            body=(
                "--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                "caf=C3=A9\r\n.starts with a dot\r\n"
                "--b\r\nContent-Type: application/octet-stream\r\n"
                "Content-Transfer-Encoding: base64\r\n"
                'Content-Disposition: attachment; filename="x.bin"\r\n\r\nAAEC\r\n--b--\r\n'
            ),
        )
    )
    assert message_id == f"<{marker}@pinesh.test>"
    folder = store.open(GROUP)
    envelope = _find(folder, message_id)
    uid = envelope.uid
    assert envelope.subject == marker
    assert envelope.sender[0].email == "jane@pinesh.test"
    assert GROUP in envelope.newsgroups
    assert envelope.size > 0
    assert Flag.SEEN not in envelope.flags

    raw = folder.fetch_message(uid)
    assert f"Message-ID: <{marker}@pinesh.test>".encode() in raw
    assert b"\r\n.starts with a dot\r\n" in raw  # dot-stuffed on the way out and back
    root = folder.structure(uid)
    assert [p.content_type for p in root.children] == ["text/plain", "application/octet-stream"]
    assert b"".join(folder.fetch_part(uid, "1")).decode() == "café\r\n.starts with a dot"
    assert b"".join(folder.fetch_part(uid, "2")) == b"\x00\x01\x02"
    assert folder.search(SearchQuery(subject=marker)) == [uid]
    assert folder.search(SearchQuery(body="café", subject=marker)) == [uid]

    status = folder.status()
    assert status.uidnext is not None and status.uidnext > uid
    assert status.unseen >= 1  # ours at least: this ~/.newsrc has read nothing there
    folder.set_flags([uid], frozenset({Flag.SEEN, Flag.FLAGGED}), True)
    assert folder.envelopes([uid])[0].flags == {Flag.SEEN, Flag.FLAGGED}
    assert folder.search(SearchQuery(subject=marker, not_flags=frozenset({Flag.SEEN}))) == []
    assert news.newsrc.read_text() == "options -n all\nlocal.other: 1-3\n"  # until close
    folder.close()

    newsrc = parse_newsrc(news.newsrc.read_text())
    line = newsrc.group(GROUP)
    assert line is not None and contains(line.read, uid)
    assert news.newsrc.read_text().startswith("options -n all\nlocal.other: 1-3\n")

    again = news.store().open(GROUP)  # a new session: SEEN from ~/.newsrc, FLAGGED forgotten
    assert again.envelopes([uid])[0].flags == {Flag.SEEN}
    again.set_flags([uid], frozenset({Flag.SEEN}), False)
    again.close()
    line = parse_newsrc(news.newsrc.read_text()).group(GROUP)
    assert line is not None and not contains(line.read, uid)

    third = news.store().open(GROUP)  # Pine's expunge of news: read, and out of sight
    third.set_flags([uid], frozenset({Flag.DELETED}), True)
    assert third.expunge() == [uid]
    assert uid not in third.uids() and third.envelopes([uid]) == []
    third.close()
    line = parse_newsrc(news.newsrc.read_text()).group(GROUP)
    assert line is not None and contains(line.read, uid)


def test_followups_thread_under_the_original(news: News) -> None:
    marker = _marker()
    store = news.store()
    original_id = store.post(_article(marker))
    folder = store.open(GROUP)
    original = _find(folder, f"<{marker}@pinesh.test>")
    assert original_id == original.message_id

    parent = original
    ids = []
    for level in (1, 2):
        _, references = reply_threading(parent.message_id, parent.references)
        reply_id = f"<{marker}-re{level}@pinesh.test>"
        article = (
            f"From: Bob <bob@pinesh.test>\r\nNewsgroups: {GROUP}\r\nSubject: Re: {marker}\r\n"
            f"References: {' '.join(references)}\r\nMessage-ID: {reply_id}\r\n\r\n"
            f"reply {level}\r\n"
        ).encode()
        store.post(article)
        ids.append(reply_id)
        folder.check(5)
        parent = _find(folder, reply_id)

    first, second = (_find(folder, i) for i in ids)
    assert first.subject == second.subject == f"Re: {marker}"  # not "Re: Re:"
    assert second.references == (f"<{marker}@pinesh.test>", ids[0])
    tree = _node(folder.thread(), original.uid)
    assert tree is not None
    assert [c.uid for c in tree.children] == [first.uid]
    assert [c.uid for c in tree.children[0].children] == [second.uid]


def test_check_sees_an_article_posted_by_another_connection(news: News) -> None:
    marker = _marker()
    folder = news.store().open(GROUP)
    before = folder.uids()
    poster = news.store()
    poster.run(lambda client: client.channel)  # connected before the clock starts

    def post_soon() -> None:
        time.sleep(0.5)
        poster.post(_article(marker))

    thread = threading.Thread(target=post_soon)
    started = time.monotonic()
    thread.start()
    try:
        assert folder.check(timeout=20)
    finally:
        thread.join()
    assert time.monotonic() - started < 20
    envelope = _find(folder, f"<{marker}@pinesh.test>")
    assert envelope.uid > max(before, default=0)
    assert envelope.uid in folder.uids()


def test_refusals_are_clear_and_the_connection_stays(news: News) -> None:
    store = news.store()
    no_groups = f"From: jane@pinesh.test\r\nSubject: {_marker()}\r\n\r\nbody\r\n".encode()
    with pytest.raises(StoreError, match="Missing required Newsgroups") as caught:
        store.post(no_groups)
    assert news.server in str(caught.value) and caught.value.hint
    with pytest.raises(StoreError, match=r"no newsgroup 'local\.nope-"):
        store.open(f"local.nope-{uuid.uuid4().hex[:8]}")
    with pytest.raises(StoreError, match="not a newsgroup name"):
        store.open("local.test\r\nPOST")
    folder = store.open(GROUP)  # the same connection still serves
    with pytest.raises(Unsupported, match="posted, not appended"):
        folder.append(b"Subject: x\r\n\r\n")
    with pytest.raises(StoreError, match=r"no longer in local\.test"):
        folder.fetch_message((folder.status().uidnext or 1) + 10**9)
    assert folder.expunge() == []


def test_store_reconnects_when_the_server_drops_the_connection(news: News) -> None:
    store = news.store()
    folder = store.open(GROUP)
    count = len(folder.uids())
    channel: Channel = store.run(lambda client: client.channel)
    channel.close()  # as if the server had timed the idle reader out
    assert folder.status().count >= count  # a new connection, the group selected again
    assert store.run(lambda client: client.channel) is not channel


def test_a_reopened_news_connection_is_told(news: News) -> None:
    told: list[Reopened] = []
    store = NntpStore(
        news.open_channel, newsrc=news.newsrc, name=news.server, on_reopened=told.append
    )
    news.opened.append(store)
    folder = store.open(GROUP)
    count = len(folder.uids())
    assert told == []
    channel: Channel = store.run(lambda client: client.channel)
    channel.sock.shutdown(socket.SHUT_RDWR)  # the server's end is gone: reads see EOF
    assert folder.status().count >= count
    assert len(told) == 1
    host = channel.server.host
    assert told[0].describe() == (
        f"Connection to {host} (news) dropped ({told[0].reason}); reopened"
    )
    assert "closed" in told[0].reason or "failed" in told[0].reason, told[0].reason
