"""An envelope read from a message's header block."""

from __future__ import annotations

from pinesh.stores.headers import envelope_from_headers


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
