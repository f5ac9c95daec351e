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


_BEGIN = re.compile(rb"^-----BEGIN PGP (SIGNED MESSAGE|MESSAGE)-----[ \t]*\r?$", re.MULTILINE)
_ENDS = {
    BlockKind.CLEARSIGNED: re.compile(
        rb"^-----END PGP SIGNATURE-----[ \t]*(\r?\n|$)", re.MULTILINE
    ),
    BlockKind.ENCRYPTED: re.compile(rb"^-----END PGP MESSAGE-----[ \t]*(\r?\n|$)", re.MULTILINE),
}
# A clear-signed block holds its signature's armour: the signed text must come first.
_SIGNATURE_BEGIN = re.compile(rb"^-----BEGIN PGP SIGNATURE-----[ \t]*\r?$", re.MULTILINE)


def armour_blocks(data: bytes) -> list[ArmourBlock]:
    """The whole armoured blocks in data, in order. A block that never ends (or a
    clear-signed one with no signature) is not one: it stays text."""
    blocks: list[ArmourBlock] = []
    position = 0
    while len(blocks) < MAX_BLOCKS:
        begin = _BEGIN.search(data, position)
        if begin is None:
            break
        kind = BlockKind.CLEARSIGNED if begin[1] == b"SIGNED MESSAGE" else BlockKind.ENCRYPTED
        end = _ENDS[kind].search(data, begin.end())
        if end is None:
            break
        if kind is BlockKind.CLEARSIGNED and not _SIGNATURE_BEGIN.search(
            data, begin.end(), end.start()
        ):
            position = begin.end()
            continue
        # A BEGIN inside what would be this block starts the real one (a forged first).
        inner = _BEGIN.search(data, begin.end(), end.start())
        if inner is not None and kind is BlockKind.ENCRYPTED:
            position = inner.start()
            continue
        blocks.append(ArmourBlock(kind, begin.start(), end.end()))
        position = end.end()
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
