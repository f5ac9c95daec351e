"""Mail and news through the ISP that serves only its own network, from home across a link.

The ISP's Postfix relays only for 198.51.100.0/24 and its INN lets only that network read
and post. From home, a direct connection is refused by the servers themselves; pinesh's
stdio channels through the ISP's shell server arrive from inside and are served. At the
ISP itself, the rule's direct_when sends both straight to the servers, and the route memory
keeps what it learnt on each network apart.
"""

from __future__ import annotations

import json
import smtplib
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import short_dir
from tests.integration.netlab_helpers import pinesh_json, stop_masters, write_home_files
from tests.lab.netlab import NetLab
from tests.lab.netlab_network import HOME_ADDRESS, NEWS_ADDRESS, SHELL_ADDRESS, SMTP_ADDRESS
from tests.lab.netns import call_in, socket_in


@pytest.fixture
def work(netlab: NetLab) -> Iterator[Path]:
    with short_dir() as path:
        write_home_files(netlab, path)
        yield path
        stop_masters(path)


def _try_post(sock: socket.socket) -> tuple[bytes, bytes]:
    """The greeting, and the answer to MODE READER and POST (b"" once the server hung up)."""
    replies = sock.makefile("rb")
    greeting = replies.readline()
    try:
        sock.sendall(b"MODE READER\r\nPOST\r\n")
        answers = replies.readline() + replies.readline()
    except OSError:
        answers = b""
    return greeting, answers


def _article_at_isp(lab: NetLab, message_id: str) -> bytes:
    """The article with message_id as the ISP's news server serves it to its own network."""
    with socket_in(lab.net.isp, NEWS_ADDRESS, 119) as sock:
        replies = sock.makefile("rb")
        replies.readline()
        sock.sendall(b"MODE READER\r\n")
        replies.readline()
        sock.sendall(f"ARTICLE {message_id}\r\n".encode())
        status = replies.readline()
        if not status.startswith(b"220"):
            return status
        body = b""
        while (line := replies.readline()) not in (b".\r\n", b""):
            body += line
        return body


def test_direct_smtp_from_home_is_refused_relay(netlab: NetLab) -> None:
    def send() -> None:
        with smtplib.SMTP(SMTP_ADDRESS, 25, timeout=10) as smtp:
            smtp.sendmail("me@home.example", ["friend@example.com"], b"Subject: x\r\n\r\nx\r\n")

    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        call_in(netlab.net.home, send)
    code, reason = refused.value.recipients["friend@example.com"]
    assert code == 554
    assert b"Relay access denied" in reason


def test_smtp_through_the_isp_shell_is_delivered(netlab: NetLab, work: Path) -> None:
    marker = f"marker-{uuid.uuid4().hex}"
    auths = netlab.shell.authentications()
    result = pinesh_json(
        netlab, work, "send", "--to", "friend@example.com", "--subject", "via the ISP",
        input=f"Sent from home through the ISP's shell server.\n{marker}\n",
    )  # fmt: skip
    assert result["sent"] is True, result
    assert "shell.isp.example" in result["result"]
    delivered = netlab.postfix.wait_for_delivery(marker.encode())
    assert b"friend@example.com" in delivered
    # Postfix saw the mail come from inside (its Received: line): the shell server, not home.
    received = delivered.split(b"\r\n\r\n" if b"\r\n\r\n" in delivered else b"\n\n")[0]
    assert f"[{SHELL_ADDRESS}]".encode() in received
    assert HOME_ADDRESS.encode() not in received
    assert netlab.shell.authentications() - auths == 1


def test_direct_nntp_from_home_is_refused(netlab: NetLab) -> None:
    with socket_in(netlab.net.home, NEWS_ADDRESS, 119) as sock:
        greeting, answers = _try_post(sock)
    assert greeting.startswith(b"502 You have no permission"), greeting
    assert b"340" not in answers  # INN hung up: no article can be sent


def test_nntp_through_the_isp_shell_is_posted_and_readable(netlab: NetLab, work: Path) -> None:
    marker = f"marker-{uuid.uuid4().hex}"
    result = pinesh_json(
        netlab, work, "post", "--newsgroups", "local.test", "--subject", "via the ISP",
        input=f"Posted from home through the ISP's shell server.\n{marker}\n",
    )  # fmt: skip
    assert result["posted"] is True
    article = _article_at_isp(netlab, result["message_id"])
    assert marker.encode() in article, article


def test_at_the_isp_mail_and_news_go_direct_and_routes_are_kept_per_network(
    netlab: NetLab, work: Path
) -> None:
    auths = netlab.shell.authentications()
    home = pinesh_json(
        netlab, work, "send", "--to", "friend@example.com", "--subject", "from home",
        input="from home\n",
    )  # fmt: skip
    assert "shell.isp.example" in home["result"]
    marker = f"marker-{uuid.uuid4().hex}"
    at_isp = pinesh_json(
        netlab, work, "send", "--to", "friend@example.com", "--subject", "at the ISP",
        input=f"from inside\n{marker}\n", where="isp",
    )  # fmt: skip
    assert at_isp["sent"] is True
    assert "shell.isp.example" not in at_isp["result"]
    assert "smtp.isp.example:25" in at_isp["result"]
    netlab.postfix.wait_for_delivery(marker.encode())
    posted = pinesh_json(
        netlab, work, "post", "--newsgroups", "local.test", "--subject", "at the ISP",
        input=f"posted from inside\n{marker}\n", where="isp",
    )  # fmt: skip
    assert marker.encode() in _article_at_isp(netlab, posted["message_id"])
    # Only the send from home logged in to the shell server.
    assert netlab.shell.authentications() - auths == 1

    memory = json.loads((work / "state" / "routes.json").read_text())
    good = sorted(routes["smtp:smtp.isp.example"].get("good", "") for routes in memory.values())
    # Two networks (home's and the ISP's gateways and domains), each with its own route.
    assert good == [
        "plain:smtp.isp.example:25",
        "ssh-channel:shell.isp.example>smtp.isp.example:25",
    ], memory
