"""Defects a review found in the stores, senders and CLI, each pinned by a test."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

import pytest

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.senders.compose import ComposeError, parse_addresses
from pinesh.services.connections import Connections
from pinesh.services.mail import MailSession
from pinesh.services.reading import decode_text
from pinesh.stores.imap.convert import _aware
from pinesh.stores.local.mbox_store import MboxStore
from pinesh.stores.mime_structure import _codec
from tests.lab.maildir_fill import fill_maildir


@pytest.mark.parametrize("charset", ["undefined", "idna", "punycode", "x-bogus"])
def test_a_charset_whose_codec_cannot_replace_decodes_anyway(charset: str) -> None:
    assert decode_text(b"caf\xc3\xa9 \xff", charset).startswith("caf")
    assert _codec(charset) in ("utf-8", charset)
    b"x\xff".decode(_codec(charset), "replace")  # what the callers do must not raise


class _AbsurdZone(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=99, minutes=59)  # "+9959": out of datetime's range

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "absurd"


def test_a_hostile_date_zone_from_imap_is_no_date_not_a_crash() -> None:
    assert _aware(datetime(2024, 1, 1, 10, tzinfo=_AbsurdZone())) is None


def test_a_planted_journal_does_not_overwrite_the_mailbox(tmp_path: Path) -> None:
    box = tmp_path / "victim"
    box.write_bytes(b"From a@b Mon Jan  1 00:00:00 2024\nSubject: important\n\nkeep me\n\n")
    info = os.stat(box)
    evil = b"From x@y Mon Jan  1 00:00:00 2024\nSubject: replaced\n\npwned\n\n"
    header = f"{info.st_dev} {info.st_ino} 0 {info.st_size} {len(evil)} {'0' * 64} -\n"
    journal = tmp_path / ".victim.pinesh-journal"
    journal.write_bytes(
        b"PINESH-MBOX-JOURNAL 1\n"
        + header.encode()
        + evil
        + b"END "
        + hashlib.sha256(evil).hexdigest().encode()
        + b"\n"
    )
    journal.chmod(0o666)  # writable by others: not one we wrote
    with MboxStore(tmp_path).open("victim") as folder:
        subjects = [e.subject for e in folder.envelopes(folder.uids())]
    assert subjects == ["important"]
    assert b"keep me" in box.read_bytes()


def test_addresses_the_stdlib_parser_trips_on_are_a_clear_error() -> None:
    with pytest.raises(ComposeError, match="cannot read the addresses"):
        parse_addresses(".g:é<?=;", "To")


def test_two_maildirs_under_one_parent_are_two_stores(tmp_path: Path) -> None:
    fill_maildir(tmp_path / "work", 2, seed=1)
    fill_maildir(tmp_path / "home", 3, seed=2)
    rc = parse_pinerc("", str(tmp_path / "pinerc"))
    session = MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp_path)
    with session.open_folder(f"#md/{tmp_path / 'work'}") as work:
        assert work.status().count == 2
    with session.open_folder(f"#md/{tmp_path / 'home'}") as home:
        assert home.status().count == 3


def test_a_terminal_that_cannot_show_a_character_gets_an_escape(tmp_path: Path) -> None:
    box = tmp_path / "cjk"
    box.write_bytes(
        b"From a@b Mon Jan  1 00:00:00 2024\nFrom: a@b\nSubject: =?utf-8?b?5pel5pys?=\n\nbody\n\n"
    )
    done = subprocess.run(
        [str(Path(sys.executable).parent / "pinesh"), "-p", "/dev/null", "index", str(box)],
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "latin-1", "HOME": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert b"\\u65e5\\u672c" in done.stdout


def test_a_charset_name_with_a_nul_is_text_not_a_failed_window() -> None:
    from pinesh.stores.headers import envelope_from_headers

    header = b"From: a@b.example\r\nSubject: =?ut\x00f-8?q?hello?=\r\n\r\n"
    envelope = envelope_from_headers(1, header, len(header), frozenset())
    assert "hello" in envelope.subject


def test_a_forwarded_message_is_an_attachment_and_not_the_text(tmp_path: Path) -> None:
    from email.message import EmailMessage

    from pinesh.services.reading import read_message
    from pinesh.stores.local.maildir_store import MaildirStore

    inner = EmailMessage()
    inner["From"] = "Ann <ann@example.org>"
    inner["Subject"] = "The original"
    inner.set_content("The inner text.\n")
    outer = EmailMessage()
    outer["From"] = "Bob <bob@example.org>"
    outer["Subject"] = "Fwd: The original"
    outer.set_content("See below.\n")
    outer.add_attachment(inner)
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1.fwd.test").write_bytes(outer.as_bytes())
    with MaildirStore(maildir).open("INBOX") as folder:
        readable = read_message(folder, folder.uids()[0])
    assert readable.text.strip() == "See below."
    assert [a.content_type for a in readable.attachments] == ["message/rfc822"]
