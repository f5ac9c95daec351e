"""A message read with what protects it: its signature checked, its encryption undone,
and its text cut into frames, each saying what is known of its stretch of text.

What is shown follows EFAIL and "Johnny, you're fired" (USENIX Security 2019):
- Only a whole message's protection counts: a top-level multipart/signed or encrypted
  message (PGP/MIME, S/MIME), or one text part that is inline PGP. A signed or encrypted
  part deeper inside is listed with the attachments and not checked, so no signed or
  decrypted text ever sits beside text that is not, looking like one with it.
- Inline PGP is decrypted only when the message is one text part holding one block
  and nothing else. A clear-signed block is shown as gpg gives back the text it checked,
  framed; the text around it stays outside the frame.
- A frame's words come from gpg's status lines, never from the message (the message
  view draws them in reverse video, which no message text can).
- Decrypted text is kept in memory only, and nothing remote is ever fetched for it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from pinesh.services.decryption import Decryption, decrypt
from pinesh.services.reading import (
    MAX_TEXT,
    Readable,
    decode_text,
    read_message,
    read_source,
    read_up_to,
)
from pinesh.services.signatures import (
    SMIME_SIGNATURES,
    SignatureReport,
    check_clearsigned,
    check_opaque_smime,
    check_signed,
    with_emails,
)
from pinesh.stores.base import Address, Folder, Part
from pinesh.stores.gpg_status import DecryptionStatus, Verdict
from pinesh.stores.inline_pgp import ArmourBlock, BlockKind, armour_blocks, only_block
from pinesh.stores.mime_structure import mime_structure, part_content
from pinesh.stores.signed_parts import PKCS7_MIME

PGP_ENCRYPTED = "application/pgp-encrypted"
MAX_SEALED = 64 * 1024 * 1024  # bytes of an encrypted or signed-data body read
EFAIL_RULE = (
    "only a message that is one encrypted block is decrypted, so that no decrypted text "
    "sits beside text that was not encrypted"
)


class FrameKind(enum.Enum):
    PLAIN = "plain"  # the message's own text: nothing is known of who wrote it
    SIGNED = "signed"
    DECRYPTED = "decrypted"
    NOT_DECRYPTED = "not decrypted"


@dataclass(frozen=True)
class Frame:
    """One stretch of the shown text, and what pinesh found of it."""

    kind: FrameKind
    text: str
    scheme: str = ""  # "PGP/MIME", "inline PGP", "S/MIME"
    signature: SignatureReport | None = None
    decryption: DecryptionStatus | None = None

    def opening(self, sender: Sequence[Address]) -> str | None:
        """The line above the stretch (None: plain text has none). Not yet made safe."""
        said = self.said(sender)
        if said is None:
            return None
        lead = {
            FrameKind.SIGNED: "Signed text begins",
            FrameKind.DECRYPTED: "Decrypted text begins",
        }
        return f"{lead[self.kind]} {said}" if self.kind in lead else f"Encrypted text {said}"

    def said(self, sender: Sequence[Address]) -> str | None:
        """What is known of the stretch: "(PGP/MIME). Signature good by ...", or for
        encrypted text not decrypted "(PGP/MIME), not decrypted: why"; None for plain."""
        signed = self.signature.describe(sender) if self.signature else ""
        if self.kind is FrameKind.SIGNED:
            return f"({self.scheme}). {signed}"
        if self.kind is FrameKind.DECRYPTED:
            status = self.decryption
            words = f"({self.scheme}"
            if status and status.recipients:
                words += f", encrypted to {', '.join(status.recipients)}"
            words += "). " + (signed or "Not signed: who wrote it is not known")
            if status and not status.integrity:
                words += "; S/MIME has no integrity check: it may have been changed on the way"
            return words
        if self.kind is FrameKind.NOT_DECRYPTED:
            why = self.decryption.explain() if self.decryption else EFAIL_RULE
            return f"({self.scheme}), not decrypted: {why}"
        return None

    def closing(self) -> str | None:
        """The line below the stretch."""
        return {
            FrameKind.SIGNED: "Signed text ends",
            FrameKind.DECRYPTED: "Decrypted text ends",
            FrameKind.NOT_DECRYPTED: "Encrypted text ends",
        }.get(self.kind)


@dataclass(frozen=True)
class ProtectedMessage:
    """A message made readable, with its frames (their texts joined are readable.text)
    and, when it was decrypted, the decrypted message whose parts the attachments name."""

    readable: Readable
    frames: tuple[Frame, ...]
    source: bytes | None = None

    @property
    def signature(self) -> SignatureReport | None:
        """The signature to report for the whole message: the first that is not good,
        else the first (a script reading `signature` must not see "good" for a message
        whose second signed block is bad); None when nothing was signed."""
        reports = [frame.signature for frame in self.frames if frame.signature]
        bad = (report for report in reports if report.verdict is not Verdict.GOOD)
        return next(bad, reports[0] if reports else None)

    @property
    def decryption(self) -> DecryptionStatus | None:
        return next((f.decryption for f in self.frames if f.decryption), None)

    @property
    def needs_passphrase(self) -> bool:
        status = self.decryption
        return bool(status and (status.needs_passphrase or status.bad_passphrase))

    def summary(self, sender: Sequence[Address]) -> str:
        """One line of what protects the message, for a header block (where no text of
        the message can stand at a line's start): each frame's opening, or none."""
        names = {FrameKind.NOT_DECRYPTED: "encrypted"}
        said = [
            f"{names.get(frame.kind, frame.kind.value)} {words}"
            for frame in self.frames
            if (words := frame.said(sender)) is not None
        ]
        return "; ".join(said) or "none (nothing in this message is signed or encrypted)"

    def as_json(self) -> dict[str, object]:
        """What `pinesh show --json` says of the protection: the message's signature (see
        signature), the decryption, and each framed stretch as offsets into the text."""
        status = self.decryption
        spans = []
        offset = 0
        for frame in self.frames:
            if frame.kind is not FrameKind.PLAIN:
                spans.append(
                    {
                        "kind": frame.kind.value,
                        "scheme": frame.scheme,
                        "start": offset,
                        "end": offset + len(frame.text),
                        "signature": frame.signature.as_json() if frame.signature else None,
                    }
                )
            offset += len(frame.text)
        encryption = None
        if status is not None:
            encryption = {
                "decrypted": status.okay,
                "recipients": list(status.recipients),
                "decrypted_with": status.decrypted_with or None,
                "integrity_checked": status.integrity,
                "not_decrypted": None if status.okay else status.explain(),
            }
        signature = self.signature
        return {
            "signature": signature.as_json() if signature else None,
            "encryption": encryption,
            "protected_text": spans,
        }


def read_protected(
    folder: Folder,
    uid: int,
    *,
    prefer_plain: bool = True,
    passphrase: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ProtectedMessage:
    """The message read, checked and decrypted (a locked key: needs_passphrase says so,
    and the caller asks and calls again with passphrase)."""
    structure = folder.structure(uid)
    kind = structure.content_type
    if kind == "multipart/encrypted" and structure.params.get("protocol", "").lower() == (
        PGP_ENCRYPTED
    ):
        payload, _ = read_up_to(folder.fetch_part(uid, "2"), MAX_SEALED)
        return _decrypted(payload, "PGP/MIME", False, prefer_plain, passphrase, environ)
    if kind in PKCS7_MIME and not structure.children:
        payload, _ = read_up_to(folder.fetch_part(uid, "1"), MAX_SEALED)
        if structure.params.get("smime-type", "").lower() == "signed-data":
            return _opaque_signed(payload, prefer_plain, environ)
        return _decrypted(payload, "S/MIME", True, prefer_plain, passphrase, environ)
    if kind == "multipart/signed":
        signed = _signed(folder.fetch_message(uid), prefer_plain, environ)
        if signed is not None:
            return signed
    readable = read_message(folder, uid, prefer_plain=prefer_plain)
    first = _part(structure, readable.text_part)
    if (
        first is not None
        and first.content_type == "text/plain"
        and "-----BEGIN PGP" in readable.text
    ):
        data, _ = read_up_to(folder.fetch_part(uid, first.part_id), MAX_TEXT)
        only = not structure.children
        return _inline(readable, data, first.charset, only, passphrase, environ)
    return ProtectedMessage(readable, (Frame(FrameKind.PLAIN, readable.text),))


def _decrypted(
    payload: bytes,
    scheme: str,
    cms: bool,
    prefer_plain: bool,
    passphrase: str | None,
    environ: Mapping[str, str] | None,
) -> ProtectedMessage:
    """A whole encrypted message decrypted, its inner message read and its signature (in
    the encryption, or a signed message inside) checked; or why not."""
    done = decrypt(payload, cms=cms, passphrase=passphrase, environ=environ)
    if done.plaintext is None:
        return _not_decrypted(done, scheme)
    inner = done.plaintext
    signed = _signed(inner, prefer_plain, environ)
    if signed is None and cms and _is_opaque_signed(inner):
        signed = _opaque_signed(_smime_body(inner), prefer_plain, environ)
    if signed is not None:  # a signed message inside: shown as its signature covers it
        frame = Frame(
            FrameKind.DECRYPTED, signed.readable.text, scheme, signed.signature, done.status
        )
        return ProtectedMessage(signed.readable, (frame,), signed.source)
    readable = read_source(inner, prefer_plain=prefer_plain)
    report = _inside_report(done, cms, environ)  # signed and encrypted in one
    frame = Frame(FrameKind.DECRYPTED, readable.text, scheme, report, done.status)
    return ProtectedMessage(readable, (frame,), inner)


def _signed(
    raw: bytes, prefer_plain: bool, environ: Mapping[str, str] | None
) -> ProtectedMessage | None:
    """A multipart/signed message checked, and shown as its signature covers it: read
    from the bytes gpg checked (the first part), never from the message around them, so
    no part added beside the signed one can pass for signed. None when raw is not one."""
    checked = check_signed(raw, environ)
    if checked is None:
        return None
    report, parts = checked
    scheme = "S/MIME" if parts.protocol in SMIME_SIGNATURES else "PGP/MIME"
    readable = read_source(parts.signed, prefer_plain=prefer_plain)
    if parts.extra_parts:
        extra = "parts after the signature are not signed, and are not shown"
        readable = replace(readable, note="; ".join(filter(None, (readable.note, extra))))
    frame = Frame(FrameKind.SIGNED, readable.text, scheme, report)
    return ProtectedMessage(readable, (frame,), parts.signed)


def _inside_report(
    done: Decryption, cms: bool, environ: Mapping[str, str] | None
) -> SignatureReport | None:
    """The signatures gpg checked while it decrypted (signed and encrypted in one)."""
    checks = with_emails(done.signatures, cms, environ)
    return SignatureReport(checks) if checks else None


def _not_decrypted(done: Decryption, scheme: str) -> ProtectedMessage:
    readable = Readable("", None, (), None)
    return ProtectedMessage(
        readable, (Frame(FrameKind.NOT_DECRYPTED, "", scheme, None, done.status),)
    )


def _opaque_signed(
    payload: bytes, prefer_plain: bool, environ: Mapping[str, str] | None
) -> ProtectedMessage:
    """An S/MIME signed-data message (the text inside the signature): gpgsm checks it and
    gives back the message it signs, which is what is shown."""
    report, inner = check_opaque_smime(payload, environ)
    if inner is None:
        readable = Readable("", None, (), "the signed message could not be read from its signature")
        return ProtectedMessage(readable, (Frame(FrameKind.SIGNED, "", "S/MIME", report),))
    readable = read_source(inner, prefer_plain=prefer_plain)
    return ProtectedMessage(
        readable, (Frame(FrameKind.SIGNED, readable.text, "S/MIME", report),), inner
    )


def _inline(
    readable: Readable,
    data: bytes,
    charset: str | None,
    only_part: bool,
    passphrase: str | None,
    environ: Mapping[str, str] | None,
) -> ProtectedMessage:
    """The first text part's inline PGP blocks checked (clear-signed) or decrypted (a
    message that is one encrypted block), the text around them plain."""
    blocks = armour_blocks(data)
    if not blocks:
        return ProtectedMessage(readable, (Frame(FrameKind.PLAIN, readable.text),))
    whole = decode_text(data, charset)
    rest = readable.text[len(whole) :] if readable.text.startswith(whole) else ""
    alone = only_block(data) if only_part else None
    if alone is not None and alone.kind is BlockKind.ENCRYPTED:
        done = decrypt(data[alone.start : alone.end], passphrase=passphrase, environ=environ)
        if done.plaintext is None:
            return _not_decrypted(done, "inline PGP")
        text = decode_text(done.plaintext, charset)
        report = _inside_report(done, False, environ)
        frame = Frame(FrameKind.DECRYPTED, text, "inline PGP", report, done.status)
        # As a text part, for a reply to quote: the one thing the message held.
        label = (charset or "utf-8").encode("ascii", "replace")
        source = b"Content-Type: text/plain; charset=" + label + b"\r\n\r\n" + done.plaintext
        return ProtectedMessage(Readable(text, "1", ()), (frame,), source)
    frames: list[Frame] = []
    position = 0
    for block in blocks:
        if block.start > position:
            frames.append(
                Frame(FrameKind.PLAIN, decode_text(data[position : block.start], charset))
            )
        frames.append(_inline_frame(data, block, charset, environ))
        position = block.end
    frames.append(Frame(FrameKind.PLAIN, decode_text(data[position:], charset) + rest))
    frames = [f for f in frames if f.text or f.kind is not FrameKind.PLAIN]
    text = "".join(f.text for f in frames)
    return ProtectedMessage(
        Readable(text, readable.text_part, readable.attachments, readable.note), tuple(frames)
    )


def _inline_frame(
    data: bytes, block: ArmourBlock, charset: str | None, environ: Mapping[str, str] | None
) -> Frame:
    armour = data[block.start : block.end]
    if block.kind is BlockKind.ENCRYPTED:
        return Frame(FrameKind.NOT_DECRYPTED, decode_text(armour, charset), "inline PGP")
    report, signed = check_clearsigned(armour, environ)
    if signed is None:  # not checked: the block is shown as it came, in the frame
        return Frame(FrameKind.SIGNED, decode_text(armour, charset), "inline PGP", report)
    text = decode_text(signed, charset)
    return Frame(
        FrameKind.SIGNED, text if text.endswith("\n") else text + "\n", "inline PGP", report
    )


def _part(structure: Part, part_id: str | None) -> Part | None:
    return next((p for p in structure.walk() if p.part_id == part_id), None) if part_id else None


def _is_opaque_signed(inner: bytes) -> bool:
    part = mime_structure(inner)
    return part.content_type in PKCS7_MIME and part.params.get("smime-type", "") == "signed-data"


def _smime_body(inner: bytes) -> bytes:
    return b"".join(part_content(inner, "1") or ())
