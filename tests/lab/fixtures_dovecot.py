"""Pytest fixtures of the lab's Dovecot: the daemon (password IMAP) and preauth IMAP over ssh."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab.common import LabError, LabUser, lab_failure, make_lab_dir
from tests.lab.dovecot import LabDovecot, prepare_preauth, reset_maildir, start_dovecot


@pytest.fixture(scope="session")
def dovecot(lab_user: LabUser) -> Iterator[LabDovecot]:
    """The lab's Dovecot daemon, with the system set up for preauth IMAP over ssh too."""
    try:
        prepare_preauth(lab_user)
        lab = start_dovecot(lab_user, make_lab_dir("dovecot"))
    except LabError as exc:
        lab_failure(exc)
        raise
    yield lab
    lab.stop()


@pytest.fixture
def lab_maildir(lab_user: LabUser) -> Path:
    """The lab user's ~/Maildir, emptied for this test (cur/new/tmp, owned by the lab user)."""
    try:
        return reset_maildir(lab_user)
    except OSError as exc:
        lab_failure(LabError(f"reset {lab_user.maildir}: {exc}"))
        raise
