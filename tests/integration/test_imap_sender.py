"""A From whose name holds a control character or an unquoted "[" keeps its address over
IMAP, against the lab's real Dovecot (whose ENVELOPE loses it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.test_imap_store import Lab, lab  # noqa: F401 - the fixture, by name
from tests.lab.dovecot import LabDovecot

pytestmark = pytest.mark.lab


def test_a_sender_keeps_its_address_whatever_its_name_holds(
    lab: Lab,  # noqa: F811 - the fixture
    lab_maildir: Path,
    dovecot: LabDovecot,
) -> None:
    senders = [b"Evil \x1b[31m <evil@example.org>", b"Jane [ACME] <jane@acme.org>"]
    for number, sender in enumerate(senders):
        path = lab_maildir / "new" / f"{1700000000 + number}.sender{number}.pinesh"
        path.write_bytes(b"From: " + sender + b"\nSubject: hello\n\nbody\n")
        os.chown(path, dovecot.user.uid, dovecot.user.gid)
    folder = lab.store().open("INBOX")
    envelopes = folder.envelopes(folder.uids())
    found = {(a.name, a.email) for e in envelopes for a in e.sender}
    assert found == {("Evil \x1b[31m", "evil@example.org"), ("Jane [ACME]", "jane@acme.org")}
