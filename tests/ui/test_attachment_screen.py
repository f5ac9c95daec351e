"""The attachment index and the attached text it shows, driven through Pilot."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.pilot import Pilot

from pinesh.services.folder_view import FolderView
from pinesh.ui.app import PineshApp
from pinesh.ui.attachment_screen import AttachmentScreen, Pager, TextScreen
from tests.ui.test_index_screen import make_session, press, run_index, settle, stack, status, title
from tests.ui.test_message_screen import drawn, maildir_with, mime_message, open_message, shown

FORWARD = (
    b"From: Alice Example <alice@example.org>\r\n"
    b"To: bob@example.org\r\n"
    b"Subject: Fwd: the plan\r\n"
    b"Date: Tue, 03 Jun 2025 09:30:00 +0200\r\n"
    b"Message-ID: <fwd-1@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"--outer\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"See the message below.\r\n"
    b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"Content-Disposition: attachment\r\n"
    b"\r\n"
    b"From: Carol Inner <carol@example.org>\r\n"
    b"To: dave@example.org\r\n"
    b"Cc: =?utf-8?q?Eve_=1B=5B2J?= <eve@example.org>\r\n"
    b"Subject: The plan \x1b]0;owned\x07\r\n"
    b"Date: Mon, 02 Jun 2025 08:00:00 +0000\r\n"
    b"Message-ID: <inner-1@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/alternative; boundary="inner"\r\n'
    b"\r\n"
    b"--inner\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Meet at n=C3=B6on.\r\n"
    b"\x1b[31mred\x1b[0m \xc2\x9b6n\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>the HTML version</p>\r\n"
    b"--inner--\r\n"
    b"--outer--\r\n"
)


def test_an_attached_message_is_shown_as_text_headers_then_body(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Was: message/rfc822 went to mailcap (here: a viewer that leaves a copy behind) or
    # xdg-open, like an image.
    copied = tmp_path / "viewer-ran"
    mailcap = tmp_path / "mailcap"
    mailcap.write_text(f"message/rfc822; cp %s {copied}; copiousoutput\n")
    monkeypatch.setenv("MAILCAPS", str(mailcap))
    maildir = maildir_with(tmp_path, forward=FORWARD)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await open_message(app, pilot, 12)
        await press(app, pilot, "v")
        assert isinstance(app.screen, AttachmentScreen)
        await press(app, pilot, "v")
        assert isinstance(app.screen, TextScreen)
        assert not copied.exists()
        assert title(app) == "  ATTACHED TEXT   The plan \\x1b]0;owned\\x07"
        assert shown(app) == (
            "Date: Mon, 02 Jun 2025 08:00:00 +0000\n"
            "From: Carol Inner <carol@example.org>\n"
            "To: dave@example.org\n"
            "Cc: Eve \\x1b[2J <eve@example.org>\n"
            "Subject: The plan \\x1b]0;owned\\x07\n"
            "\n"
            "Meet at nöon.\n"
            "\\x1b[31mred\\x1b[0m \\x9b6n"
        )
        # Its HTML alternative is not lost: listed, as Pine lists every part not shown.
        assert status(app) == "1 attachment inside: save the message to open it"
        for line in [*drawn(app), shown(app), title(app)]:
            assert "\x1b" not in line and "\x07" not in line and "\x9b" not in line
        await press(app, pilot, "less_than_sign")
        assert isinstance(app.screen, AttachmentScreen)

    run_index(make_session(maildir, tmp_path), scenario)


def test_an_attached_message_without_text_says_so(tmp_path: Path) -> None:
    only_image = (
        b"From: a@example.org\r\nSubject: outer\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="o"\r\n\r\n'
        b"--o\r\nContent-Type: message/rfc822\r\n\r\n"
        b"From: b@example.org\r\nSubject: a picture\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: image/png; name="p.png"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        b"iVBORw0KGgo=\r\n--o--\r\n"
    )
    maildir = maildir_with(tmp_path, picture=only_image)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await open_message(app, pilot, 12)
        await press(app, pilot, "v", "v")
        assert isinstance(app.screen, TextScreen)
        assert app.screen.query_one(Pager).plain == "From: b@example.org\nSubject: a picture"
        assert status(app) == "no text part; 1 attachment inside: save the message to open it"

    run_index(make_session(maildir, tmp_path), scenario)


def test_view_pressed_twice_on_a_text_attachment_shows_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    maildir = maildir_with(tmp_path, mime=mime_message())
    part_bytes = FolderView.part_bytes

    def slow_part(
        view: FolderView,
        uid: int,
        part_id: str,
        limit: int = 1 << 22,
        *,
        source: bytes | None = None,
    ) -> object:
        time.sleep(0.3)  # a part fetched from a server
        return part_bytes(view, uid, part_id, limit, source=source)

    monkeypatch.setattr(FolderView, "part_bytes", slow_part)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await open_message(app, pilot, 12)
        await press(app, pilot, "v", "down")  # the text attachment
        assert isinstance(app.screen, AttachmentScreen)
        await pilot.press("v", "v")
        await pilot.pause(0.5)
        await settle(app, pilot)
        assert stack(app).count("TextScreen") == 1

    run_index(make_session(maildir, tmp_path), scenario)
