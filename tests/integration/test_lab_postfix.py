"""The lab's Postfix: relays only for the inside address ::1, delivers all into one Maildir."""

from __future__ import annotations

import email
import smtplib
import socket
import subprocess
import uuid

import pytest

from tests.lab.fixtures_mail_news import SshChannel
from tests.lab.postfix import LabPostfix
from tests.lab.sshd import LabSshd

pytestmark = pytest.mark.lab

OUTSIDE_RECIPIENT = "friend@example.org"


def message(marker: str, recipient: str = OUTSIDE_RECIPIENT) -> str:
    return (
        f"From: pineshlab@pinesh.test\r\nTo: {recipient}\r\nSubject: lab {marker}\r\n"
        f"Message-ID: <{marker}@pinesh.test>\r\n\r\nbody {marker}\r\n"
    )


def new_marker() -> str:
    return f"lab-{uuid.uuid4().hex}"


class ChannelSMTP(smtplib.SMTP):
    """smtplib over an already connected socket (the near end of an ssh channel)."""

    def __init__(self, channel: socket.socket) -> None:
        self._channel = channel
        super().__init__()
        self.connect("ssh-channel", 25)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return self._channel


def test_outside_client_is_refused_relaying(postfix: LabPostfix) -> None:
    marker = new_marker()
    with (
        smtplib.SMTP(postfix.host, postfix.port, timeout=20) as smtp,
        pytest.raises(smtplib.SMTPRecipientsRefused) as refused,
    ):
        smtp.sendmail("pineshlab@pinesh.test", [OUTSIDE_RECIPIENT], message(marker))
    code, reply = refused.value.recipients[OUTSIDE_RECIPIENT]
    assert code == 554
    assert b"Relay access denied" in reply
    assert "Relay access denied" in postfix.log_text()


def test_outside_client_may_send_to_the_lab_domain(postfix: LabPostfix) -> None:
    marker = new_marker()
    recipient = f"anyone@{postfix.domain}"
    with smtplib.SMTP(postfix.host, postfix.port, timeout=20) as smtp:
        smtp.sendmail("pineshlab@pinesh.test", [recipient], message(marker, recipient))
    delivered = email.message_from_bytes(postfix.wait_for_delivery(marker.encode()))
    assert delivered["X-Original-To"] == recipient


def test_inside_client_relays_into_the_maildir(postfix: LabPostfix) -> None:
    marker = new_marker()
    with smtplib.SMTP(postfix.inside_host, postfix.port, timeout=20) as smtp:
        assert smtp.sendmail("pineshlab@pinesh.test", [OUTSIDE_RECIPIENT], message(marker)) == {}
    delivered = email.message_from_bytes(postfix.wait_for_delivery(marker.encode()))
    assert delivered["X-Original-To"] == OUTSIDE_RECIPIENT
    assert delivered["Subject"] == f"lab {marker}"
    assert (postfix.maildir / "new").stat().st_uid == postfix.maildir.stat().st_uid


def test_relay_over_an_ssh_channel(
    postfix: LabPostfix, sshd: LabSshd, ssh_channel: SshChannel
) -> None:
    marker = new_marker()
    # sshd connects to [::1] from ::1, the inside network: relaying is allowed.
    with ChannelSMTP(ssh_channel(postfix.inside_host, postfix.port)) as smtp:
        assert smtp.sendmail("pineshlab@pinesh.test", [OUTSIDE_RECIPIENT], message(marker)) == {}
    delivered = email.message_from_bytes(postfix.wait_for_delivery(marker.encode()))
    assert delivered["X-Original-To"] == OUTSIDE_RECIPIENT


def test_outside_address_over_an_ssh_channel_is_refused(
    postfix: LabPostfix, ssh_channel: SshChannel
) -> None:
    with (
        ChannelSMTP(ssh_channel(postfix.host, postfix.port)) as smtp,
        pytest.raises(smtplib.SMTPRecipientsRefused),
    ):
        smtp.sendmail("pineshlab@pinesh.test", [OUTSIDE_RECIPIENT], message(new_marker()))


def test_sendmail_of_the_instance_delivers(postfix: LabPostfix) -> None:
    marker = new_marker()
    subprocess.run(
        [*postfix.sendmail, "-t", "-i"], input=message(marker).encode(), check=True, timeout=20
    )
    postfix.wait_for_delivery(marker.encode())


def test_lab_user_sendmail_over_ssh_delivers(postfix: LabPostfix, sshd: LabSshd) -> None:
    marker = new_marker()
    done = subprocess.run(
        ["ssh", *sshd.ssh_options(), sshd.alias, *postfix.sendmail, "-t", "-i"],
        input=message(marker).encode(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    delivered = email.message_from_bytes(postfix.wait_for_delivery(marker.encode()))
    assert delivered["X-Original-To"] == OUTSIDE_RECIPIENT


def test_nothing_leaves_the_machine(postfix: LabPostfix) -> None:
    done = subprocess.run(
        ["postconf", "-c", str(postfix.config_dir), "-h", "default_transport", "relayhost"],
        capture_output=True,
        text=True,
        check=True,
    )
    default_transport, relayhost = done.stdout.splitlines()
    assert default_transport.startswith("error:")
    assert relayhost == ""
