"""The terminal client through Textual's Pilot, against the real lab servers.

The remote INBOX is the lab user's Maildir served by Dovecot over ssh preauth; mail goes
out through the lab Postfix and news through INN, both over ssh channels (the ISP rules).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from textual.pilot import Pilot

from pinesh.config.pine_settings import pine_settings
from pinesh.services.connections import load_connections
from pinesh.services.mail import MailSession
from pinesh.services.news import post_article
from pinesh.services.sending import outbox
from pinesh.ui.app import MainMenu, PineshApp
from pinesh.ui.attachment_screen import Pager
from pinesh.ui.compose_screen import ComposeScreen
from pinesh.ui.index_screen import IndexScreen
from pinesh.ui.message_screen import MessageScreen
from pinesh.ui.prompts import ChoiceScreen, ConfirmScreen, PromptScreen, SendScreen
from tests.integration.helpers import (
    PREAUTH_RULE,
    isp_rules,
    kill_masters,
    short_dir,
    stop_masters,
    write_config,
)
from tests.lab.common import free_port
from tests.lab.dovecot import LabDovecot
from tests.lab.inn import LabInn
from tests.lab.maildir_fill import fill_maildir
from tests.lab.postfix import LabPostfix
from tests.lab.sshd import LabSshd
from tests.ui.test_index_screen import answer, index_of, rows, settle, status, title

pytestmark = pytest.mark.lab

Scenario = Callable[[PineshApp, Pilot[None]], Awaitable[None]]
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 16 + b"\n%%EOF\n"


@dataclass
class Lab:
    """What a scenario needs: the work directory, the lab user, a way to make sessions."""

    work: Path
    user: str
    sshd: LabSshd
    postfix: LabPostfix
    inn: LabInn

    def session(self, *, smtp_port: int | None = None) -> MailSession:
        rules = PREAUTH_RULE + isp_rules(
            self.postfix.inside_host,
            self.postfix.port if smtp_port is None else smtp_port,
            self.inn.host,
            self.inn.port,
        )
        config = write_config(self.sshd, self.work, rules)
        pinerc = self.work / "pinerc"
        pinerc.write_text(
            "personal-name=Jane Lab\nuser-domain=pinesh.test\n"
            f"inbox-path={{lab/user={self.user}}}INBOX\n"
            "smtp-server=smtp.isp.test\nnntp-server=news.isp.test\n"
            "default-fcc=sent-mail\n"
        )
        connections = load_connections(str(config), str(pinerc))
        return MailSession(
            connections, pine_settings(connections.pinerc), data_dir=self.work / "data"
        )


@pytest.fixture
def lab(
    sshd: LabSshd,
    dovecot: LabDovecot,
    postfix: LabPostfix,
    inn: LabInn,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Lab]:
    with short_dir() as work:
        home = work / "home"
        (home / "mail").mkdir(parents=True)
        monkeypatch.setenv("HOME", str(home))
        monkeypatch.setenv("XDG_STATE_HOME", str(work / "st"))
        monkeypatch.setenv("XDG_DATA_HOME", str(work / "data"))
        yield Lab(work, sshd.user.name, sshd, postfix, inn)


def mime_message(subject: str) -> bytes:
    message = EmailMessage()
    message["From"] = "Alice Example <alice@example.org>"
    message["To"] = "lab@pinesh.test"
    message["Subject"] = subject
    message["Date"] = "Tue, 03 Jun 2025 09:30:00 +0200"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@example.org>"
    message.set_content("Here are the figures.\nSee the attached report.\n")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="report.pdf")
    return message.as_bytes()


def deliver(maildir: Path, data: bytes, owner: LabDovecot) -> Path:
    """Put a message into the lab Maildir's new/ as a delivery agent would (owned by the user)."""
    name = f"1800000000.{uuid.uuid4().hex}.lab"
    path = maildir / "new" / name
    path.write_bytes(data)
    os.chown(path, owner.user.uid, owner.user.gid)
    return path


def run_app(session: MailSession, scenario: Scenario, *, folder: str = "INBOX") -> None:
    app = PineshApp(session, folder)

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            await scenario(app, pilot)

    try:
        asyncio.run(main())
    finally:
        stop_masters(session.connections)


async def keys(app: PineshApp, pilot: Pilot[None], *pressed: str) -> None:
    await pilot.press(*pressed)
    await settle(app, pilot)


async def open_inbox(app: PineshApp, pilot: Pilot[None]) -> None:
    await keys(app, pilot, "i")
    await settle(app, pilot)
    assert isinstance(app.screen, IndexScreen)


def maildir_files(maildir: Path) -> list[Path]:
    return [
        p for sub in ("cur", "new") if (maildir / sub).is_dir() for p in (maildir / sub).iterdir()
    ]


def test_read_a_mime_message_save_it_then_delete_and_expunge(
    lab: Lab, lab_maildir: Path, dovecot: LabDovecot
) -> None:
    fill_maildir(lab_maildir, 5, seed=21, owner=dovecot.user)
    subject = f"tui-mime-{uuid.uuid4().hex[:8]}"
    delivered = deliver(lab_maildir, mime_message(subject), dovecot)
    saved_box = f"{{lab/user={lab.user}}}Saved"

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await open_inbox(app, pilot)
        line = status(app)
        assert "via ssh" in line and "preauth" in line, line
        assert "6 messages" in line, line
        index = index_of(app)
        position = next(i for i, row in enumerate(rows(app)) if subject in row)
        index.move_cursor(position)
        await keys(app, pilot, "enter")
        assert isinstance(app.screen, MessageScreen)
        text = app.screen.query_one(Pager).plain
        assert "Here are the figures." in text
        assert "report.pdf" in text and "application/pdf" in text
        assert subject in title(app) or subject in text
        await keys(app, pilot, "less_than_sign")
        assert isinstance(app.screen, IndexScreen)
        # Save to another folder on the server (created on the way), as Pine's S does.
        await keys(app, pilot, "s")
        assert isinstance(app.screen, PromptScreen)
        await answer(app, pilot, saved_box)
        assert "Saved" in status(app), status(app)
        # Pine marks a saved message deleted; X expunges it after asking.
        assert rows(app)[position][2] == "D", rows(app)[position]
        await keys(app, pilot, "x")
        assert isinstance(app.screen, ConfirmScreen)
        await keys(app, pilot, "y")
        assert "expunged" in status(app), status(app)
        assert index_of(app).count == 5
        await keys(app, pilot, "q")
        await keys(app, pilot, "y")

    run_app(lab.session(), scenario)
    assert not delivered.exists()
    assert all(subject.encode() not in p.read_bytes() for p in maildir_files(lab_maildir))
    saved = maildir_files(lab_maildir / ".Saved")
    assert len(saved) == 1 and subject.encode() in saved[0].read_bytes()
    assert PDF[:9] in saved[0].read_bytes() or b"JVBERi0xLjQK" in saved[0].read_bytes()


def test_a_dropped_ssh_master_is_told_on_the_status_line(
    lab: Lab, lab_maildir: Path, dovecot: LabDovecot
) -> None:
    fill_maildir(lab_maildir, 5, seed=22, owner=dovecot.user)
    session = lab.session()

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await open_inbox(app, pilot)
        assert "5 messages" in status(app), status(app)
        assert kill_masters(session.connections) == 1
        screen = app.screen
        assert isinstance(screen, IndexScreen)
        screen.check_mail()  # the new-mail check finds the connection gone
        await settle(app, pilot)
        line = status(app)
        assert line.startswith("Connection to lab (IMAP INBOX) dropped ("), line
        assert line.endswith("); reopened"), line
        toasts = [n.message for n in app._notifications]
        assert toasts == [line], toasts  # stays in view when a command's result follows
        await keys(app, pilot, "q")
        await keys(app, pilot, "y")

    run_app(session, scenario)
    assert session.reopened_count == 1


def test_reply_goes_out_through_postfix_over_ssh(
    lab: Lab, lab_maildir: Path, dovecot: LabDovecot, postfix: LabPostfix
) -> None:
    subject = f"tui-reply-{uuid.uuid4().hex[:8]}"
    deliver(lab_maildir, mime_message(subject), dovecot)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await open_inbox(app, pilot)
        position = next(i for i, row in enumerate(rows(app)) if subject in row)
        index_of(app).move_cursor(position)
        await keys(app, pilot, "r")
        if isinstance(app.screen, ConfirmScreen | ChoiceScreen):  # "reply to all?" -> no
            await keys(app, pilot, "n")
        assert isinstance(app.screen, ComposeScreen)
        assert app.screen.field("To").value.endswith("alice@example.org>")
        assert app.screen.field("Subject").value == f"Re: {subject}"
        await keys(app, pilot, "ctrl+x")
        assert isinstance(app.screen, SendScreen)
        await keys(app, pilot, "y")
        for _ in range(20):
            if isinstance(app.screen, IndexScreen):
                break
            await settle(app, pilot)
        assert isinstance(app.screen, IndexScreen)
        assert "sent" in status(app).lower(), status(app)
        assert rows(app)[position][2] == "A", rows(app)[position]

    run_app(lab.session(), scenario)
    arrived = postfix.wait_for_delivery(f"Re: {subject}".encode())
    assert b"In-Reply-To: <" in arrived
    assert b"> Here are the figures." in arrived
    sent_mail = lab.work / "home" / "mail" / "sent-mail"
    assert f"Re: {subject}".encode() in sent_mail.read_bytes()


def test_follow_up_in_a_newsgroup_arrives_in_inn(lab: Lab) -> None:
    session = lab.session()
    subject = f"tui-news-{uuid.uuid4().hex[:8]}"
    parent_id = post_article(session, ["local.test"], subject, "The first article.\n")
    session.close()
    assert parent_id

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        assert isinstance(app.screen, MainMenu)
        app.open_index("#news.local.test")
        await settle(app, pilot)
        assert isinstance(app.screen, IndexScreen)
        assert "news" in status(app), status(app)
        # The group grows run after run; only the rows near the cursor are read, and the
        # article just posted is the newest: go there first so its row is loaded.
        index_of(app).move_cursor(index_of(app).count - 1)
        await settle(app, pilot)
        position = next(i for i, row in enumerate(rows(app)) if subject in row)
        index_of(app).move_cursor(position)
        await keys(app, pilot, "r")
        assert isinstance(app.screen, ChoiceScreen)
        followup_key = next(k for k, label in app.screen.choices if "follow" in label.lower())
        await keys(app, pilot, followup_key)
        assert isinstance(app.screen, ComposeScreen)
        assert app.screen.field("Newsgroups").value == "local.test"
        await keys(app, pilot, "ctrl+x")
        if isinstance(app.screen, SendScreen):
            await keys(app, pilot, "y")
        for _ in range(20):
            if isinstance(app.screen, IndexScreen):
                break
            await settle(app, pilot)
        assert isinstance(app.screen, IndexScreen), status(app)

    run_app(lab.session(), scenario)
    check = lab.session()
    try:
        with check.open_folder("#news.local.test", read_only=True) as group:
            uids = group.uids()
            envelopes = group.envelopes(uids[-50:])
            follow = [e for e in envelopes if e.subject == f"Re: {subject}"]
            assert len(follow) == 1
            raw = group.fetch_message(follow[0].uid)
            assert parent_id.encode() in raw  # References names the parent
    finally:
        check.close()
        stop_masters(check.connections)


def test_compose_while_smtp_is_down_lands_in_the_outbox(lab: Lab) -> None:
    subject = f"tui-outbox-{uuid.uuid4().hex[:8]}"
    session = lab.session(smtp_port=free_port("::1"))

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await keys(app, pilot, "c")
        screen = app.screen
        assert isinstance(screen, ComposeScreen)
        await pilot.press(*"friend@elsewhere.example")
        screen.field("Subject").focus()
        await pilot.pause()
        await pilot.press(*subject)
        await keys(app, pilot, "ctrl+x")
        assert isinstance(app.screen, SendScreen)
        await keys(app, pilot, "y")
        for _ in range(20):
            if isinstance(app.screen, MainMenu):
                break
            await settle(app, pilot)
        assert isinstance(app.screen, MainMenu)
        assert "outbox" in status(app), status(app)

    run_app(session, scenario)
    kept = outbox(session).list()
    assert [entry.subject for entry in kept] == [subject]
