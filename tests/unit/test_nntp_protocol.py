"""NNTP parsers and the client on literal byte transcripts: INN's own replies first, then
broken and hostile ones (over-long lines, no final dot, bad numbers, NUL, escapes)."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from pinesh.config.server_spec import ServerSpec
from pinesh.stores.base import (
    Address,
    Envelope,
    Flag,
    SearchQuery,
    SortKey,
    StoreError,
    ThreadNode,
)
from pinesh.stores.headers import envelope_from_headers
from pinesh.stores.mime_structure import mime_structure
from pinesh.stores.mime_structure import part_bytes as mime_part
from pinesh.stores.nntp.client import ConnectionLost, NntpClient, NntpError
from pinesh.stores.nntp.folder import source_matches, uidvalidity_for
from pinesh.stores.nntp.protocol import (
    DEFAULT_OVERVIEW,
    MAX_STATUS_LINE,
    BadArgument,
    BadReply,
    command_line,
    dot_stuff,
    number,
    overview_headers,
    parse_active,
    parse_group,
    parse_numbers,
    parse_over,
    parse_overview_fmt,
    parse_status,
    password_command,
    pattern_matches,
    take_line,
    unstuff,
    valid_group_name,
    wildmat,
)
from pinesh.stores.ordering import sort_uids as sort_envelopes
from pinesh.stores.ordering import thread_envelopes
from pinesh.stores.search import envelope_matches
from pinesh.transport.channel import Channel
from pinesh.transport.greeting import Greeting, GreetingState
from pinesh.transport.routes import DirectRoute, Security
from pinesh.transport.service import Service

PWNED = b"\x1b]0;pwned\x07"
CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "hostile"

# Literal lines from the lab's INN 2.7.1.
INN_GROUP = b"211 18 1 18 local.test\r\n"
INN_OVER = (
    b"2\tlab <lab-bebe64a65d534064a95fcf7eb3a4c8ce@pinesh.test>\tLab <pineshlab@pinesh.test>\t"
    b"Tue, 24 Nov 2026 15:38:34 -0000 (UTC)\t<lab-bebe64a65d534064a95fcf7eb3a4c8ce@pinesh.test>"
    b"\t\t601\t2\tXref: server.example.net local.test:2"
)
INN_OVERVIEW_FMT = [
    b"Subject:",
    b"From:",
    b"Date:",
    b"Message-ID:",
    b"References:",
    b"Bytes:",
    b"Lines:",
    b"Xref:full",
]
INN_FMT = (*DEFAULT_OVERVIEW, "xref")

# --- numbers and status lines --------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (b"18", 18),
        (b"0000000018", 18),
        (b"0", 0),
        (b"9223372036854775807", 2**63 - 1),
        (b"9223372036854775808", None),
        (b"99999999999999999999", None),
        (b"-1", None),
        (b"+1", None),
        (b"1e3", None),
        (b"", None),
        (b"\xd9\xa3", None),  # ARABIC-INDIC DIGIT THREE: int() would take it
        (b"1\x00", None),
    ],
)
def test_number(data: bytes, value: int | None) -> None:
    assert number(data) == value


def test_status_of_inn_group_reply() -> None:
    reply = parse_status(INN_GROUP)
    assert reply.code == 211
    assert reply.words() == [b"18", b"1", b"18", b"local.test"]


@pytest.mark.parametrize(
    ("line", "code", "text"),
    [
        (b"205 Bye!\r\n", 205, "Bye!"),
        (b"500 What?\r\n", 500, "What?"),
        (b"200\r\n", 200, ""),
        (b"340 Ok, recommended Message-ID <a$b@x>\n", 340, "Ok, recommended Message-ID <a$b@x>"),
    ],
)
def test_status_lines(line: bytes, code: int, text: str) -> None:
    reply = parse_status(line)
    assert (reply.code, reply.text) == (code, text)


def test_status_text_is_sanitized() -> None:
    reply = parse_status(b"441 " + PWNED + b" \xe2\x80\xae refused\r\n")
    assert reply.code == 441
    assert "\x1b" not in reply.text and "\x07" not in reply.text
    assert "\u202e" not in reply.text  # bidi override
    assert "\\x1b" in reply.text


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"\r\n",
        b"21 short\r\n",
        b"2111 four digits\r\n",
        b"abc not a code\r\n",
        b"611 first digit beyond 5\r\n",
        b"000 zero\r\n",
        b"211\tx\r\n",
        b"211 x\x00y\r\n",
        b"211 x\ry\r\n",
        b"\xd9\xa3\xd9\xa3\xd9\xa3 digits that are not ASCII\r\n",
    ],
)
def test_bad_status_lines(line: bytes) -> None:
    with pytest.raises(BadReply):
        parse_status(line)


def test_over_long_status_line() -> None:
    with pytest.raises(BadReply, match="longer"):
        parse_status(b"200 " + b"x" * MAX_STATUS_LINE + b"\r\n")


# --- lines and multi-line blocks ---------------------------------------------------------


def test_take_line_waits_for_the_line_end() -> None:
    assert take_line(b"211 1 1 1 g", 0, 100) is None
    assert take_line(b"211 1 1 1 g\r\n205", 0, 100) == (b"211 1 1 1 g", 13)
    assert take_line(b"a\nb\r\n", 2, 100) == (b"b", 5)  # a bare LF ends a line too


def test_take_line_refuses_an_endless_line() -> None:
    with pytest.raises(BadReply, match="longer than 10 bytes"):
        take_line(b"x" * 11, 0, 10)
    with pytest.raises(BadReply):
        take_line(b"x" * 50 + b"\r\n", 0, 10)


def test_unstuff() -> None:
    assert unstuff(b".") is None
    assert unstuff(b"..") == b"."
    assert unstuff(b"..starts with a dot") == b".starts with a dot"
    assert unstuff(b"plain") == b"plain"
    assert unstuff(b"") == b""


def test_dot_stuff() -> None:
    article = b"Subject: x\n\n.starts with a dot\n.\nlast"
    assert dot_stuff(article) == (b"Subject: x\r\n\r\n..starts with a dot\r\n..\r\nlast\r\n.\r\n")


# --- GROUP, LISTGROUP, LIST ACTIVE ----------------------------------------------------------


def test_group_reply() -> None:
    info = parse_group(parse_status(INN_GROUP))
    assert (info.name, info.count, info.low, info.high, info.empty) == (
        "local.test",
        18,
        1,
        18,
        False,
    )


def test_empty_group_reply() -> None:
    assert parse_group(parse_status(b"211 0 19 18 local.test\r\n")).empty


@pytest.mark.parametrize(
    "line",
    [
        b"211 x 1 18 local.test",
        b"211 18 1 -18 local.test",
        b"211 18 1 99999999999999999999 local.test",
        b"211 18 1 18",
        b"211",
        b"411 No such group local.test",
    ],
)
def test_bad_group_replies(line: bytes) -> None:
    with pytest.raises(BadReply):
        parse_group(parse_status(line))


def test_listgroup_numbers_skip_garbage() -> None:
    lines = [b"3", b"1", b"2", b"x", b"", b"0", b"-4", b"99999999999999999999", b"2", PWNED]
    assert parse_numbers(lines) == [1, 2, 3]


def test_active_line_from_inn() -> None:
    group = parse_active(b"local.test 0000000018 0000000001 y")
    assert group is not None
    assert (group.name, group.high, group.low, group.status) == ("local.test", 18, 1, "y")


def test_active_line_moderated_and_alias() -> None:
    moderated = parse_active(b"comp.std.c 120 3 m")
    alias = parse_active(b"old.name 0 1 =new.name")
    assert moderated is not None and moderated.status == "m"
    assert alias is not None and alias.status == "=new.name"


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"local.test 18 1",
        b"local.test 18 1 y extra",
        b"local.test eighteen 1 y",
        b"local.test 18 -1 y",
        b"local.test 99999999999999999999 1 y",
        b"local.\x1b[2Jtest 18 1 y",
        b"local.*test 18 1 y",
        b"local,test 18 1 y",
        b"local:test 18 1 y",
        b"\xff\xfe.group 18 1 y",
    ],
)
def test_bad_active_lines_are_skipped(line: bytes) -> None:
    assert parse_active(line) is None


def test_active_status_is_sanitized() -> None:
    group = parse_active(b"local.test 18 1 " + b"y\x1b[31m")
    assert group is not None and "\x1b" not in group.status


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("local.test", True),
        ("de.comp.lang.python", True),
        ("fr.café", True),
        ("", False),
        ("a b", False),
        ("a\tb", False),
        ("a\x1bb", False),
        ("a\u202eb", False),
        ("a*", False),
        ("a!", False),
        ("x" * 401, False),
    ],
)
def test_valid_group_name(name: str, ok: bool) -> None:
    assert valid_group_name(name) is ok


# --- OVER -----------------------------------------------------------------------------------


def test_overview_fmt_of_inn() -> None:
    assert parse_overview_fmt(INN_OVERVIEW_FMT) == INN_FMT


def test_overview_fmt_rfc3977_metadata_names() -> None:
    lines = [b"Subject:", b"From:", b"Date:", b"Message-ID:", b"References:", b":bytes", b":lines"]
    assert parse_overview_fmt(lines) == DEFAULT_OVERVIEW


def test_overview_fmt_that_is_not_standard_is_not_trusted() -> None:
    assert parse_overview_fmt([b"From:", b"Subject:", PWNED]) == DEFAULT_OVERVIEW


def test_over_line_from_inn() -> None:
    over = parse_over(INN_OVER, INN_FMT)
    assert over is not None
    assert over.number == 2
    assert over.fields["subject"] == b"lab <lab-bebe64a65d534064a95fcf7eb3a4c8ce@pinesh.test>"
    assert over.fields["references"] == b""
    assert over.size == 601
    assert over.newsgroups() == [b"local.test"]


def test_over_line_to_envelope() -> None:
    over = parse_over(INN_OVER, INN_FMT)
    assert over is not None
    envelope = envelope_from_headers(over.number, overview_headers(over), over.size, frozenset())
    assert envelope.subject.startswith("lab <lab-bebe")
    assert envelope.sender[0].email == "pineshlab@pinesh.test"
    assert envelope.message_id == "<lab-bebe64a65d534064a95fcf7eb3a4c8ce@pinesh.test>"
    assert envelope.date is not None and envelope.date.year == 2026
    assert envelope.newsgroups == ("local.test",)
    assert envelope.size == 601


def test_over_line_with_missing_fields() -> None:
    over = parse_over(b"7\tonly a subject")
    assert over is not None
    assert over.fields["subject"] == b"only a subject"
    assert over.fields["from"] == b"" and over.fields["message-id"] == b""
    assert over.size == 0
    assert overview_headers(over) == b"Subject: only a subject\r\n\r\n"


@pytest.mark.parametrize(
    "line",
    [b"", b"abc\tsubject", b"-3\tsubject", b"0\tsubject", b"99999999999999999999\tx", b"\t\t\t"],
)
def test_over_line_with_a_bad_number_is_skipped(line: bytes) -> None:
    assert parse_over(line) is None


def test_over_line_with_garbage_bytes_count() -> None:
    over = parse_over(b"5\ts\tf\td\t<m@x>\t\t12x\t1")
    assert over is not None and over.size == 0


def test_over_fields_cannot_smuggle_headers() -> None:
    over = parse_over(b"5\tsubject\rBcc: victim@example.org\x00\tme@x\t\t<m@x>\t\t10\t1")
    assert over is not None
    headers = overview_headers(over)
    assert b"\rBcc" not in headers and b"\x00" not in headers
    envelope = envelope_from_headers(5, headers, 10, frozenset())
    assert envelope.subject == "subject Bcc: victim@example.org"
    assert envelope.to == () and envelope.cc == ()


def test_over_full_field_keeps_its_value_only() -> None:
    over = parse_over(b"5\ts\tf\td\t<m@x>\t\t10\t1\tXref: host a.b:5 c.d:9", INN_FMT)
    assert over is not None
    assert over.fields["xref"] == b"host a.b:5 c.d:9"
    assert over.newsgroups() == [b"a.b", b"c.d"]


# --- commands ------------------------------------------------------------------------------


def test_command_line() -> None:
    assert command_line("GROUP", "local.test") == b"GROUP local.test\r\n"
    assert command_line("OVER", "1-20") == b"OVER 1-20\r\n"
    assert command_line("ARTICLE", 17) == b"ARTICLE 17\r\n"
    assert command_line("MODE", "READER") == b"MODE READER\r\n"


@pytest.mark.parametrize(
    "arg", ["local.test\r\nPOST", "a b", "a\tb", "a\x00b", "a\nb", "", "\x1b[2J", "x" * 600]
)
def test_command_arguments_that_would_smuggle_a_command(arg: str) -> None:
    with pytest.raises(BadArgument):
        command_line("GROUP", arg)


def test_password_command_allows_spaces_not_line_breaks() -> None:
    assert password_command("correct horse") == b"AUTHINFO PASS correct horse\r\n"
    for bad in ("", "pw\r\nQUIT", "pw\x00"):
        with pytest.raises(BadArgument) as caught:
            password_command(bad)
        assert bad not in str(caught.value) or bad == ""


def test_arguments_that_are_not_utf8_text_are_refused() -> None:
    # A lone surrogate (a file name read with surrogateescape) cannot be encoded.
    with pytest.raises(BadArgument):
        command_line("GROUP", "local.\udcff")
    with pytest.raises(BadArgument):
        password_command("pw\udcff")


def test_wildmat_and_one_level_patterns() -> None:
    assert wildmat("*") == "*"
    assert wildmat("comp.%") == "comp.*"
    assert wildmat("") == "*"
    assert pattern_matches("comp.%", "comp.lang")
    assert not pattern_matches("comp.%", "comp.lang.python")
    assert pattern_matches("comp.*", "comp.lang.python")
    assert pattern_matches("LOCAL.*", "local.test")
    assert not pattern_matches("local.t", "local.test")


# --- the client on a socket, fed literal transcripts --------------------------------------


class Peer:
    """The far end of a socketpair: what the client receives is written in advance."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def says(self, data: bytes) -> None:
        self.sock.sendall(data)

    def heard(self) -> bytes:
        self.sock.settimeout(0.2)
        data = b""
        try:
            while chunk := self.sock.recv(65536):
                data += chunk
        except TimeoutError:
            pass
        return data


def _channel(sock: socket.socket, *, encrypted: bool, posting: bool = True) -> Channel:
    greeting = Greeting(GreetingState.READY, b"200 hi\r\n", "hi", posting_allowed=posting)
    security = Security.TLS if encrypted else Security.PLAIN
    route = DirectRoute("news.example.org", 119, security)
    return Channel(
        sock, Service.NNTP, ServerSpec("news.example.org"), route, greeting, encrypted, False
    )


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, Peer]]:
    near, far = socket.socketpair()
    yield near, Peer(far)
    near.close()
    far.close()


def _client(
    pair: tuple[socket.socket, Peer], *, encrypted: bool = False, posting: bool = True
) -> tuple[NntpClient, Peer, list[int]]:
    near, peer = pair
    asked: list[int] = []

    def password() -> str:
        asked.append(1)
        return "s3cret pw"

    channel = _channel(near, encrypted=encrypted, posting=posting)
    client = NntpClient(channel, label="news.example.org", user="jane", password=password)
    client.timeout = 2
    near.settimeout(2)
    return client, peer, asked


def test_client_reads_a_group_and_its_overview(pair: tuple[socket.socket, Peer]) -> None:
    client, peer, _ = _client(pair)
    peer.says(b"200 NNRP ready (posting ok)\r\n" + INN_GROUP)
    peer.says(b"215 Order of fields\r\n" + b"\r\n".join(INN_OVERVIEW_FMT) + b"\r\n.\r\n")
    peer.says(b"224 Overview follows\r\n" + INN_OVER + b"\r\nbad\tline\r\n.\r\n")
    client.start()
    info = client.group("local.test")
    overs = client.over(1, 18)
    assert info.high == 18 and client.selected == "local.test"
    assert overs is not None and [o.number for o in overs] == [2]
    assert peer.heard() == (
        b"MODE READER\r\nGROUP local.test\r\nLIST OVERVIEW.FMT\r\nOVER 1-18\r\n"
    )


def test_client_falls_back_to_xover(pair: tuple[socket.socket, Peer]) -> None:
    client, peer, _ = _client(pair)
    peer.says(b"500 What?\r\n")  # LIST OVERVIEW.FMT: an old server
    peer.says(b"500 What?\r\n224 XOVER follows\r\n3\tsubject\r\n.\r\n")
    peer.says(b"224 XOVER follows\r\n4\tsubject\r\n.\r\n")
    first = client.over(3, 3)
    second = client.over(4, 4)  # XOVER straight away: OVER is remembered as missing
    assert first is not None and [o.number for o in first] == [3]
    assert second is not None and [o.number for o in second] == [4]
    assert peer.heard() == b"LIST OVERVIEW.FMT\r\nOVER 3-3\r\nXOVER 3-3\r\nXOVER 4-4\r\n"


def test_client_over_drops_numbers_outside_the_range(pair: tuple[socket.socket, Peer]) -> None:
    client, peer, _ = _client(pair)
    client._overview_fmt = DEFAULT_OVERVIEW
    peer.says(b"224 follows\r\n1\ta\r\n5\tb\r\n999\tc\r\n.\r\n")
    overs = client.over(4, 6)
    assert overs is not None and [o.number for o in overs] == [5]


def test_client_unstuffs_an_article(pair: tuple[socket.socket, Peer]) -> None:
    client, peer, _ = _client(pair)
    peer.says(b"220 3 <a@b> article\r\nSubject: x\r\n\r\n..dot\r\n.\r\n")
    assert client.fetch("ARTICLE", 3) == b"Subject: x\r\n\r\n.dot\r\n"
    peer.says(b"423 No such article number 4\r\n")
    assert client.fetch("ARTICLE", 4) is None


def test_client_keeps_nul_and_escapes_as_bytes(pair: tuple[socket.socket, Peer]) -> None:
    # Article content is data: kept exactly, made safe only when shown.
    client, peer, _ = _client(pair)
    peer.says(b"220 3 <a@b> article\r\na\x00b\r\n" + PWNED + b"\r\n.\r\n")
    assert client.fetch("ARTICLE", 3) == b"a\x00b\r\n" + PWNED + b"\r\n"
    peer.says(b"220 4 <c@d> article\r\n.\r\n")
    assert client.fetch("ARTICLE", 4) == b""  # an empty block


def test_dot_stuff_round_trip_with_crlf(pair: tuple[socket.socket, Peer]) -> None:
    client, peer, _ = _client(pair)
    article = b"Subject: x\r\n\r\n.a\r\n..b\r\nc\r\n"
    peer.says(b"220 3 <a@b> article\r\n" + dot_stuff(article) + b"205 Bye!\r\n")
    assert client.fetch("ARTICLE", 3) == article
    assert client.status().code == 205  # what follows the final '.' is the next reply


def test_dot_stuff_cannot_end_the_article_early(pair: tuple[socket.socket, Peer]) -> None:
    client, peer, _ = _client(pair)
    sent = dot_stuff(b"body\r\n.\r\nQUIT\r\n")
    peer.says(b"220 3 <a@b> article\r\n" + sent + b"205 Bye!\r\n")
    assert client.fetch("ARTICLE", 3) == b"body\r\n.\r\nQUIT\r\n"
    assert client.status().code == 205


def test_client_reply_without_final_dot(pair: tuple[socket.socket, Peer]) -> None:
    client, peer, _ = _client(pair)
    peer.says(b"220 3 <a@b> article\r\nSubject: x\r\n\r\nbody\r\n")
    peer.sock.shutdown(socket.SHUT_WR)
    with pytest.raises(ConnectionLost, match=r"before its final '\.'") as caught:
        client.fetch("ARTICLE", 3)
    assert "news.example.org" in str(caught.value)
    assert client.broken


def test_client_over_long_line_is_an_error(pair: tuple[socket.socket, Peer]) -> None:
    client, peer, _ = _client(pair)
    peer.says(b"211 " + b"9" * 5000)
    with pytest.raises(NntpError, match="longer") as caught:
        client.group("local.test")
    assert caught.value.hint is not None and client.broken


def test_client_garbage_reply_names_the_server(pair: tuple[socket.socket, Peer]) -> None:
    client, peer, _ = _client(pair)
    peer.says(PWNED + b"HTTP/1.1 400 Bad Request\r\n")
    with pytest.raises(NntpError) as caught:
        client.group("local.test")
    message = str(caught.value)
    assert "news server news.example.org" in message
    assert "\x1b" not in message and "\x07" not in message


def test_client_missing_group(pair: tuple[socket.socket, Peer]) -> None:
    client, peer, _ = _client(pair)
    peer.says(b"411 No such group local.nope\r\n")
    with pytest.raises(NntpError, match=r"no newsgroup 'local\.nope'"):
        client.group("local.nope")
    assert not client.broken  # a refusal, not a broken connection


def test_client_server_timeout_400(pair: tuple[socket.socket, Peer]) -> None:
    client, peer, _ = _client(pair)
    peer.says(b"400 Timeout after 600 seconds, closing connection\r\n")
    with pytest.raises(ConnectionLost, match="ended the session"):
        client.group("local.test")


def test_client_silence_is_a_timeout(pair: tuple[socket.socket, Peer]) -> None:
    client, _, _ = _client(pair)
    client.timeout = 0.2
    client.channel.sock.settimeout(0.2)
    with pytest.raises(ConnectionLost, match="no answer"):
        client.group("local.test")


def test_no_password_over_a_plain_connection(pair: tuple[socket.socket, Peer]) -> None:
    client, peer, asked = _client(pair, encrypted=False)
    peer.says(b"480 Authentication required\r\n")
    with pytest.raises(NntpError, match="not encrypted") as caught:
        client.group("local.test")
    assert caught.value.hint is not None and "ssh" in caught.value.hint
    assert asked == []  # the password was not even asked for
    assert peer.heard() == b"GROUP local.test\r\n"


def test_login_when_asked_over_an_encrypted_channel(pair: tuple[socket.socket, Peer]) -> None:
    client, peer, asked = _client(pair, encrypted=True)
    peer.says(b"480 Authentication required\r\n381 Password please\r\n281 Ok\r\n" + INN_GROUP)
    assert client.group("local.test").count == 18
    assert asked == [1]
    assert peer.heard() == (
        b"GROUP local.test\r\nAUTHINFO USER jane\r\nAUTHINFO PASS s3cret pw\r\nGROUP local.test\r\n"
    )


def test_login_refused_does_not_show_the_password(pair: tuple[socket.socket, Peer]) -> None:
    client, peer, _ = _client(pair, encrypted=True)
    peer.says(b"480 Authentication required\r\n381 Password please\r\n481 Bad password\r\n")
    with pytest.raises(NntpError, match="login refused") as caught:
        client.group("local.test")
    assert "s3cret" not in str(caught.value)


def test_mode_reader_tolerates_servers_that_do_not_know_it(
    pair: tuple[socket.socket, Peer],
) -> None:
    client, peer, _ = _client(pair, posting=False)
    peer.says(b"500 What?\r\n")
    client.start()
    assert not client.posting_allowed  # still what the greeting said
    peer.says(b"201 NNRP ready (no posting)\r\n")
    client.start()
    assert not client.posting_allowed
    peer.says(b"200 NNRP ready (posting ok)\r\n")
    client.start()
    assert client.posting_allowed


def test_mode_reader_refused(pair: tuple[socket.socket, Peer]) -> None:
    client, peer, _ = _client(pair)
    peer.says(b"502 You have no permission to talk\r\n")
    with pytest.raises(NntpError, match="refuses readers"):
        client.start()


def test_post_sends_the_article_stuffed(pair: tuple[socket.socket, Peer]) -> None:
    client, peer, _ = _client(pair)
    peer.says(b"340 Ok\r\n240 Article received <x@y>\r\n")
    reply = client.post(b"Newsgroups: a.b\nSubject: s\n\n.dot\n")
    assert reply.code == 240
    assert peer.heard() == b"POST\r\nNewsgroups: a.b\r\nSubject: s\r\n\r\n..dot\r\n.\r\n"


@pytest.mark.parametrize(
    ("replies", "match"),
    [
        (b"440 Posting not allowed\r\n", "posting is not allowed: Posting not allowed"),
        (b"340 Ok\r\n441 No valid newsgroups in " + PWNED + b"\r\n", "refused: No valid"),
    ],
)
def test_post_refusals_show_the_server_text_safely(
    pair: tuple[socket.socket, Peer], replies: bytes, match: str
) -> None:
    client, peer, _ = _client(pair)
    peer.says(replies)
    with pytest.raises(NntpError, match=match) as caught:
        client.post(b"Newsgroups: a.b\r\n\r\nx\r\n")
    assert "\x1b" not in str(caught.value)
    assert not client.broken


def test_post_where_the_greeting_said_no_posting(pair: tuple[socket.socket, Peer]) -> None:
    client, peer, _ = _client(pair, posting=False)
    with pytest.raises(NntpError, match="does not allow posting"):
        client.post(b"Newsgroups: a.b\r\n\r\nx\r\n")
    assert peer.heard() == b""


def test_lost_after_the_article_was_sent_is_not_retried(
    pair: tuple[socket.socket, Peer],
) -> None:
    client, peer, _ = _client(pair)
    peer.says(b"340 Ok\r\n")
    peer.sock.shutdown(socket.SHUT_WR)
    with pytest.raises(ConnectionLost) as caught:
        client.post(b"Newsgroups: a.b\r\n\r\nx\r\n")
    assert caught.value.safe_to_retry is False


def test_errors_are_store_errors() -> None:
    assert issubclass(NntpError, StoreError)
    assert issubclass(ConnectionLost, NntpError)


# --- article helpers of the store (pinesh.stores.nntp.store): pure, on literal articles ----------


def _env(uid: int, mid: str | None, refs: tuple[str, ...] = (), **kw: object) -> Envelope:
    base: dict[str, object] = {
        "uid": uid,
        "date": None,
        "sender": (),
        "to": (),
        "cc": (),
        "subject": "",
        "message_id": mid,
        "in_reply_to": None,
        "references": refs,
        "size": 0,
        "flags": frozenset(),
    }
    base.update(kw)
    return Envelope(**base)  # type: ignore[arg-type]


def test_thread_by_references() -> None:
    threads = thread_envelopes(
        [
            _env(1, "<a@x>"),
            _env(2, "<b@x>", ("<a@x>",)),
            _env(3, "<c@x>", ("<a@x>", "<b@x>")),
            _env(4, "<d@x>"),
            _env(5, "<e@x>", ("<a@x>",)),
        ]
    )
    assert threads == [
        ThreadNode(1, (ThreadNode(2, (ThreadNode(3),)), ThreadNode(5))),
        ThreadNode(4),
    ]


def test_thread_with_a_missing_parent() -> None:
    threads = thread_envelopes(
        [_env(7, "<b@x>", ("<gone@x>",)), _env(8, "<c@x>", ("<gone@x>",)), _env(9, "<d@x>")]
    )
    assert threads == [ThreadNode(None, (ThreadNode(7), ThreadNode(8))), ThreadNode(9)]


def test_thread_reply_before_its_parent_and_in_reply_to() -> None:
    threads = thread_envelopes(
        [_env(3, "<b@x>", in_reply_to="<a@x>"), _env(5, "<a@x>")]  # parent arrived later
    )
    assert threads == [ThreadNode(5, (ThreadNode(3),))]


def test_thread_survives_loops_duplicates_and_self_references() -> None:
    threads = thread_envelopes(
        [
            _env(1, "<a@x>", ("<b@x>",)),
            _env(2, "<b@x>", ("<a@x>",)),  # a loop
            _env(3, "<a@x>"),  # a duplicate Message-ID
            _env(4, "<s@x>", ("<s@x>",)),  # its own parent
            _env(5, None),
        ]
    )
    uids = sorted(_uids_in(threads))
    assert uids == [1, 2, 3, 4, 5]


def _uids_in(nodes: Sequence[ThreadNode]) -> list[int]:
    out: list[int] = []
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if node.uid is not None:
            out.append(node.uid)
        stack.extend(node.children)
    return out


def test_thread_of_a_hostile_reference_chain() -> None:
    refs = tuple(f"<{i}@x>" for i in range(5000))  # far deeper than Python's recursion
    threads = thread_envelopes([_env(1, "<m@x>", refs)])
    assert _uids_in(threads) == [1]
    assert threads[0].uid == 1  # empty ancestors give way to the one article


def test_sort_envelopes() -> None:
    envelopes = [
        _env(1, None, subject="Re: beta", size=30, sender=(Address("Zed", "z@x"),)),
        _env(2, None, subject="alpha", size=10, sender=(Address("", "a@x"),)),
        _env(3, None, subject="Beta", size=20, sender=()),
    ]
    assert sort_envelopes(envelopes, SortKey.SUBJECT, False) == [2, 1, 3]
    assert sort_envelopes(envelopes, SortKey.SIZE, True) == [1, 3, 2]
    assert sort_envelopes(envelopes, SortKey.FROM, False) == [3, 2, 1]
    assert sort_envelopes(envelopes, SortKey.ARRIVAL, True) == [3, 2, 1]


def test_search_on_envelope_and_source() -> None:
    envelope = _env(1, None, subject="Café talk", sender=(Address("Jane", "jane@x"),))
    envelope = replace(envelope, flags=frozenset({Flag.SEEN}))
    assert envelope_matches(envelope, SearchQuery(subject="café", sender="JANE"))
    assert not envelope_matches(envelope, SearchQuery(subject="tea"))
    assert not envelope_matches(envelope, SearchQuery(not_flags=frozenset({Flag.SEEN})))
    article = b"To: bob@x\r\nSubject: s\r\n\r\nthe secret word\r\n"
    assert source_matches(article, SearchQuery(to="bob", body="SECRET", text="subject: s"))
    assert not source_matches(article, SearchQuery(body="absent"))


MULTIPART = (
    b"Subject: parts\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\n"
    b"--b1\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Disposition: attachment; filename*=utf-8''na%C3%AFve.bin\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n"
    b"--b1--\r\n"
)


def test_mime_structure_and_parts() -> None:
    root = mime_structure(MULTIPART)
    assert root.content_type == "multipart/mixed" and root.part_id == ""
    text, attachment = root.children
    assert (text.part_id, text.charset, text.encoding) == ("1", "utf-8", "quoted-printable")
    assert (attachment.part_id, attachment.filename) == ("2", "naïve.bin")
    assert attachment.disposition == "attachment"
    assert mime_part(MULTIPART, "1") == "café".encode()  # the CRLF belongs to the boundary
    assert mime_part(MULTIPART, "2") == b"\x00\x01\x02"
    assert mime_part(MULTIPART, "3") is None
    assert mime_part(MULTIPART, "1.1") is None
    assert mime_part(MULTIPART, "x") is None


def test_single_part_body_is_part_one() -> None:
    article = b"Subject: x\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n"
    assert mime_structure(article).part_id == "1"
    assert mime_part(article, "1") == b"hello"


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.eml")), ids=lambda p: p.name)
def test_hostile_corpus_never_raises(path: Path) -> None:
    data = path.read_bytes()
    root = mime_structure(data)
    for part in root.walk():
        if not part.content_type.startswith("multipart/"):  # deeper than 50: no children
            assert isinstance(mime_part(data, part.part_id), bytes)
    source_matches(data, SearchQuery(text="x", to="y"))


def test_uidvalidity_is_fixed_per_group() -> None:
    assert uidvalidity_for("local.test") == uidvalidity_for("local.test")
    assert uidvalidity_for("local.test") != uidvalidity_for("local.other")
    assert 0 < uidvalidity_for("local.test") < 2**32
