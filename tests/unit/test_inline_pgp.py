"""Finding inline PGP blocks in a text part's bytes: literal transcripts, broken and
hostile ones among them."""

from __future__ import annotations

from pinesh.stores.inline_pgp import (
    MAX_BLOCKS,
    MAX_MARKERS,
    BlockKind,
    armour_blocks,
    only_block,
)

CLEARSIGNED = (
    b"-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA512\r\n\r\nI agree.\r\n"
    b"-----BEGIN PGP SIGNATURE-----\r\n\r\niHUEARYKAB0WIQ==\r\n=abcd\r\n"
    b"-----END PGP SIGNATURE-----\r\n"
)
ENCRYPTED = (
    b"-----BEGIN PGP MESSAGE-----\n\nhF4DHRqEcjhJ0ikSAQdA\n=wxyz\n-----END PGP MESSAGE-----\n"
)


def test_blocks_are_found_with_their_spans_and_the_text_around_left() -> None:
    data = b"Hi,\r\n" + CLEARSIGNED + b"PS\r\n" + ENCRYPTED
    signed, encrypted = armour_blocks(data)
    assert signed.kind is BlockKind.CLEARSIGNED and encrypted.kind is BlockKind.ENCRYPTED
    assert data[signed.start : signed.end] == CLEARSIGNED
    assert data[encrypted.start : encrypted.end] == ENCRYPTED


def test_a_marker_not_at_a_lines_start_is_not_a_block() -> None:
    assert armour_blocks(b"quoted: " + ENCRYPTED) == []
    assert armour_blocks(b"> " + CLEARSIGNED.replace(b"\r\n", b"\r\n> ")) == []


def test_a_block_that_never_ends_or_has_no_signature_stays_text() -> None:
    assert armour_blocks(ENCRYPTED.replace(b"-----END PGP MESSAGE-----\n", b"")) == []
    no_signature = (
        b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA1\n\nx\n-----END PGP SIGNATURE-----\n"
    )
    assert armour_blocks(no_signature) == []


def test_a_forged_begin_before_the_real_block_starts_nothing() -> None:
    data = b"-----BEGIN PGP MESSAGE-----\nforged\n" + ENCRYPTED
    (block,) = armour_blocks(data)
    assert data[block.start : block.end] == ENCRYPTED


def test_only_a_part_that_is_one_block_is_one_block() -> None:
    assert only_block(b"\r\n\r\n" + ENCRYPTED + b"\n\n") is not None
    assert only_block(b"Look:\n" + ENCRYPTED) is None
    assert only_block(ENCRYPTED + ENCRYPTED) is None
    assert only_block(b"") is None


def test_a_part_of_many_blocks_is_bounded() -> None:
    assert len(armour_blocks(ENCRYPTED * (MAX_BLOCKS * 50))) == MAX_BLOCKS


def test_many_begin_lines_with_no_signature_are_one_pass_and_no_block() -> None:
    # Each BEGIN used to send a search for its END and signature through the rest of
    # the part: quadratic, hours for 4 MB. Now one pass over the armour lines.
    hostile = b"-----BEGIN PGP SIGNED MESSAGE-----\n" * 100_000 + b"-----END PGP SIGNATURE-----\n"
    assert armour_blocks(hostile) == []
    forged = b"-----BEGIN PGP MESSAGE-----\n" * 5_000 + ENCRYPTED
    (block,) = armour_blocks(forged)  # each BEGIN starts it again: the last one holds
    assert forged[block.start : block.end] == ENCRYPTED
    assert armour_blocks(b"-----BEGIN PGP MESSAGE-----\n" * MAX_MARKERS + ENCRYPTED) == []
