"""Family 3: NNTP replies and commands (stores/nntp/protocol.py).

Allowed errors: BadReply from the reply parsers, BadArgument from the command builders.
Invariants: a built command is one line (one CRLF, at its end; no NUL); a reply's text
and shown() are safe for the terminal; dot_stuff() read back line by line with
unstuff() gives the article (line ends as CRLF) and ends at the final "."; an overview's
header block is one header per line; a LIST ACTIVE name passes valid_group_name.
"""

from __future__ import annotations

from pinesh.stores.nntp.protocol import (
    DEFAULT_OVERVIEW,
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
    shown,
    take_line,
    unstuff,
    valid_group_name,
)
from tests.fuzz.common import SEP, check, check_safe, pick, text_of

SEEDS = [
    b"\x00211 3 1 3 local.test\r\n",
    b"\x00211 99999999999999999999 1 3 x\r\n",
    b"\x00480 authentication required\r\n",
    b"\x00200 \x1b[2Jhi\r\n",
    b"\x01.line\r\n..dot\r\n.\r\nrest",
    b"\x01" + b"x" * 100,
    b"\x02local.test 0000000003 0000000001 y\nbad\ncomp.lang.python 12 1 m\n",
    b"\x02x 1 2 =other.group\n\xff\xfe 1 2 y\n",
    b"\x033\tRe: hi\tA <a@b>\tMon, 1 Jan 2024 10:00:00 +0000\t<m@x>\t<r@x>\t1234\t20"
    b"\tXref: news.example.org local.test:3 other:7",
    b"\x03Subject:\nFrom:\nDate:\nMessage-ID:\nReferences:\n:bytes\n:lines\nXref:full"
    + SEP
    + b"5\ts\r\nInjected: x\tf\td\t<i>\t\t10\t1\tXref: h g:1",
    b"\x04Newsgroups: local.test\r\nSubject: x\r\n\r\n.hidden\r\n.\r\nbody\rbare\n",
    b"\x05GROUP" + SEP + b"local.test" + SEP + b"12",
    b"\x05GROUP" + SEP + b"local.test\r\nPOST",
    b"\x06secret with spaces",
    b"\x06bad\r\nQUIT",
]


def _one_line(line: bytes, what: str) -> None:
    check(line.endswith(b"\r\n"), f"{what} does not end with CRLF")
    body = line[:-2]
    check(not any(b in body for b in b"\r\n\0"), f"{what} holds CR, LF or NUL: {line[:60]!r}")


def _read_back(stuffed: bytes) -> bytes:
    """The article a dot-stuffed block carries, as a reader takes it off the wire."""
    out: list[bytes] = []
    start = 0
    while True:
        taken = take_line(stuffed, start, len(stuffed) + 1)
        check(taken is not None, "dot_stuff() output does not end with a line end")
        assert taken is not None
        line, start = taken
        plain = unstuff(line)
        if plain is None:
            check(start == len(stuffed), "dot_stuff() output holds a '.' line before its end")
            return b"".join(l + b"\r\n" for l in out)  # noqa: E741
        out.append(plain)


def TestOneInput(data: bytes) -> None:  # noqa: N802 - the name fuzzing engines call
    which, rest = pick(data, 7)
    try:
        if which == 0:
            reply = parse_status(rest)
            check_safe(reply.text, "a status line's text")
            check_safe(reply.describe(), "a status line described")
            if reply.code == 211:
                info = parse_group(reply)
                check(min(info.count, info.low, info.high) >= 0, "a negative group number")
        elif which == 1:
            start = 0
            while (taken := take_line(rest, start, 64)) is not None:
                line, start = taken
                check(b"\n" not in line, "take_line() returned a line with LF in it")
                unstuff(line)
            parse_numbers(rest.split(b"\n"))
            check_safe(shown(rest), "shown()")
        elif which == 2:
            for line in rest.split(b"\n"):
                group = parse_active(line)
                if group is not None:
                    check(valid_group_name(group.name), f"LIST ACTIVE gave {group.name!r}")
                    check_safe(group.status, "a group's status")
        elif which == 3:
            fmt_lines, _, over_line = rest.rpartition(SEP)
            fmt = parse_overview_fmt(fmt_lines.split(b"\n")) if fmt_lines else DEFAULT_OVERVIEW
            over = parse_over(over_line, fmt)
            if over is not None:
                block = overview_headers(over)
                check(block.endswith(b"\r\n"), "an overview's headers do not end the block")
                lines = block[:-2].split(b"\r\n")
                check(all(b"\n" not in l and b"\r" not in l for l in lines), "stray CR/LF")  # noqa: E741
                check(over.size >= 0 and number(b"%d" % over.number) is not None, "a number")
        elif which == 4:
            stuffed = dot_stuff(rest)
            expected = rest.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if expected and not expected.endswith(b"\n"):
                expected += b"\n"
            expected = expected.replace(b"\n", b"\r\n") if expected else b"\r\n"
            check(_read_back(stuffed) == expected, "dot_stuff() does not read back")
        elif which == 5:
            verb, *args = [text_of(p) for p in rest.split(SEP)]
            if verb.isascii() and verb.isalpha():
                _one_line(command_line(verb.upper(), *args), "command_line()")
        else:
            _one_line(password_command(text_of(rest)), "password_command()")
    except (BadReply, BadArgument):
        pass
