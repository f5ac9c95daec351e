"""The reader under imaplib: the greeting replayed first, and bounds on what a server sends."""

from __future__ import annotations

import imaplib
import socket
from collections.abc import Iterator

import pytest

from pinesh.stores.imap.channel_client import SocketReader
from pinesh.stores.imap.errors import ReplyTooLarge


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    ours.settimeout(5)
    yield ours, theirs
    ours.close()
    theirs.close()


def test_greeting_first_then_the_socket(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    reader = SocketReader(ours, b"* PREAUTH hi\r\n* 1 EX", max_line=100, max_literal=100)
    assert reader.has_data()
    theirs.sendall(b"ISTS\r\n{5}\r\nhello\r\n")
    assert reader.readline() == b"* PREAUTH hi\r\n"
    assert reader.readline() == b"* 1 EXISTS\r\n"
    assert reader.readline() == b"{5}\r\n"
    assert reader.read(5) == b"hello"
    assert reader.readline() == b"\r\n"
    assert not reader.has_data()


def test_a_literal_split_over_many_packets(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    reader = SocketReader(ours, b"abc", max_line=100, max_literal=10_000)
    theirs.sendall(b"d" * 5000)
    theirs.sendall(b"e" * 2000)
    assert reader.read(7003) == b"abc" + b"d" * 5000 + b"e" * 2000


def test_an_absurd_literal_is_refused_before_reading(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, _ = pair
    reader = SocketReader(ours, b"", max_line=100, max_literal=1 << 20)
    with pytest.raises(ReplyTooLarge, match="99999999999999999 bytes"):
        reader.read(99_999_999_999_999_999)


def test_an_endless_line_is_refused(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    reader = SocketReader(ours, b"", max_line=1000, max_literal=100)
    theirs.sendall(b"x" * 5000)
    with pytest.raises(ReplyTooLarge, match="longer than 1000"):
        reader.readline()


@pytest.mark.parametrize("partial", [b"", b"* 3 EXI"])
def test_eof_in_a_line(pair: tuple[socket.socket, socket.socket], partial: bytes) -> None:
    ours, theirs = pair
    reader = SocketReader(ours, b"", max_line=100, max_literal=100)
    theirs.sendall(partial)
    theirs.shutdown(socket.SHUT_WR)
    with pytest.raises(imaplib.IMAP4.abort, match="EOF"):
        reader.readline()


def test_eof_in_a_literal(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    reader = SocketReader(ours, b"", max_line=100, max_literal=100)
    theirs.sendall(b"only ten b")
    theirs.shutdown(socket.SHUT_WR)
    with pytest.raises(imaplib.IMAP4.abort, match="middle of a literal"):
        reader.read(50)


def test_a_silent_server_times_out(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, _ = pair
    ours.settimeout(0.05)
    reader = SocketReader(ours, b"", max_line=100, max_literal=100)
    with pytest.raises(TimeoutError):
        reader.readline()
