"""Sending against the lab's real Postfix: over an ssh channel from inside, refused from
outside, through its own sendmail, and kept in the outbox while the server is down."""

from __future__ import annotations

import email
import re
import sys
import time
import uuid
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from pinesh.config.pinerc import parse_pinerc
from pinesh.config.pinesh_toml import parse_settings
from pinesh.config.server_spec import ServerSpec, parse_server_spec
from pinesh.errors import PineshError
from pinesh.senders.base import SendError, Stage
from pinesh.senders.compose import Composed, Draft, compose
from pinesh.senders.outbox import Outbox
from pinesh.senders.sendmail import SendmailSender, parse_sendmail_path, sendmail_command
from pinesh.services.connections import Connections
from pinesh.services.sending import smtp_sender
from pinesh.stores.base import Address
from pinesh.transport.environment import Environment
from tests.integration.helpers import connections, isp_rules, short_dir, stop_masters
from tests.lab.common import free_port
from tests.lab.postfix import LabPostfix
from tests.lab.sshd import LabSshd

pytestmark = pytest.mark.lab

FRIEND = "friend@elsewhere.example"
HIDDEN = "hidden@elsewhere.example"
BODY = "Hällo from pinesh.\n.a line that starts with a dot\n.\nthe line above is a lone dot\n"


def new_marker() -> str:
    return f"send-{uuid.uuid4().hex}"


def message(marker: str) -> Composed:
    """A message whose Message-ID carries marker (for wait_for_delivery), with a Bcc."""
    draft = Draft(
        sender=Address("Jane Lab", "pineshlab@pinesh.test"),
        to=(Address("Friend", FRIEND),),
        bcc=(Address("", HIDDEN),),
        subject=f"Grüße {marker}",
        body=BODY,
    )
    return compose(draft, domain="pinesh.test", message_id=f"<{marker}@pinesh.test>")


def isp(postfix: LabPostfix, port: int | None = None) -> str:
    """The ISP rule: smtp.isp.test through the lab shell host to ::1 (inside)."""
    return isp_rules(postfix.inside_host, port or postfix.port, "127.0.0.1", 119)


def direct(host: str, port: int) -> str:
    return f"""
[[rule]]
servers = ["{host}"]
services = ["smtp"]
via = "direct"
fallback = ["plain:{port}"]
"""


def direct_connections(work: Path, body: str) -> Connections:
    """Connections from a config with direct rules only (no ssh)."""
    text = f'open_timeout = 5\nstate_dir = "{work / "state"}"\n{body}'
    settings = parse_settings(text, str(work / "config.toml"))
    return Connections(
        settings, parse_pinerc("", str(work / "pinerc")), Environment(network_override="lab")
    )


def headers_of(raw: bytes) -> bytes:
    return re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]


def copies_of(postfix: LabPostfix, marker: str) -> dict[str, bytes]:
    """The delivered copies of marker's message, by original recipient (X-Original-To)."""
    copies: dict[str, bytes] = {}
    for raw in postfix.delivered():
        if f"<{marker}@pinesh.test>".encode() in headers_of(raw):
            original = email.message_from_bytes(raw, policy=policy.default)["X-Original-To"]
            copies[str(original)] = raw
    return copies


def check_delivered(postfix: LabPostfix, marker: str) -> None:
    """Every recipient, the Bcc one too, got a whole copy, and no copy shows the Bcc.

    Postfix drops Bcc headers itself (message_drop_headers), so a delivered copy cannot
    prove what crossed the wire: test_compose checks the bytes, and the sendmail test
    below checks what a program was handed.
    """
    postfix.wait_for_delivery(marker.encode())
    deadline = time.monotonic() + 20
    while len(copies_of(postfix, marker)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # Postfix writes one copy per original recipient
    copies = copies_of(postfix, marker)
    assert set(copies) == {FRIEND, HIDDEN}
    for raw in copies.values():
        head = headers_of(raw)
        assert b"\nbcc:" not in head.lower()
        assert HIDDEN.encode() not in head.replace(b"X-Original-To: " + HIDDEN.encode(), b"")
        msg = email.message_from_bytes(raw, policy=policy.default)
        assert msg["Subject"] == f"Grüße {marker}"
        assert msg["To"] == f"Friend <{FRIEND}>"
        body = msg.get_body()
        assert isinstance(body, EmailMessage)
        content = body.get_content()
        assert isinstance(content, str)
        assert content.replace("\r\n", "\n") == BODY  # dots survived the stuffing


def test_smtp_over_ssh_channel_delivers_and_keeps_bcc_off_the_wire(
    sshd: LabSshd, postfix: LabPostfix
) -> None:
    marker = new_marker()
    with short_dir() as work:
        conns = connections(sshd, work, isp(postfix))
        try:
            outbox = Outbox(work / "outbox")
            sent = message(marker)
            attempt = outbox.send_or_keep(
                smtp_sender(conns, ServerSpec("smtp.isp.test")), sent.outgoing
            )
            assert attempt.ok, attempt.describe()
            assert attempt.sent is not None and "channel to ::1" in attempt.sent.via
            assert attempt.sent.reply.startswith("250")
            assert attempt.sent.recipients == (FRIEND, HIDDEN)
            assert outbox.list() == []
            check_delivered(postfix, marker)
        finally:
            stop_masters(conns)


def test_direct_from_outside_is_refused_and_the_message_kept(postfix: LabPostfix) -> None:
    marker = new_marker()
    with short_dir() as work:
        conns = direct_connections(work, direct(postfix.host, postfix.port))
        outbox = Outbox(work / "outbox")
        asked: list[str] = []

        def password() -> str:
            asked.append("asked")
            return "never-sent"

        # /user= asks for a login, but this cleartext route offers none: no password asked.
        sender = smtp_sender(
            conns, parse_server_spec(f"{postfix.host}/user=jane"), password=password
        )
        attempt = outbox.send_or_keep(sender, message(marker).outgoing)
        assert not attempt.ok
        error = attempt.error
        assert isinstance(error, SendError)
        assert error.stage is Stage.RECIPIENTS and not error.temporary
        assert "Relay access denied" in str(error)
        assert "554 5.7.1" in str(error)
        assert error.hint is not None and "ssh rule" in error.hint
        assert asked == []
        [kept] = outbox.list()
        assert kept.last_error is not None and "Relay access denied" in kept.last_error
        assert kept.envelope.recipients == (FRIEND, HIDDEN)
        _, data = outbox.load(kept.key)
        assert f"<{marker}@pinesh.test>".encode() in data
    assert marker not in "".join(m.decode("latin-1") for m in postfix.delivered())


def test_direct_to_the_lab_domain_is_accepted(postfix: LabPostfix) -> None:
    # The same outside route may send to the lab's own domain: the refusal was the relay.
    marker = new_marker()
    draft = Draft(
        sender=Address("", "pineshlab@pinesh.test"),
        to=(Address("", f"anyone@{postfix.domain}"),),
        subject=marker,
        body="local\n",
    )
    with short_dir() as work:
        conns = direct_connections(work, direct(postfix.host, postfix.port))
        composed = compose(draft, domain="pinesh.test", message_id=f"<{marker}@pinesh.test>")
        sent = smtp_sender(conns, ServerSpec(postfix.host)).send(composed.outgoing)
        assert sent.recipients == (f"anyone@{postfix.domain}",)
    assert marker.encode() in postfix.wait_for_delivery(marker.encode())


def test_sendmail_path_delivers_with_bcc(postfix: LabPostfix) -> None:
    marker = new_marker()
    # "-t" as in Pine's default sendmail-path: dropped, the envelope names every recipient.
    sender = SendmailSender([*postfix.sendmail, "-oi", "-t"])
    with short_dir() as work:
        outbox = Outbox(work / "outbox")
        attempt = outbox.send_or_keep(sender, message(marker).outgoing)
        assert attempt.ok, attempt.describe()
        assert outbox.list() == []
    check_delivered(postfix, marker)


def test_smtp_down_keeps_the_message_then_flush_delivers(
    sshd: LabSshd, postfix: LabPostfix
) -> None:
    marker = new_marker()
    closed = free_port("::1")  # nothing listens there: the ssh channel is refused
    with short_dir() as down_work, short_dir() as up_work:
        down = connections(sshd, down_work, isp(postfix, closed))
        up = connections(sshd, up_work, isp(postfix))
        try:
            outbox = Outbox(down_work / "outbox")
            attempt = outbox.send_or_keep(
                smtp_sender(down, ServerSpec("smtp.isp.test")), message(marker).outgoing
            )
            error = attempt.error
            assert isinstance(error, SendError) and error.stage is Stage.CONNECT
            assert error.temporary and "smtp.isp.test" in str(error)
            assert "refused" in str(error).lower()  # ssh's own words: connect failed
            [kept] = outbox.list()
            assert kept.attempts == 1 and kept.last_error is not None
            assert "refused" in kept.last_error.lower()

            results = outbox.flush(smtp_sender(up, ServerSpec("smtp.isp.test")))
            assert [r.ok for r in results] == [True], [r.describe() for r in results]
            assert outbox.list() == []
            check_delivered(postfix, marker)
        finally:
            stop_masters(down)
            stop_masters(up)


# --- sendmail-path: the setting, and programs that fail -------------------------------


def test_sendmail_path_is_split_without_a_shell() -> None:
    assert parse_sendmail_path("/usr/sbin/sendmail -oi -t") == ["/usr/sbin/sendmail", "-oi", "-t"]
    assert parse_sendmail_path('"/opt/my mail/sendmail" -C "/etc/x y"') == [
        "/opt/my mail/sendmail",
        "-C",
        "/etc/x y",
    ]
    for bad in ("/usr/sbin/sendmail -t | tee log", "sendmail; rm -rf ~", "sendmail $OPTS",
                "sendmail `id`", "sendmail > /tmp/x", '"unclosed', ""):  # fmt: skip
        with pytest.raises(PineshError, match="sendmail-path"):
            parse_sendmail_path(bad)


def test_sendmail_command_puts_every_recipient_after_double_dash() -> None:
    assert sendmail_command(["/usr/sbin/sendmail", "-t"], "j@x.org", ("-oQ/tmp@x", "b@y")) == [
        "/usr/sbin/sendmail",
        "-oi",
        "-f",
        "j@x.org",
        "--",
        "-oQ/tmp@x",
        "b@y",
    ]
    assert sendmail_command(["sendmail", "-i"], "", ("b@y",)) == ["sendmail", "-i", "--", "b@y"]


def fake_program(code: str) -> list[str]:
    """A stand-in sendmail-path program (the failures Postfix's sendmail rarely shows)."""
    return [sys.executable, "-c", code]


def test_failing_sendmail_shows_its_words_and_keeps_the_message() -> None:
    sender = SendmailSender(
        fake_program(
            "import sys; sys.stdin.read(); "
            "sys.stderr.write('\\x1b[2Jpostdrop: warning: queue file write error\\n'); "
            "sys.exit(75)"
        )
    )
    with short_dir() as work:
        outbox = Outbox(work / "outbox")
        attempt = outbox.send_or_keep(sender, message(new_marker()).outgoing)
        error = attempt.error
        assert isinstance(error, SendError)
        assert error.temporary  # EX_TEMPFAIL
        assert "queue file write error" in str(error) and "status 75" in str(error)
        assert "\x1b" not in str(error)
        assert len(outbox.list()) == 1


def test_hanging_sendmail_is_stopped() -> None:
    sender = SendmailSender(fake_program("import time; time.sleep(60)"), timeout=0.5)
    with pytest.raises(SendError, match="did not finish") as caught:
        sender.send(message(new_marker()).outgoing)
    assert caught.value.temporary


def test_missing_sendmail_program_is_named() -> None:
    sender = SendmailSender(["/nonexistent/sendmail", "-oi"])
    with pytest.raises(SendError, match="/nonexistent/sendmail") as caught:
        sender.send(message(new_marker()).outgoing)
    assert caught.value.stage is Stage.LOCAL and caught.value.hint is not None


def test_sendmail_gets_lf_line_ends_and_the_envelope() -> None:
    with short_dir() as work:
        record = work / "record"
        code = (
            "import sys; open(sys.argv[1], 'wb').write("
            "repr(sys.argv[2:]).encode() + b'\\n' + sys.stdin.buffer.read())"
        )
        SendmailSender([sys.executable, "-c", code, str(record)]).send(message("m").outgoing)
        argv_line, _, data = record.read_bytes().partition(b"\n")
    assert argv_line.decode() == repr(["-oi", "-f", "pineshlab@pinesh.test", "--", FRIEND, HIDDEN])
    assert b"\r\n" not in data and b"\nSubject: " in data
    assert HIDDEN.encode() not in data
