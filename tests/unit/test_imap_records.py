"""Literal IMAP response bytes in the shape imaplib hands them to IMAPClient's parsers
(helpers for the other test_imap_* modules, and their own tests)."""

from __future__ import annotations

import re
from typing import Any

from imapclient.response_parser import (  # type: ignore[import-untyped]
    parse_fetch_response,
    parse_response,
)

_LITERAL = re.compile(rb"\{(\d+)\}\r\n")

Record = bytes | tuple[bytes, bytes]


def records(raw: bytes) -> list[Record]:
    """The data of one untagged response ('* ' and its name removed, as imaplib does):
    each part that ends in a literal becomes (text ending in {N}, literal)."""
    out: list[Record] = []
    while True:
        found = _LITERAL.search(raw)
        if found is None:
            out.append(raw.removesuffix(b"\r\n"))
            return out
        size, end = int(found[1]), found.end()
        out.append((raw[: found.end() - 2], raw[end : end + size]))
        raw = raw[end + size :]


def fetch(raw: bytes) -> dict[int, dict[bytes, Any]]:
    """A FETCH response line ('* 12 FETCH (...)') parsed as IMAPClient parses it."""
    body = raw.removeprefix(b"* ")
    seq, name, rest = body.split(b" ", 2)
    assert name == b"FETCH"
    return dict(parse_fetch_response(records(seq + b" " + rest), False, True))


def parsed(raw: bytes) -> tuple[Any, ...]:
    """Any response data (e.g. a THREAD line without '* THREAD ') as IMAPClient parses it."""
    return tuple(parse_response(records(raw)))


def test_records_split_literals_as_imaplib_does() -> None:
    raw = b"1 (UID 1 BODY[1] {5}\r\nhello FLAGS (\\Seen) BODY[2] {0}\r\n)\r\n"
    assert records(raw) == [
        (b"1 (UID 1 BODY[1] {5}", b"hello"),
        (b" FLAGS (\\Seen) BODY[2] {0}", b""),
        b")",
    ]


def test_fetch_parses_a_literal_line() -> None:
    reply = fetch(b"* 3 FETCH (UID 9 BODY[1] {5}\r\nhello RFC822.SIZE 12)\r\n")
    assert reply == {9: {b"SEQ": 3, b"BODY[1]": b"hello", b"RFC822.SIZE": 12}}
