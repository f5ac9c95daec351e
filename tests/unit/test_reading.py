"""Reading a message: its text part decoded, its attachments listed."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from pinesh.services.reading import decode_text, read_message
from pinesh.stores.charsets import codec_for
from pinesh.stores.local.maildir_store import MaildirStore
from pinesh.stores.local.mbox_store import MboxStore
from pinesh.stores.mime_structure import text_parts


@pytest.mark.parametrize("charset", ["undefined", "idna", "punycode", "x-bogus", "utf\x00-8"])
def test_a_charset_whose_codec_cannot_replace_decodes_anyway(charset: str) -> None:
    assert decode_text(b"caf\xc3\xa9 \xff", charset).startswith("caf")
    assert codec_for(charset) is None


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


# Text parts whose charset is no text encoding, as a local folder holds them.
HOSTILE_CHARSETS = {
    "charset*=us-ascii''utf%00-8": b"Hello, NUL charset body.\n",
    "charset=raw-unicode-escape": b"Red: \\u001b[31m, clear: \\x1b[2J.\n",
    'charset="unicode-escape"': b"Red: \\u001b[31m, clear: \\x1b[2J.\n",
    "charset=utf-7": b"Hidden: +ABs-[31m\n",
    "charset=punycode": b"a" * 200_000 + b"-b\n",
}


def _hostile_message(param: str, body: bytes) -> bytes:
    return (
        b"From a@b Mon Dec  7 10:00:00 2026\n"
        b"From: a@example.org\nSubject: charset\nMIME-Version: 1.0\n"
        b"Content-Type: text/plain; " + param.encode() + b"\n\n" + body + b"\n"
    )


@pytest.mark.parametrize("store", ["mbox", "maildir"])
@pytest.mark.parametrize(("param", "body"), HOSTILE_CHARSETS.items(), ids=list(HOSTILE_CHARSETS))
def test_a_text_part_in_a_refused_charset_reads_as_utf8_with_a_note(
    tmp_path: Path, punycode_runs: list[int], store: str, param: str, body: bytes
) -> None:
    data = _hostile_message(param, body)
    if store == "mbox":
        (tmp_path / "box").write_bytes(data)
        folder = MboxStore(tmp_path).open("box", read_only=True)
    else:
        for sub in ("cur", "new", "tmp"):
            (tmp_path / "Maildir" / sub).mkdir(parents=True)
        (tmp_path / "Maildir" / "new" / "1.charset.test").write_bytes(data.split(b"\n", 1)[1])
        folder = MaildirStore(tmp_path / "Maildir").open("INBOX")
    with folder:
        readable = read_message(folder, folder.uids()[0])
        searched = "".join(text_parts(b"".join(folder.fetch_part(folder.uids()[0], ""))))
    assert readable.text.rstrip("\n") == body.decode().rstrip("\n")
    assert "\x1b" not in readable.text and "\x1b" not in searched
    assert readable.note is not None and "not accepted; shown as UTF-8" in readable.note
    assert punycode_runs == []
