"""Choosing how mail leaves: the pinerc's smtp-server, else sendmail."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.server_spec import ServerSpec
from pinesh.config.settings import Settings
from pinesh.errors import PineshError
from pinesh.senders.compose import Draft
from pinesh.senders.sendmail import SendmailSender
from pinesh.senders.smtp import SmtpSender
from pinesh.services.connections import Connections
from pinesh.services.mail import MailSession
from pinesh.services.sending import choose_sender, send_draft
from pinesh.stores.base import Address


def _session(tmp: Path, rc_text: str) -> MailSession:
    rc = parse_pinerc(f"user-domain=pinesh.test\n{rc_text}", str(tmp / "pinerc"))
    return MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp / "data")


def test_the_first_smtp_server_is_used_as_parsed_from_the_pinerc(tmp_path: Path) -> None:
    session = _session(tmp_path, "smtp-server=smtp.isp.example/user=jane, backup.isp.example\n")
    assert session.pine.smtp_servers[0].server == ServerSpec(
        "smtp.isp.example", mailbox_user="jane"
    )
    assert isinstance(choose_sender(session), SmtpSender)


def test_without_smtp_server_mail_goes_to_sendmail(tmp_path: Path) -> None:
    assert isinstance(choose_sender(_session(tmp_path, "")), SendmailSender)


def test_an_smtp_server_that_did_not_parse_fails_sending_naming_it(tmp_path: Path) -> None:
    session = _session(tmp_path, "smtp-server=smtp.isp.example/bogus\n")
    with pytest.raises(PineshError, match=r"^pinerc smtp-server: .*unknown flag '/bogus'"):
        choose_sender(session)
    draft = Draft(sender=Address("", "me@pinesh.test"), to=(Address("", "bob@example.org"),))
    with pytest.raises(PineshError, match="pinerc smtp-server"):
        send_draft(session, draft, fcc="")


def _send_through_true(tmp: Path, rc_text: str) -> None:
    """Send a short message with /bin/true as sendmail (it takes anything), then Fcc."""
    session = _session(tmp, f"sendmail-path=/bin/true\n{rc_text}")
    to = (Address("", "bob@example.org"),)
    draft = Draft(sender=Address("", "me@pinesh.test"), to=to, subject="hello", body="hi\n")
    assert send_draft(session, draft).attempt.ok


@pytest.mark.parametrize(("setting", "kept"), [("", True), ('default-fcc=""\n', False)])
def test_default_fcc_set_to_empty_keeps_no_copy(
    setting: str, kept: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    _send_through_true(tmp_path, setting)
    assert (tmp_path / "mail" / "sent-mail").exists() is kept


@pytest.mark.parametrize(("features", "seen"), [("", False), ("mark-fcc-seen", True)])
def test_the_fcc_copy_is_marked_seen_only_with_mark_fcc_seen(
    features: str, seen: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mailbox

    monkeypatch.setenv("HOME", str(tmp_path))
    _send_through_true(tmp_path, f"feature-list={features}\n")
    (copy,) = mailbox.mbox(tmp_path / "mail" / "sent-mail")
    assert ("R" in copy.get_flags()) is seen
