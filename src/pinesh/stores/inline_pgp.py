"""Inline PGP in a text part (RFC 4880 7, the armour of section 6.2): where a clear-signed
block (``-----BEGIN PGP SIGNED MESSAGE-----`` to ``-----END PGP SIGNATURE-----``) or an
encrypted one (``-----BEGIN PGP MESSAGE-----`` to ``-----END PGP MESSAGE-----``) lies in
the part's bytes. Pure: the blocks are found, never checked here.

A marker counts only at the start of a line, as gpg reads it; text around the blocks is
the part's own and is shown as not signed.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

MAX_BLOCKS = 20  # blocks checked in one part; more are left as text


class BlockKind(enum.Enum):
    CLEARSIGNED = "clear-signed"
    ENCRYPTED = "encrypted"


@dataclass(frozen=True)
class ArmourBlock:
    """One armoured block: its kind and its span [start, end) in the part's bytes (end
    after the closing marker's line end)."""

    kind: BlockKind
    start: int
    end: int


# Every armour line that matters, at a line's start; one pass over them finds the blocks.
_MARKER = re.compile(
    rb"^-----(BEGIN PGP SIGNED MESSAGE|BEGIN PGP MESSAGE|BEGIN PGP SIGNATURE|"
    rb"END PGP SIGNATURE|END PGP MESSAGE)-----[ \t]*(?:\r?\n|\r?$)",
    re.MULTILINE,
)
MAX_MARKERS = 10_000  # armour lines looked at in one part; more are left as text


def armour_blocks(data: bytes) -> list[ArmourBlock]:
    """The whole armoured blocks in data, in order, found in one pass over its armour
    lines (time linear in data, whatever lines a message repeats). A block that never
    ends, or a clear-signed one with no signature, is not one: it stays text. A BEGIN
    inside a block starts the block again there: a forged first BEGIN holds nothing."""
    blocks: list[ArmourBlock] = []
    kind: BlockKind | None = None
    start = 0
    signature_seen = False
    for count, marker in enumerate(_MARKER.finditer(data)):
        if count >= MAX_MARKERS or len(blocks) >= MAX_BLOCKS:
            break
        word = marker[1]
        if word in (b"BEGIN PGP SIGNED MESSAGE", b"BEGIN PGP MESSAGE"):
            signed = word == b"BEGIN PGP SIGNED MESSAGE"
            kind = BlockKind.CLEARSIGNED if signed else BlockKind.ENCRYPTED
            start, signature_seen = marker.start(), False
        elif kind is BlockKind.CLEARSIGNED and word == b"BEGIN PGP SIGNATURE":
            signature_seen = True
        elif kind is BlockKind.CLEARSIGNED and word == b"END PGP SIGNATURE":
            if signature_seen:
                blocks.append(ArmourBlock(kind, start, marker.end()))
            kind = None
        elif kind is BlockKind.ENCRYPTED and word == b"END PGP MESSAGE":
            blocks.append(ArmourBlock(kind, start, marker.end()))
            kind = None
    return blocks


def only_block(data: bytes) -> ArmourBlock | None:
    """The one block when data is nothing else (blank lines aside): the only shape of
    inline encryption pinesh decrypts, so no decrypted text can sit beside other text."""
    blocks = armour_blocks(data)
    if len(blocks) != 1:
        return None
    block = blocks[0]
    if data[: block.start].strip() or data[block.end :].strip():
        return None
    return block
