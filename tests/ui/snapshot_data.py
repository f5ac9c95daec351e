"""Fixed data for the snapshot tests: the same paths, messages and settings every run.

Snapshots show paths and dates, so everything lives under one fixed directory, HOME
points into it, and the time zone is UTC.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import time
from collections.abc import Iterator
from datetime import datetime, tzinfo
from pathlib import Path

import pytest

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.services.connections import Connections
from pinesh.services.mail import MailSession
from tests.lab.maildir_fill import fill_maildir

ROOT = Path("/tmp/pinesh-snapshots")
HOSTILE = Path(__file__).parent.parent / "corpus" / "hostile" / "escape-sequences.eml"
# An HTML newsletter, a digest and a multi-part message, in that order, in an mbox outside
# ~/mail (the folder list's snapshot does not change): READING_BOX.
READING = Path(__file__).parent.parent / "corpus" / "reading"
READING_MESSAGES = ("newsletter.eml", "digest.eml", "multipart.eml")
READING_BOX = ROOT / "home" / "reading"

PINERC = """\
personal-name=Jane Snapshot
user-domain=snapshot.test
inbox-path=#md/{home}/Maildir
folder-collections=Mail mail/[]
default-fcc=sent-mail
sendmail-path=/bin/false
address-book=.addressbook
"""

ADDRESSBOOK = (
    "bob\tBob Example\tbob@example.org\t\tfriend\n"
    "team\tThe Team\t(bob@example.org,carol@example.org)\t\t\n"
)

MBOX = b"From carol@example.org Mon Jan  1 00:00:00 2024\nFrom: carol@example.org\n" + (
    b"Subject: kept\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nkept\n\n"
)


class FixedClock(datetime):
    """datetime whose now() is 2026-11-24 12:00 UTC: the index shows dates relative to now."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> FixedClock:
        return cls(2026, 11, 24, 12, 0, tzinfo=tz)


@contextlib.contextmanager
def fixed_root() -> Iterator[None]:
    """Hold ROOT for one test: two pytest runs on one machine would remove each other's."""
    with open(f"{ROOT}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def fixed_session(monkeypatch: pytest.MonkeyPatch) -> MailSession:
    """A session over a fixed Maildir INBOX (12 messages and one hostile) and ~/mail."""
    shutil.rmtree(ROOT, ignore_errors=True)
    home = ROOT / "home"
    maildir = home / "Maildir"
    fill_maildir(maildir, 12, seed=3)
    shutil.copy(HOSTILE, maildir / "cur" / "1700000000.hostile.pinesh:2,S")
    mail = home / "mail"
    mail.mkdir(parents=True)
    (mail / "saved-messages").write_bytes(MBOX)
    (mail / "sent-mail").write_bytes(b"")
    (home / ".addressbook").write_text(ADDRESSBOOK)
    READING_BOX.write_bytes(
        b"".join(
            b"From sender@example.org Mon Nov 23 00:00:00 2026\n"
            + (READING / name).read_bytes()
            + b"\n"
            for name in READING_MESSAGES
        )
    )
    rc_path = home / ".pinerc"
    rc_path.write_text(PINERC.format(home=home))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("XDG_STATE_HOME", str(ROOT / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(ROOT / "data"))
    time.tzset()
    monkeypatch.setattr("pinesh.ui.index_list.datetime", FixedClock)
    rc = parse_pinerc(rc_path.read_text(), str(rc_path))
    monkeypatch.chdir(home)  # undone after the test: the next one removes ROOT
    return MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=ROOT / "data")
