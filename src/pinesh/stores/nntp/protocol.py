"""NNTP (RFC 3977) wire syntax for readers: pure parsers of the server's bytes.

The parsers (status lines, lines of multi-line blocks with dot-stuffing, OVER/XOVER
lines, LIST ACTIVE lines) and the command-line builders touch no socket, so each is
tested on literal transcripts, hostile and broken ones included; a reply they cannot read
raises BadReply. The connection that uses them is client.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pinesh.textsafe import safe_line

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
    line = _utf8(" ".join(words), f"{verb}: an argument") + b"\r\n"
    if len(line) > MAX_COMMAND:
        raise BadArgument(f"{verb}: the command is longer than {MAX_COMMAND} bytes")
    return line


def password_command(password: str) -> bytes:
    """AUTHINFO PASS: the rest of the line is the password (spaces allowed, not CR/LF/NUL)."""
    if not password or any(ch in "\r\n\0" for ch in password):
        raise BadArgument("the password is empty or holds a line break or NUL")
    return b"AUTHINFO PASS " + _utf8(password, "the password") + b"\r\n"


def _utf8(text: str, what: str) -> bytes:
    """text as UTF-8; BadArgument when it holds lone surrogates (undecodable file bytes)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadArgument(f"{what} is not UTF-8 text") from None


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
