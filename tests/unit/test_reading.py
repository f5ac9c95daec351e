"""Reading a message: its text part decoded, its attachments listed."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from pinesh.services.reading import decode_text, read_message
from pinesh.stores.local.maildir_store import MaildirStore
from pinesh.stores.mime_structure import _codec


@pytest.mark.parametrize("charset", ["undefined", "idna", "punycode", "x-bogus", "utf\x00-8"])
def test_a_charset_whose_codec_cannot_replace_decodes_anyway(charset: str) -> None:
    assert decode_text(b"caf\xc3\xa9 \xff", charset).startswith("caf")
    assert _codec(charset) in ("utf-8", charset)
    b"x\xff".decode(_codec(charset), "replace")  # what the callers do must not raise


def test_a_forwarded_message_is_an_attachment_and_not_the_text(tmp_path: Path) -> None:
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
