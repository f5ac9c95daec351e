"""The folder list of a real Dovecot whose Maildir++ puts "." between levels: a folder
inside another whose parent was never made a mailbox lists no phantom parent entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinesh.services.folders import FolderService
from pinesh.services.mail import open_session
from tests.integration.helpers import short_dir
from tests.integration.test_pinerc_master import pinerc_alone
from tests.lab.dovecot import LabDovecot
from tests.lab.maildir_fill import fill_maildir
from tests.lab.sshd import LabSshd

pytestmark = pytest.mark.lab


def test_a_folder_inside_a_parent_that_is_no_mailbox_lists_without_a_phantom(
    sshd: LabSshd, dovecot: LabDovecot, lab_maildir: Path
) -> None:
    fill_maildir(lab_maildir, 1, seed=41, owner=dovecot.user)
    fill_maildir(lab_maildir, 2, seed=42, folder="Projekte.Entwurf", owner=dovecot.user)
    with short_dir() as work:
        config, pinerc = pinerc_alone(sshd, work)
        session = open_session(str(config), str(pinerc))
        session.data_dir = work / "data"
        try:
            folders = FolderService(session)
            [mail] = folders.collections()
            listing = folders.listing(mail)
        finally:
            session.close()
    assert listing.error is None, listing.error
    shown = [(entry.display, entry.selectable) for entry in listing.entries]
    assert ("Projekte.Entwurf", True) in shown
    assert not any(
        display.startswith("Projekte") and not selectable for display, selectable in shown
    )
