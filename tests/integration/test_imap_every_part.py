"""No part is lost over IMAP: CPython's email corpus and the hostile corpus in the lab's
real Dovecot, read through BODYSTRUCTURE and BODY.PEEK[part]: every part is shown in the
text or listed as an attachment, and the text shown is the local parse's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pinesh.services.reading import read_message, shown_parts
from pinesh.stores.base import Part, StoreError
from tests.integration.test_imap_store import Lab, lab  # noqa: F401 - the fixture, by name
from tests.lab.dovecot import LabDovecot
from tests.unit.test_reading_parts import MESSAGES, _entries, _read

pytestmark = pytest.mark.lab
MARK = b"X-Pinesh-Corpus: "
REFUSED = {"deep-nesting.eml"}  # a structure nested deeper than the IMAP reader follows
# Broken MIME that Dovecot's BODYSTRUCTURE and pinesh's parser divide into other parts.
STRUCTURED_OTHERWISE = {"msg_14.txt", "msg_15.txt", "msg_33.txt", "msg_39.txt"}


def _put(maildir: Path, dovecot: LabDovecot) -> None:
    """Each corpus message as a new message, a header naming it put first (the MIME
    structure below it is unchanged)."""
    for number, path in enumerate(MESSAGES):
        target = maildir / "new" / f"{1700000000 + number}.corpus{number}.pinesh"
        target.write_bytes(MARK + path.name.encode() + b"\n" + path.read_bytes())
        os.chown(target, dovecot.user.uid, dovecot.user.gid)


def _ids(parts: list[Part]) -> list[str]:
    return [p.part_id for p in parts]


def test_every_part_of_the_corpus_is_shown_or_listed_over_imap(
    lab: Lab,  # noqa: F811 - the fixture
    lab_maildir: Path,
    dovecot: LabDovecot,
) -> None:
    _put(lab_maildir, dovecot)
    folder = lab.store().open("INBOX")
    uids = folder.uids()
    assert len(uids) == len(MESSAGES)
    differing: list[str] = []
    structured_otherwise: set[str] = set()
    for uid in uids:
        source = b"".join(folder.fetch_part(uid, ""))
        name = source.split(b"\n", 1)[0].removeprefix(MARK).strip().decode()
        if name in REFUSED:
            # Deeper than the BODYSTRUCTURE reader follows: refused with a clear error
            # (docs/security.md), as the local parser reads it.
            with pytest.raises(StoreError, match="nested deeper than 64"):
                folder.structure(uid)
            continue
        structure = folder.structure(uid)
        readable = read_message(folder, uid)
        shown = set(_ids(shown_parts(structure)))
        listed = [a.part_id for a in readable.attachments]
        assert not shown & set(listed), name
        for entry in _entries(structure):
            assert entry.part_id in shown or entry.part_id in listed, (entry.part_id, name)
        # The same text as read locally from the same bytes where Dovecot's BODYSTRUCTURE
        # and pinesh's parser agree on the parts shown. Where they do not (broken MIME:
        # Dovecot reads these otherwise), every part was still shown or listed, above.
        local_structure, local = _read(source)
        if _ids(shown_parts(local_structure)) != _ids(shown_parts(structure)):
            structured_otherwise.add(name)
        elif " ".join(local.text.split()) != " ".join(readable.text.split()):
            differing.append(f"{name}: {local.text[:60]!r} here, {readable.text[:60]!r} over IMAP")
    assert differing == [], differing
    assert structured_otherwise == STRUCTURED_OTHERWISE
    # A spot check that the BODY[part] path delivers a later part: msg_21's "Two".
    uid = next(u for u in uids if b"msg_21.txt" in b"".join(folder.fetch_part(u, ""))[:60])
    assert "Two" in read_message(folder, uid).text
