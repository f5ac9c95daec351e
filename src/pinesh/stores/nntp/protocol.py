"""NNTP (RFC 3977) for readers: pure parsers of the server's bytes, and a small client.

The parsers (status lines, multi-line blocks with dot-stuffing, OVER/XOVER lines, LIST
ACTIVE lines, command lines) touch no socket, so each is tested on literal transcripts,
hostile and broken ones included; a reply they cannot read raises BadReply. NntpClient
runs the commands over a Channel's socket and turns every failure into an NntpError (a
StoreError) that names the server and says what to do.

Why not the standard library's nntplib: it is deprecated since Python 3.11 and removed
in 3.13 (PEP 594); it also insists on connecting and reading the greeting itself, while a
Channel arrives connected (over ssh, TLS or plain TCP) with the greeting already read.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from pinesh.stores.base import StoreError
from pinesh.textsafe import safe_line
from pinesh.transport.channel import Channel

MAX_STATUS_LINE = 2048  # RFC 3977 says 512; some servers say more in the text
MAX_LINE = 1 << 20  # one line of a multi-line block (articles may have very long lines)
MAX_ARTICLE = 2**63 - 1
MAX_COMMAND = 512  # RFC 3977 3.1, CRLF included
MAX_BLOCK = 64 << 20  # one multi-line reply (an article, LIST ACTIVE of a big server)

_DIGITS = re.compile(rb"[0-9]{1,19}")


class BadReply(Exception):  # noqa: N818 - it is a reply, not an error of ours
    """The server said something that is not NNTP; the text says what."""


def shown(data: bytes, limit: int = 120) -> str:
    """Server bytes as one safe line for an error message, bounded."""
    text = safe_line(data.decode("utf-8", "replace"))
    return text if len(text) <= limit else text[:limit] + "..."


def number(data: bytes) -> int | None:
    """An article number or count: ASCII digits only, up to 2**63 - 1; else None."""
    data = data.strip(b" ")
    if not _DIGITS.fullmatch(data):
        return None
    value = int(data)
    return value if value <= MAX_ARTICLE else None


# --- lines and blocks ---------------------------------------------------------------------


def take_line(buffer: bytes | bytearray, start: int, limit: int) -> tuple[bytes, int] | None:
    """The line in buffer at start (without CRLF or a bare LF) and where the next begins.

    None when no line end has arrived yet; BadReply when the line is already over limit.
    """
    end = buffer.find(b"\n", start, start + limit + 1)
    if end < 0:
        if len(buffer) - start > limit:
            raise BadReply(f"a line longer than {limit} bytes")
        return None
    line = bytes(buffer[start:end])
    return line.removesuffix(b"\r"), end + 1


def unstuff(line: bytes) -> bytes | None:
    """A line of a multi-line block with its dot-stuffing undone; None for the final '.'."""
    if line == b".":
        return None
    return line[1:] if line.startswith(b".") else line


def dot_stuff(article: bytes) -> bytes:
    """An article as sent after POST: CRLF line ends, leading dots doubled, '.' to end."""
    text = article.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if text.endswith(b"\n"):
        text = text[:-1]
    lines = [b"." + line if line.startswith(b".") else line for line in text.split(b"\n")]
    return b"\r\n".join(lines) + b"\r\n.\r\n"


# --- status lines -------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """A status line: the code, and what follows it (raw: arguments are parsed from it)."""

    code: int
    rest: bytes

    @property
    def text(self) -> str:
        """The server's words, safe to show."""
        return shown(self.rest, 200)

    def words(self) -> list[bytes]:
        return self.rest.split()

    def describe(self) -> str:
        return f"{self.code} {self.text}".rstrip()


def parse_status(line: bytes) -> Reply:
    """A status line ('211 3 1 3 local.test', CRLF optional)."""
    line = line.removesuffix(b"\n").removesuffix(b"\r")
    if len(line) > MAX_STATUS_LINE:
        raise BadReply(f"a status line longer than {MAX_STATUS_LINE} bytes")
    if any(b in line for b in (b"\0", b"\r", b"\n")):
        raise BadReply(f"a status line with stray control bytes: {shown(line)!r}")
    code, sep, rest = line[:3], line[3:4], line[4:]
    if len(code) < 3 or not code.isdigit() or sep not in (b" ", b"") or code[:1] not in b"12345":
        raise BadReply(f"not an NNTP status line: {shown(line)!r}")
    return Reply(int(code), rest)


@dataclass(frozen=True)
class GroupInfo:
    """A GROUP (or LISTGROUP) reply: estimated count, low and high water marks."""

    name: str
    count: int
    low: int
    high: int

    @property
    def empty(self) -> bool:
        return self.count == 0 or self.high < self.low


def parse_group(reply: Reply) -> GroupInfo:
    """'211 count low high group'."""
    words = reply.words()
    if reply.code != 211 or len(words) < 4:
        raise BadReply(f"not a GROUP reply: {reply.describe()!r}")
    count, low, high = (number(w) for w in words[:3])
    if count is None or low is None or high is None:
        raise BadReply(f"a GROUP reply with bad numbers: {reply.describe()!r}")
    return GroupInfo(words[3].decode("utf-8", "replace"), count, low, high)


def parse_numbers(lines: list[bytes]) -> list[int]:
    """LISTGROUP's article numbers, sorted; lines that are not numbers are skipped."""
    return sorted({n for n in (number(line) for line in lines) if n is not None and n > 0})


# --- LIST ACTIVE ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ActiveGroup:
    """A LIST ACTIVE line: 'group high low status' (status y, n, m, x, j, =other.group)."""

    name: str
    high: int
    low: int
    status: str


def valid_group_name(name: str) -> bool:
    """Whether a newsgroup name is safe to use in commands, files and on screen."""
    return (
        0 < len(name) <= 400
        and not any(ch.isspace() or ch in ",:!*?[]\\" for ch in name)
        and safe_line(name) == name
    )


def parse_active(line: bytes) -> ActiveGroup | None:
    """One LIST ACTIVE line, or None when it is not one (such lines are skipped)."""
    words = line.split()
    if len(words) != 4:
        return None
    try:
        name = words[0].decode("utf-8")
    except UnicodeDecodeError:
        return None
    high, low = number(words[1]), number(words[2])
    if high is None or low is None or not valid_group_name(name):
        return None
    return ActiveGroup(name, high, low, shown(words[3], 60))


# --- OVER / XOVER --------------------------------------------------------------------------

DEFAULT_OVERVIEW = ("subject", "from", "date", "message-id", "references", "bytes", "lines")


def parse_overview_fmt(lines: list[bytes]) -> tuple[str, ...]:
    """LIST OVERVIEW.FMT as field names ('Subject:' -> 'subject', ':bytes' -> 'bytes').

    A list that does not start with the seven standard fields is not trusted: the
    standard order is used.
    """
    names = []
    for line in lines:
        name = line.decode("ascii", "replace").strip().lower().removesuffix(":full")
        names.append(name.strip(":"))
    return tuple(names) if tuple(names[:7]) == DEFAULT_OVERVIEW else DEFAULT_OVERVIEW


@dataclass(frozen=True)
class Overview:
    """One OVER line: the article number and its fields (lowercase names, raw values)."""

    number: int
    fields: dict[str, bytes]

    @property
    def size(self) -> int:
        return number(self.fields.get("bytes", b"")) or 0

    def newsgroups(self) -> list[bytes]:
        """The groups of the Xref field ('host group:1 other:7'), if the server gives it."""
        words = self.fields.get("xref", b"").split()[1:]
        return [w.rpartition(b":")[0] for w in words if b":" in w]


def parse_over(line: bytes, fmt: tuple[str, ...] = DEFAULT_OVERVIEW) -> Overview | None:
    """One OVER/XOVER line, or None if its article number is not a number.

    Missing fields are empty; fields past the seventh are 'Name: value' (their name is
    dropped). Bad Bytes are 0.
    """
    parts = line.split(b"\t")
    article = number(parts[0])
    if article is None or article == 0:
        return None
    fields: dict[str, bytes] = {}
    for i, name in enumerate(fmt):
        value = parts[i + 1] if i + 1 < len(parts) else b""
        if i >= 7:
            head, colon, tail = value.partition(b":")
            if colon and head.strip().lower() == name.encode("ascii", "replace"):
                value = tail
        fields[name] = value.strip(b" ")
    return Overview(article, fields)


_HEADER_OF = {
    "subject": b"Subject",
    "from": b"From",
    "date": b"Date",
    "message-id": b"Message-ID",
    "references": b"References",
}


def _header_value(value: bytes) -> bytes:
    """A value that cannot break the header block (no NUL, CR or LF)."""
    return value.replace(b"\0", b" ").replace(b"\r", b" ").replace(b"\n", b" ").strip()


def overview_headers(over: Overview) -> bytes:
    """The header block an overview line stands for (for headers.envelope_from_headers)."""
    out = [
        name + b": " + _header_value(over.fields[key]) + b"\r\n"
        for key, name in _HEADER_OF.items()
        if over.fields.get(key)
    ]
    groups = over.newsgroups()
    if groups:
        out.append(b"Newsgroups: " + _header_value(b",".join(groups)) + b"\r\n")
    return b"".join(out) + b"\r\n"


# --- commands ------------------------------------------------------------------------------


class BadArgument(ValueError):  # noqa: N818 - an argument, refused
    """A command argument that would break the command line (space, CR, LF, NUL)."""


def command_line(verb: str, *args: str | int) -> bytes:
    """A command line: 'GROUP local.test' -> b'GROUP local.test\\r\\n'.

    An argument holding white space or control characters could smuggle a second command
    in: it is refused.
    """
    words = [verb]
    for arg in args:
        text = str(arg)
        if not text or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
            raise BadArgument(f"{verb}: argument {safe_line(text)!r} holds spaces or controls")
        words.append(text)
    line = " ".join(words).encode("utf-8") + b"\r\n"
    if len(line) > MAX_COMMAND:
        raise BadArgument(f"{verb}: the command is longer than {MAX_COMMAND} bytes")
    return line


def password_command(password: str) -> bytes:
    """AUTHINFO PASS: the rest of the line is the password (spaces allowed, not CR/LF/NUL)."""
    if not password or any(ch in "\r\n\0" for ch in password):
        raise BadArgument("the password is empty or holds a line break or NUL")
    return b"AUTHINFO PASS " + password.encode("utf-8") + b"\r\n"


def wildmat(pattern: str) -> str:
    """A folder pattern ('*' any depth, '%' one level) as a wildmat for LIST ACTIVE.

    Wildmat has no one-level wildcard: '%' becomes '*' and the caller filters with
    pattern_matches.
    """
    return pattern.replace("%", "*") or "*"


def pattern_matches(pattern: str, name: str) -> bool:
    """Whether a group name matches a folder pattern ('%' stops at dots)."""
    regex = "".join(
        ".*" if ch == "*" else "[^.]*" if ch == "%" else re.escape(ch) for ch in pattern
    )
    return re.fullmatch(regex, name, re.IGNORECASE) is not None


# --- the client ----------------------------------------------------------------------------


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
