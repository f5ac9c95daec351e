"""An NNTP reader session over a Channel: NntpClient, and the errors it raises.

NntpClient runs the commands over a Channel's socket, parses the replies with protocol.py,
and turns every failure into an NntpError (a StoreError) that names the server and says
what to do.

Why not the standard library's nntplib: it is deprecated since Python 3.11 and removed
in 3.13 (PEP 594); it also insists on connecting and reading the greeting itself, while a
Channel arrives connected (over ssh, TLS or plain TCP) with the greeting already read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from pinesh.stores.base import StoreError
from pinesh.stores.nntp.protocol import (
    DEFAULT_OVERVIEW,
    MAX_BLOCK,
    MAX_LINE,
    MAX_STATUS_LINE,
    ActiveGroup,
    BadArgument,
    BadReply,
    GroupInfo,
    Overview,
    Reply,
    command_line,
    dot_stuff,
    parse_active,
    parse_group,
    parse_numbers,
    parse_over,
    parse_overview_fmt,
    parse_status,
    password_command,
    take_line,
    unstuff,
)
from pinesh.textsafe import safe_line
from pinesh.transport.channel import Channel


class NntpError(StoreError):
    """A news server refused, failed, or said something that is not NNTP."""


class ConnectionLost(NntpError):  # noqa: N818 - reads better at call sites
    """The connection is gone (closed, timed out, or left mid-reply); open a new one."""

    def __init__(self, message: str, *, reason: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason
        self.safe_to_retry = True  # False once a POST's article was (perhaps) sent


RECONNECT = "the connection is closed; open the group again (pinesh reconnects)"
BROKEN = "the server's reply was malformed; try again, or tell the server's admin"


class NntpClient:
    """One reader session over a Channel whose greeting was already read.

    Sends MODE READER first (innd hands readers to nnrpd only then). Logs in with
    AUTHINFO USER/PASS only when the server asks (480), and only over a channel that
    allows a password (ssh or TLS). Not thread-safe; ``selected`` is the current group.
    """

    def __init__(
        self,
        channel: Channel,
        *,
        label: str,
        user: str | None = None,
        password: Callable[[], str] | None = None,
        timeout: float = 60.0,
        max_block: int = MAX_BLOCK,
    ) -> None:
        self.channel = channel
        self.label = safe_line(label)
        self.user = user
        self._password = password
        self.timeout = timeout
        self.max_block = max_block
        self.posting_allowed = channel.greeting.posting_allowed
        self.selected: str | None = None
        self.broken = False
        self._buffer = bytearray()
        self._at = 0
        self._over_verb: str | None = "OVER"
        self._overview_fmt: tuple[str, ...] | None = None
        channel.sock.settimeout(timeout)

    # errors

    def error(self, what: str, hint: str | None = None) -> NntpError:
        return NntpError(f"news server {self.label}: {what}", hint=hint)

    def unexpected(self, what: str, reply: Reply) -> NntpError:
        return self.error(f"{what} failed: {reply.describe()}", BROKEN)

    def _lost(self, what: str) -> ConnectionLost:
        self.broken = True
        return ConnectionLost(f"news server {self.label}: {what}", reason=what, hint=RECONNECT)

    # bytes

    def _send(self, data: bytes) -> None:
        if self.broken:
            raise self._lost("the connection was lost earlier")
        try:
            self.channel.sock.sendall(data)
        except OSError as exc:
            raise self._lost(f"sending failed: {exc.strerror or exc}") from exc

    def _fill(self) -> None:
        try:
            chunk = self.channel.sock.recv(65536)
        except TimeoutError as exc:
            raise self._lost(f"no answer within {self.timeout:.0f} s") from exc
        except OSError as exc:
            raise self._lost(f"reading failed: {exc.strerror or exc}") from exc
        if not chunk:
            raise self._lost("the server closed the connection")
        if self._at > 65536:
            del self._buffer[: self._at]
            self._at = 0
        self._buffer += chunk

    def _line(self, limit: int) -> bytes:
        while True:
            try:
                taken = take_line(self._buffer, self._at, limit)
            except BadReply as exc:
                self.broken = True
                raise self.error(str(exc), BROKEN) from exc
            if taken is not None:
                line, self._at = taken
                return line
            self._fill()

    def status(self) -> Reply:
        """The next status line."""
        try:
            reply = parse_status(self._line(MAX_STATUS_LINE))
        except BadReply as exc:
            self.broken = True
            raise self.error(str(exc), BROKEN) from exc
        if reply.code == 400:
            raise self._lost(f"the server ended the session: {reply.text}")
        return reply

    def block(self) -> list[bytes]:
        """The lines of a multi-line reply, dot-stuffing undone."""
        lines: list[bytes] = []
        total = 0
        while True:
            try:
                content = unstuff(self._line(MAX_LINE))
            except ConnectionLost as exc:
                why = f"{exc.reason}, in the middle of a reply (before its final '.')"
                raise self._lost(why) from exc
            if content is None:
                return lines
            total += len(content) + 2
            if total > self.max_block:
                self.broken = True
                raise self.error(f"a reply larger than {self.max_block >> 20} MiB", BROKEN)
            lines.append(content)

    # commands

    def command(self, verb: str, *args: str | int, login: bool = True) -> Reply:
        """Send one command and read its status line (logging in first if asked to: 480)."""
        try:
            line = command_line(verb, *args)
        except BadArgument as exc:
            raise self.error(str(exc), "check the name") from exc
        return self.send_line(line, login=login)

    def send_line(self, line: bytes, *, login: bool = True) -> Reply:
        self._send(line)
        reply = self.status()
        if reply.code == 480 and login:
            self.login()
            self._send(line)
            reply = self.status()
        if reply.code == 483:
            raise self.error(
                f"the server requires an encrypted connection: {reply.text}",
                'reach it over ssh (a [[rule]] with login) or TLS (fallback = ["tls"])',
            )
        return reply

    def login(self) -> None:
        """AUTHINFO USER/PASS (RFC 4643), only over a channel that may carry a password."""
        if not self.channel.allows_password:
            raise self.error(
                f"it asks for a password, but the connection ({self.channel.describe()}) is "
                "not encrypted, and pinesh sends no password over it",
                'reach it over ssh (a [[rule]] with login) or TLS (fallback = ["tls"])',
            )
        if not self.user:
            raise self.error(
                "it asks for a login, but no user is set",
                "name the user: {news.example.org/nntp/user=NAME}",
            )
        reply = self.command("AUTHINFO", "USER", self.user, login=False)
        if reply.code == 381:
            if self._password is None:
                raise self.error("it asks for a password, but none was given")
            try:
                line = password_command(self._password())
            except BadArgument as exc:
                raise self.error(str(exc), "check the password") from exc
            reply = self.send_line(line, login=False)
        if reply.code == 281:
            return
        if reply.code == 481:
            raise self.error(f"login refused: {reply.text}", "check the user and password")
        raise self.unexpected("login", reply)

    def start(self) -> None:
        """MODE READER; a server that does not know it (500, 501) is a reader already."""
        reply = self.command("MODE", "READER")
        if reply.code in (200, 201):
            self.posting_allowed = reply.code == 200
        elif reply.code == 502:
            raise self.error(f"it refuses readers: {reply.text}", "ask the server's admin")
        elif reply.code not in (500, 501):
            raise self.unexpected("MODE READER", reply)

    def _no_group(self, group: str, reply: Reply) -> NntpError:
        if reply.code == 411:
            return self.error(
                f"no newsgroup {safe_line(group)!r} here",
                "check the name in the list of groups",
            )
        return self.unexpected(f"GROUP {safe_line(group)}", reply)

    def group(self, group: str) -> GroupInfo:
        """GROUP: select a group, with its estimated count and water marks."""
        reply = self.command("GROUP", group)
        if reply.code != 211:
            raise self._no_group(group, reply)
        try:
            info = parse_group(reply)
        except BadReply as exc:
            raise self.error(str(exc), BROKEN) from exc
        self.selected = group
        return info

    def listgroup(self, group: str) -> list[int] | None:
        """LISTGROUP: every article number of group (None if the server lacks it)."""
        reply = self.command("LISTGROUP", group)
        if reply.code in (500, 501):
            return None
        if reply.code != 211:
            raise self._no_group(group, reply)
        numbers = parse_numbers(self.block())
        self.selected = group
        return numbers

    def overview_fmt(self) -> tuple[str, ...]:
        if self._overview_fmt is None:
            reply = self.command("LIST", "OVERVIEW.FMT")
            lines = self.block() if reply.code == 215 else []
            self._overview_fmt = parse_overview_fmt(lines) if lines else DEFAULT_OVERVIEW
        return self._overview_fmt

    def over(self, low: int, high: int) -> list[Overview] | None:
        """OVER (else XOVER) low-high in the selected group; None if neither is offered."""
        fmt = self.overview_fmt()
        while self._over_verb is not None:
            reply = self.command(self._over_verb, f"{low}-{high}")
            if reply.code == 224:
                parsed = (parse_over(line, fmt) for line in self.block())
                return [o for o in parsed if o is not None and low <= o.number <= high]
            if reply.code in (420, 423):
                return []
            if reply.code not in (500, 501):
                raise self.unexpected(f"{self._over_verb} {low}-{high}", reply)
            self._over_verb = "XOVER" if self._over_verb == "OVER" else None
        return None

    def fetch(self, verb: str, article: int) -> bytes | None:
        """ARTICLE, HEAD or BODY of a number in the selected group (None: no such article)."""
        reply = self.command(verb, article)
        if reply.code in (220, 221, 222):
            lines = self.block()
            return b"\r\n".join(lines) + b"\r\n" if lines else b""
        if reply.code in (423, 430):
            return None
        raise self.unexpected(f"{verb} {article}", reply)

    def list_active(self, pattern: str) -> list[ActiveGroup]:
        """LIST ACTIVE wildmat: the groups, with their water marks and posting status."""
        reply = self.command("LIST", "ACTIVE", pattern)
        if reply.code == 501 and pattern != "*":  # an old server: no wildmat argument
            reply = self.command("LIST", "ACTIVE")
        if reply.code != 215:
            raise self.unexpected("LIST ACTIVE", reply)
        return [g for g in (parse_active(line) for line in self.block()) if g is not None]

    def post(self, article: bytes) -> Reply:
        """POST an article; the 240 reply (NntpError for 440, 441 and the rest)."""
        if not self.posting_allowed:
            raise self.error(
                "it does not allow posting (it said so when we connected)",
                "post through another news server, or ask its admin",
            )
        reply = self.command("POST")
        if reply.code == 440:
            raise self.error(f"posting is not allowed: {reply.text}", "ask the server's admin")
        if reply.code != 340:
            raise self.unexpected("POST", reply)
        try:
            self._send(dot_stuff(article))
            done = self.status()
        except ConnectionLost as exc:
            exc.safe_to_retry = False  # the article may have arrived: never post it twice
            raise
        if done.code == 240:
            return done
        if done.code == 441:
            raise self.error(
                f"the article was refused: {done.text}", "fix the article and post it again"
            )
        raise self.unexpected("posting the article", done)

    def quit(self) -> None:
        """QUIT (if the connection still works) and close the channel."""
        if not self.broken:
            with contextlib.suppress(NntpError):
                self._send(b"QUIT\r\n")
                self.status()
        self.broken = True
        self.channel.close()
