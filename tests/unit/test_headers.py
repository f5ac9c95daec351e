"""An envelope read from a message's header block."""

from __future__ import annotations

import pytest

from pinesh.stores.headers import envelope_from_headers, header_addresses, parse_header_block


def test_a_charset_name_with_a_nul_is_text_not_a_failed_window() -> None:
    header = b"From: a@b.example\r\nSubject: =?ut\x00f-8?q?hello?=\r\n\r\n"
    envelope = envelope_from_headers(1, header, len(header), frozenset())
    assert "hello" in envelope.subject


def test_an_escape_written_in_a_header_stays_six_characters() -> None:
    # raw-unicode-escape, as an encoded word's charset and as decode_header's own return
    # for the text between encoded words, made \u001b an ESC.
    header = (
        b"From: =?raw-unicode-escape?q?\\u001b=5B1mBoss?= <a@b.example>\r\n"
        b"Subject: =?utf-8?q?caf=C3=A9?= \\u001b[2J \\u65e5 =?unicode-escape?q?\\x1b[31m?=\r\n"
        b"\r\n"
    )
    envelope = envelope_from_headers(1, header, len(header), frozenset())
    # \u65e5 is how decode_header itself returns a character above U+00FF: undone
    assert envelope.subject == "café \\u001b[2J 日 \\x1b[31m"
    assert envelope.sender[0].name == "\\u001b[1mBoss"
    assert "\x1b" not in envelope.subject + envelope.sender[0].name


def test_a_punycode_subject_is_not_run(punycode_runs: list[int]) -> None:
    word = b"=?punycode?q?" + b"a" * 60_000 + b"-b?="
    header = b"From: =?punycode?q?x-y?= <a@b.example>\r\nSubject: " + word + b"\r\n\r\n"
    envelope = envelope_from_headers(1, header, len(header), frozenset())
    assert envelope.subject == "a" * 60_000 + "-b"
    assert envelope.sender[0].name == "x-y"
    assert punycode_runs == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # a control character and an unquoted "[" in the name: the stdlib's parsers lose
        # the address (getaddresses gives ("", "Evil") and ("31m", ...)).
        (b"From: Evil \x1b[31m <evil@example.org>\r\n", [("Evil \x1b[31m", "evil@example.org")]),
        (b"From: Evil\x1b]0;x\x07 <evil@example.org>\r\n",
         [("Evil\x1b]0;x\x07", "evil@example.org")]),
        (b"From: Jane [ACME] <jane@acme.org>, bob@x.org\r\n",
         [("Jane [ACME]", "jane@acme.org"), ("", "bob@x.org")]),
        (b'From: "Doe, John" <j@d.org>, "q\\"x" <q@x.org>\r\n',
         [("Doe, John", "j@d.org"), ('q"x', "q@x.org")]),
        (b"From: =?utf-8?q?J=C3=B6rg?= <j@x.de> (at work)\r\n", [("Jörg", "j@x.de")]),
        (b"From: Team: Jane <j@x.org>, Bob <b@x.org>;\r\n",
         [("Jane", "j@x.org"), ("Bob", "b@x.org")]),
        (b"From: plain@x.org\r\n", [("", "plain@x.org")]),
        (b"From: <only@x.org>\r\n", [("", "only@x.org")]),
        (b"From: undisclosed-recipients:;\r\n", [("undisclosed-recipients:;", "")]),
        (b"From: <<<>>>,,,\r\n", None),  # hostile: anything, but no exception
    ],
)  # fmt: skip
def test_an_address_keeps_its_mailbox_whatever_its_name_holds(
    raw: bytes, expected: list[tuple[str, str]] | None
) -> None:
    found = header_addresses(parse_header_block(raw + b"\r\n"), "From")
    if expected is not None:
        assert [(a.name, a.email) for a in found] == expected


def test_chosen_headers_in_the_order_named_decoded_and_unfolded() -> None:
    from pinesh.stores.headers import chosen_headers

    data = (
        b"Received: from x\r\n"
        b"From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\r\n"
        b"X-Mailer: Mutt\r\n 2.2\r\n"
        b"Subject: caf\xc3\xa9 \x1b[2J\r\n"
        b"Comments: one\r\nComments: two\r\n"
        b"\r\nbody\r\n"
    )
    assert chosen_headers(data, ["subject", "X-Mailer", "From", "Comments", "Organization"]) == [
        ("Subject", "café \x1b[2J"),  # the screen neutralises the escape
        ("X-Mailer", "Mutt 2.2"),
        ("From", "Jürgen <j@example.org>"),
        ("Comments", "one"),
        ("Comments", "two"),
    ]


def test_chosen_headers_of_a_broken_block_never_raise() -> None:
    from pinesh.stores.headers import chosen_headers

    for data in (b"", b"\xff\xfe\r\n", b"X-Mailer\r\n", b": no name\r\nX-Mailer: =?x?q?\r\n"):
        assert isinstance(chosen_headers(data, ["X-Mailer"]), list)


def test_a_decrypted_entity_is_read_under_the_envelope_it_came_in() -> None:
    from pinesh.stores.headers import with_content_of

    outer = (
        b"From: Jane <jane@example.org>\nSubject: sealed\n"
        b'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";\n'
        b' boundary="e"\nMIME-Version: 1.0\n\nciphertext\n'
    )
    entity = (
        b"Content-Type: text/plain; charset=utf-8\r\nFrom: Mallory <m@evil.example>\r\n"
        b"Reply-To: m@evil.example\r\nContent-Transfer-Encoding: 8bit\r\n\r\nhello\r\n"
    )
    joined = with_content_of(outer, entity)
    assert joined == (
        b"From: Jane <jane@example.org>\nSubject: sealed\nMIME-Version: 1.0\n"
        b"Content-Type: text/plain; charset=utf-8\n"
        b"Content-Transfer-Encoding: 8bit\n\nhello\r\n"
    )
