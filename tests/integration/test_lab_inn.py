"""The lab's INN: lists the lab groups, takes posts and serves them, directly and over ssh."""

from __future__ import annotations

import contextlib
import socket
import uuid

import pytest

from tests.lab.fixtures_mail_news import SshChannel
from tests.lab.inn import LabInn

pytestmark = pytest.mark.lab


class Nntp:
    """A minimal NNTP reader over a connected socket (nntplib is deprecated, then gone)."""

    def __init__(self, sock: socket.socket) -> None:
        sock.settimeout(20)
        self.sock = sock
        self.replies = sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self) -> str:
        line = self.replies.readline()
        if not line:
            raise ConnectionError("the news server closed the connection")
        return line.decode("utf-8", errors="replace").rstrip("\r\n")

    def command(self, line: str) -> str:
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def lines(self) -> list[str]:
        """The rest of a multi-line reply, dot-unstuffed."""
        result = []
        while (line := self.reply()) != ".":
            result.append(line[1:] if line.startswith("..") else line)
        return result

    def reader(self) -> Nntp:
        """Switch to reader mode: innd hands the connection to nnrpd."""
        reply = self.command("MODE READER")
        assert reply.startswith("200"), reply
        return self

    def post(self, article: str) -> str:
        reply = self.command("POST")
        assert reply.startswith("340"), reply
        body = article.replace("\r\n.", "\r\n..")
        self.sock.sendall(body.encode() + b".\r\n")
        return self.reply()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.command("QUIT")
        self.replies.close()
        self.sock.close()


def connect(inn: LabInn) -> Nntp:
    return Nntp(socket.create_connection((inn.host, inn.port), timeout=20))


def article(group: str, message_id: str) -> str:
    return (
        f"From: Lab <pineshlab@pinesh.test>\r\nNewsgroups: {group}\r\n"
        f"Subject: lab {message_id}\r\nMessage-ID: {message_id}\r\n\r\n"
        "a line\r\n.starts with a dot\r\n"
    )


def new_message_id() -> str:
    return f"<lab-{uuid.uuid4().hex}@pinesh.test>"


def test_readers_switch_from_transit_mode(inn: LabInn) -> None:
    news = connect(inn)
    try:
        # localhost is Debian's feed peer ME: innd greets it in transit mode.
        assert news.greeting.startswith("200"), news.greeting
        assert "NNRP" in news.command("MODE READER")
    finally:
        news.close()


def test_list_shows_the_lab_groups(inn: LabInn) -> None:
    news = connect(inn).reader()
    try:
        assert news.command("LIST ACTIVE").startswith("215")
        active = {line.split()[0]: line.split()[3] for line in news.lines()}
    finally:
        news.close()
    for group in inn.groups:
        assert active.get(group) == "y", f"{group} missing or not postable: {active}"


def test_post_then_stat_and_article(inn: LabInn) -> None:
    message_id = new_message_id()
    news = connect(inn).reader()
    try:
        reply = news.post(article("local.test", message_id))
        assert reply.startswith("240"), f"{reply}\n{inn.log_text()}"
        assert news.command(f"STAT {message_id}").startswith("223")
        assert news.command(f"ARTICLE {message_id}").startswith("220")
        text = news.lines()
        assert f"Message-ID: {message_id}" in text
        assert ".starts with a dot" in text
        group = news.command("GROUP local.test").split()
        assert group[0] == "211"
        assert news.command(f"STAT {group[3]}").split()[2] == message_id
    finally:
        news.close()


def test_post_and_read_over_an_ssh_channel(inn: LabInn, ssh_channel: SshChannel) -> None:
    message_id = new_message_id()
    news = Nntp(ssh_channel(inn.host, inn.port)).reader()
    try:
        reply = news.post(article("local.other", message_id))
        assert reply.startswith("240"), f"{reply}\n{inn.log_text()}"
        assert news.command(f"STAT {message_id}").startswith("223")
        assert news.command(f"ARTICLE {message_id}").startswith("220")
        assert f"Message-ID: {message_id}" in news.lines()
    finally:
        news.close()
    direct = connect(inn).reader()
    try:
        assert direct.command(f"STAT {message_id}").startswith("223")
    finally:
        direct.close()
