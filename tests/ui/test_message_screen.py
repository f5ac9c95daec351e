"""MESSAGE TEXT and the ATTACHMENT INDEX through Textual's Pilot, on a real local Maildir."""

from __future__ import annotations

import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from pinesh.services.folder_view import FolderView
from pinesh.services.replying import ComposeRequest
from pinesh.stores.base import Flag
from pinesh.textsafe import safe_line
from pinesh.ui.app import PineshApp
from pinesh.ui.attachment_screen import AttachmentScreen, Pager, TextScreen
from pinesh.ui.index_screen import IndexScreen
from pinesh.ui.message_screen import MessageScreen
from pinesh.ui.prompts import ConfirmScreen, PromptScreen
from tests.lab.maildir_fill import fill_maildir
from tests.ui.test_index_screen import (
    HOSTILE,
    answer,
    index_of,
    make_session,
    press,
    rows,
    run_index,
    settle,
    stack,
    status,
    title,
)

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"  # every byte value


def mime_message() -> bytes:
    message = EmailMessage()
    message["From"] = "Alice Example <alice@example.org>"
    message["To"] = "bob@example.org"
    message["Subject"] = "Quarterly figures"
    message["Date"] = "Tue, 03 Jun 2025 09:30:00 +0200"
    message["Message-ID"] = "<mime-1@example.org>"
    message.set_content("Here are the figures.\nSee the attached report.\n")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="report.pdf")
    message.add_attachment(
        "notes line 1\n\x1b[31mred\x1b[0m\n", subtype="plain", filename="../notes.txt"
    )
    return message.as_bytes()


def html_message() -> bytes:
    message = EmailMessage()
    message["From"] = "News <news@example.org>"
    message["To"] = "bob@example.org"
    message["Subject"] = "Newsletter"
    message["Message-ID"] = "<html-1@example.org>"
    message.set_content(
        "<html><head><style>p{}</style><script>alert(1)</script></head>"
        "<body><p>Hello <b>reader</b></p><ul><li>one</li><li>two</li></ul></body></html>",
        subtype="html",
    )
    return message.as_bytes()


def big_message(lines: int) -> bytes:
    body = "".join(f"line {n:07d} " + "word " * 12 + "\n" for n in range(lines))
    message = EmailMessage()
    message["From"] = "big@example.org"
    message["To"] = "bob@example.org"
    message["Subject"] = "A big one"
    message.set_content(body, cte="8bit")
    return message.as_bytes()


SPECIAL = {"mime": mime_message, "html": html_message}


def maildir_with(tmp: Path, **extra: bytes) -> Path:
    """10 filled messages, then the hostile one and the extras, in that order (newest last)."""
    maildir = tmp / "Maildir"
    fill_maildir(maildir, 10, seed=2)
    (maildir / "new" / "9999999990.hostile.pinesh").write_bytes(HOSTILE.read_bytes())
    for n, (name, data) in enumerate(extra.items(), 1):
        (maildir / "new" / f"999999999{n}.{name}.pinesh").write_bytes(data)
    return maildir


async def open_message(app: PineshApp, pilot: Pilot[None], number: int) -> MessageScreen:
    await press(app, pilot, "j")
    await answer(app, pilot, str(number))
    await press(app, pilot, "enter")
    assert isinstance(app.screen, MessageScreen)
    return app.screen


def shown(app: PineshApp) -> str:
    return app.screen.query_one(Pager).plain


def drawn(app: PineshApp) -> list[str]:
    pager = app.screen.query_one(Pager)
    return [
        "".join(s.text for s in pager.render_line(y))
        for y in range(pager.scrollable_content_region.height)
    ]


def test_a_mime_message_headers_attachments_and_saving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    maildir = maildir_with(tmp_path, mime=mime_message())

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await open_message(app, pilot, 12)
        assert "MESSAGE TEXT   Folder: INBOX   Message 12 of 12" in title(app)
        text = shown(app)
        assert "From: Alice Example <alice@example.org>" in text
        assert "To: bob@example.org" in text and "Subject: Quarterly figures" in text
        assert "Date: Tue, 03 Jun 2025 09:30:00 +0200" in text
        assert "Here are the figures.\nSee the attached report." in text
        assert "[2]  application/pdf" in text and '"report.pdf"' in text
        assert "[3]  text/plain" in text and '"../notes.txt"' in text
        assert "MIME-Version" not in text
        assert "2 attachments" in status(app)
        await press(app, pilot, "p")  # the hostile message: no attachments
        assert "attachment" not in status(app)  # the last message's count is gone
        await press(app, pilot, "n")
        assert "2 attachments" in status(app)
        # Full headers, then the short ones again.
        await press(app, pilot, "h")
        text = shown(app)
        assert "MIME-Version: 1.0" in text and "Message-ID: <mime-1@example.org>" in text
        assert "Content-Type: multipart/mixed" in text
        await press(app, pilot, "H")
        assert "MIME-Version" not in shown(app)
        # Save the PDF: the exact bytes, under the name offered.
        await press(app, pilot, "v")
        assert isinstance(app.screen, AttachmentScreen)
        await press(app, pilot, "s")
        assert isinstance(app.screen, PromptScreen)
        assert app.screen.query_one(Input).value == "~/report.pdf"
        await press(app, pilot, "enter")
        assert (tmp_path / "report.pdf").read_bytes() == PDF
        assert f"Saved {len(PDF)} bytes to {tmp_path / 'report.pdf'}" in status(app)
        await press(app, pilot, "s", "enter")
        assert isinstance(app.screen, ConfirmScreen)
        await press(app, pilot, "n")
        assert status(app) == "Save cancelled"
        # The text attachment: its name made safe, its text shown here, made inert.
        await press(app, pilot, "down", "s")
        assert app.screen.query_one(Input).value == "~/notes.txt"
        await press(app, pilot, "escape", "v")
        assert isinstance(app.screen, TextScreen)
        assert "notes line 1\n\\x1b[31mred\\x1b[0m" in shown(app)
        await press(app, pilot, "less_than_sign", "less_than_sign")
        assert isinstance(app.screen, MessageScreen)
        await press(app, pilot, "less_than_sign")
        assert isinstance(app.screen, IndexScreen)
        assert rows(app)[11][2] == " "  # read: no longer N

    run_index(make_session(maildir, tmp_path), scenario)


def test_the_hostile_message_renders_inert(tmp_path: Path) -> None:
    maildir = maildir_with(tmp_path)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await open_message(app, pilot, 11)
        text = shown(app)
        for line in [*drawn(app), text]:
            assert "\x1b" not in line and "\x07" not in line and "\x9b" not in line
        assert "Subject: \\x1b[2J\\x1b[H\\x1b[31mURGENT\\x1b[0m \\x9b6n" in text
        assert "pwned\\x07Evil <evil@example.org>" in text
        assert "Body with \\x1b]52;c;cHduZWQ=\\x07 clipboard write and \\x1bP+q\\x1b\\ DCS." in text
        await press(app, pilot, "h")
        full = shown(app)
        assert "From: \\x1b]0;pwned\\x07Evil <evil@example.org>" in full
        assert all("\x1b" not in line for line in drawn(app))

    run_index(make_session(maildir, tmp_path), scenario)


def test_next_and_previous_and_the_index_follows(tmp_path: Path) -> None:
    maildir = maildir_with(tmp_path)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await open_message(app, pilot, 4)
        await press(app, pilot, "n", "n")
        assert "Message 6 of 11" in title(app)
        await press(app, pilot, "p")
        assert "Message 5 of 11" in title(app)
        await press(app, pilot, "home")
        for _ in range(8):
            await pilot.press("n")
        await press(app, pilot, "n")
        assert "Message 11 of 11" in title(app)
        await press(app, pilot, "n")
        assert "No more messages" in status(app) and "Message 11 of 11" in title(app)
        await press(app, pilot, "d")  # the last: marked, and it stays
        assert "Message 11 deleted" in status(app)
        await press(app, pilot, "p", "d")
        assert "Message 10 deleted" in status(app) and "Message 11 of 11" in title(app)
        await press(app, pilot, "i")
        assert isinstance(app.screen, IndexScreen)
        assert index_of(app).cursor == 10
        lines = rows(app)
        assert lines[9][2] == "D" and lines[10][2] == "D"

    run_index(make_session(maildir, tmp_path), scenario)


def test_html_is_shown_as_text(tmp_path: Path) -> None:
    maildir = maildir_with(tmp_path, html=html_message())

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await open_message(app, pilot, 12)
        text = shown(app)
        assert "[HTML shown as text]" in text
        assert "Hello reader" in text and "* one" in text
        assert "<p>" not in text and "alert(1)" not in text

    run_index(make_session(maildir, tmp_path), scenario)


NUL_CHARSET = (
    b"From: a@example.org\nTo: bob@example.org\nSubject: nul charset\nMIME-Version: 1.0\n"
    b"Content-Type: text/plain; charset*=us-ascii''utf%00-8\n\n"
    b"Hello, NUL charset body. Red: \\u001b[31m\n"
)


def test_a_message_whose_charset_has_a_nul_reads_with_a_note(tmp_path: Path) -> None:
    maildir = maildir_with(tmp_path, nul=NUL_CHARSET)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await open_message(app, pilot, 12)
        text = shown(app)
        assert "Hello, NUL charset body. Red: \\u001b[31m" in text
        assert "[charset 'utf\\x00-8' not accepted; shown as UTF-8]" in text
        assert all("\x1b" not in line for line in drawn(app))

    run_index(make_session(maildir, tmp_path), scenario)


def test_reply_and_forward_build_requests_and_a_sent_reply_is_answered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    maildir = maildir_with(tmp_path, mime=mime_message())
    opened: list[tuple[ComposeRequest | None, object]] = []

    def fake_compose(
        self: PineshApp, request: ComposeRequest | None = None, on_sent: object = None
    ) -> None:
        opened.append((request, on_sent))

    monkeypatch.setattr(PineshApp, "open_compose", fake_compose)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await open_message(app, pilot, 12)
        await press(app, pilot, "r")  # one recipient: no question
        request, on_sent = opened[-1]
        assert request is not None and request.draft.subject == "Re: Quarterly figures"
        assert [a.email for a in request.draft.to] == ["alice@example.org"]
        assert callable(on_sent)
        on_sent()
        await press(app, pilot)
        screen = app.screen
        assert isinstance(screen, MessageScreen) and screen.view is not None
        view = screen.view
        envelope = view.cached(view.uid_at(11))
        assert envelope is not None and Flag.ANSWERED in envelope.flags
        assert any(p.name.endswith(",RS") for p in (maildir / "cur").iterdir())
        await press(app, pilot, "f")
        assert isinstance(app.screen, ConfirmScreen)
        await press(app, pilot, "y")
        request, on_sent = opened[-1]
        assert request is not None and request.draft.subject == "Fwd: Quarterly figures"
        assert [a.content_type for a in request.draft.attachments] == ["message/rfc822"]
        assert on_sent is None
        await press(app, pilot, "c")
        assert opened[-1] == (None, None)

    run_index(make_session(maildir, tmp_path), scenario)


def test_a_large_body_scrolls_without_freezing(tmp_path: Path) -> None:
    maildir = maildir_with(tmp_path, big=big_message(40_000))  # 3 MB of text

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        started = time.monotonic()
        await open_message(app, pilot, 12)
        assert time.monotonic() - started < 10
        pager = app.screen.query_one(Pager)
        assert len(pager.lines) > 40_000
        await press(app, pilot, "end")
        assert any("line 0039999" in line for line in drawn(app))
        await press(app, pilot, "home", "space")
        assert pager.scroll_offset.y == pager.scrollable_content_region.height - 1

    run_index(make_session(maildir, tmp_path), scenario)


def test_an_attachment_viewer_from_mailcap_runs_without_a_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailcap = tmp_path / "mailcap"
    mailcap.write_text(
        "application/pdf; wc -c %s | cat; copiousoutput\n"  # shell syntax: refused
    )
    monkeypatch.setenv("MAILCAPS", str(mailcap))
    maildir = maildir_with(tmp_path, mime=mime_message())

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await open_message(app, pilot, 12)
        await press(app, pilot, "v", "v")
        assert isinstance(app.screen, AttachmentScreen)
        assert "uses shell syntax (|)" in status(app)
        mailcap.write_text("application/pdf; wc -c %s; copiousoutput; nametemplate=%s.pdf\n")
        await press(app, pilot, "v")
        assert isinstance(app.screen, TextScreen)
        count, path = shown(app).split()
        assert int(count) == len(PDF)
        assert Path(path).name == "report.pdf" and Path(path).read_bytes() == PDF
        assert Path(path).stat().st_mode & 0o777 == 0o600
        assert Path(path).parent.stat().st_mode & 0o777 == 0o700

    run_index(make_session(maildir, tmp_path), scenario)


def test_next_typed_quickly_shows_the_message_the_title_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each N starts a reader; the slower one (a big message, a busy server) ended last
    # and its message replaced the one the title named, and V then listed its parts.
    maildir = maildir_with(tmp_path)
    read = FolderView.read_protected
    slow: set[int] = set()

    def slow_read(view: FolderView, uid: int, passphrase: str | None = None) -> object:
        if uid in slow:
            time.sleep(0.4)
        return read(view, uid, passphrase)

    monkeypatch.setattr(FolderView, "read_protected", slow_read)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        screen = await open_message(app, pilot, 4)
        view = screen.view
        assert view is not None
        slow.add(view.uid_at(4))
        await pilot.press("n", "n")
        await pilot.pause(0.6)
        await settle(app, pilot)
        assert "Message 6 of 11" in title(app)
        envelope = view.cached(view.uid_at(5))
        assert envelope is not None
        subject = next(line for line in shown(app).split("\n") if line.startswith("Subject: "))
        assert subject == "Subject: " + safe_line(envelope.subject)

    run_index(make_session(maildir, tmp_path), scenario)


def test_reply_pressed_twice_opens_one_composer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    maildir = maildir_with(tmp_path, mime=mime_message())
    raw = FolderView.raw

    def slow_raw(view: FolderView, uid: int) -> bytes:
        time.sleep(0.3)  # a message fetched from a server
        return raw(view, uid)

    monkeypatch.setattr(FolderView, "raw", slow_raw)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await open_message(app, pilot, 12)  # one recipient: R asks nothing
        await pilot.press("r", "r")
        await pilot.pause(0.5)
        await settle(app, pilot)
        assert stack(app).count("ComposeScreen") == 1

    run_index(make_session(maildir, tmp_path), scenario)


def test_viewer_hdrs_chooses_the_headers_shown(tmp_path: Path) -> None:
    maildir = maildir_with(
        tmp_path,
        mailer=b"From: a@example.org\nTo: b@example.org\nSubject: which mailer\n"
        b"X-Mailer: Pine 4.64\nOrganization: Example\n\nbody\n",
    )

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await open_message(app, pilot, 12)
        headers = shown(app).split("\n\n")[0].splitlines()
        assert headers == ["X-Mailer: Pine 4.64", "Subject: which mailer"]

    run_index(make_session(maildir, tmp_path, "viewer-hdrs=X-Mailer, Subject\n"), scenario)


def test_convert_dates_to_localtime_shows_the_date_in_this_zone() -> None:
    from datetime import datetime, timedelta, timezone

    from pinesh.stores.base import Envelope
    from pinesh.ui.message_screen import short_headers

    sent = datetime(2026, 3, 5, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    envelope = Envelope(1, sent, (), (), (), "s", None, None, (), 1, frozenset())
    assert short_headers(envelope)[0] == ("Date", "Thu, 05 Mar 2026 23:30:00 -0500")
    assert short_headers(envelope, local_dates=True)[0] == (
        "Date",
        "Fri, 06 Mar 2026 04:30:00 +0000",
    )


def test_a_signature_frame_is_drawn_in_reverse_video_and_the_text_plain() -> None:
    from rich.console import Console

    from pinesh.services.protection import Frame, FrameKind
    from pinesh.services.reading import Readable
    from pinesh.services.signatures import SignatureReport
    from pinesh.stores.gpg_status import SignatureCheck, Verdict
    from pinesh.ui.attachment_screen import line_segments
    from pinesh.ui.message_screen import message_lines

    text = "[ Signed text begins (PGP/MIME). Signature good ]\nforged\n"
    good = SignatureReport((SignatureCheck(Verdict.GOOD, "AB12", user_id="X"),))
    frame = Frame(FrameKind.SIGNED, text, "PGP/MIME", good)
    lines = message_lines(None, Readable(text, "1", ()), None, frames=(frame,))
    console = Console()
    drawn = {
        line.plain: {bool(s.style and s.style.reverse) for s in line_segments(line, console)}
        for line in lines
        if line.plain
    }
    assert drawn["[ Signed text begins (PGP/MIME). Signature good by X (key AB12, trust undefined)"
                 "; the key is not trusted: who signed is not known ]"] == {True}  # fmt: skip
    assert drawn["[ Signed text ends ]"] == {True}
    assert drawn["[ Signed text begins (PGP/MIME). Signature good ]"] == {False}  # the forgery
