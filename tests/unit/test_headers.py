"""An envelope read from a message's header block."""

from __future__ import annotations

from pinesh.stores.headers import envelope_from_headers


def test_a_charset_name_with_a_nul_is_text_not_a_failed_window() -> None:
    header = b"From: a@b.example\r\nSubject: =?ut\x00f-8?q?hello?=\r\n\r\n"
    envelope = envelope_from_headers(1, header, len(header), frozenset())
    assert "hello" in envelope.subject
