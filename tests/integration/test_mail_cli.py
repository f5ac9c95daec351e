"""The scriptable command line against the lab: folders, index, show, send, post, outbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import PREAUTH_RULE, isp_rules, short_dir, write_config
from tests.lab.common import free_port
from tests.lab.dovecot import LabDovecot
from tests.lab.inn import LabInn
from tests.lab.maildir_fill import FilledMessage, fill_maildir
from tests.lab.postfix import LabPostfix
from tests.lab.sshd import LabSshd

BIN = Path(sys.executable).parent


class Cli:
    """pinesh run as a user would, with its own HOME, pinerc and config."""

    def __init__(self, work: Path, config: Path) -> None:
        self.work = work
        self.config = config
        self.pinerc = work / "pinerc"
        home = work / "home"
        (home / "mail").mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "HOME": str(home),
            "PINESH_CONFIG": str(config),
            "XDG_DATA_HOME": str(work / "data"),
            "XDG_STATE_HOME": str(work / "st"),
        }

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "pinesh"), "-p", str(self.pinerc), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )

    def json(self, *args: str, stdin: str = "") -> object:
        done = self.run("--json", *args, stdin=stdin)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


@pytest.fixture
def cli(sshd: LabSshd, dovecot: LabDovecot, postfix: LabPostfix, inn: LabInn) -> Iterator[Cli]:
    with short_dir() as work:
        config = write_config(
            sshd,
            work,
            PREAUTH_RULE + isp_rules(postfix.inside_host, postfix.port, inn.host, inn.port),
        )
        runner = Cli(work, config)
        runner.pinerc.write_text(
            "personal-name=Jane Lab\nuser-domain=pinesh.test\n"
            f"inbox-path={{lab/user={sshd.user.name}}}INBOX\n"
            "smtp-server=smtp.isp.test\nnntp-server=news.isp.test\n"
            "default-fcc=sent-mail\n"
        )
        yield runner
        runner.run("ssh", "stop")


@pytest.fixture
def filled(lab_maildir: Path, dovecot: LabDovecot) -> list[FilledMessage]:
    return fill_maildir(lab_maildir, 30, seed=5, owner=dovecot.user)


def test_index_and_show_over_ssh_preauth(cli: Cli, filled: list[FilledMessage]) -> None:
    index = cli.json("index", "INBOX")
    assert isinstance(index, dict)
    assert index["status"]["count"] == 30
    messages = index["messages"]
    assert [m["number"] for m in messages] == list(range(1, 31))
    by_date = sorted(filled, key=lambda m: m.date)
    assert [m["subject"] for m in messages] == [m.subject for m in by_date]
    shown = cli.run("show", "INBOX", "1")
    assert shown.returncode == 0, shown.stderr
    assert "\x1b" not in shown.stdout
    subject_line = next(line for line in shown.stdout.splitlines() if line.startswith("Subject: "))
    assert by_date[0].subject.split()[0] in subject_line
    window = cli.json("index", "INBOX", "--range", "-5", "--sort", "subject")
    assert isinstance(window, dict)
    subjects = [m["subject"] for m in window["messages"]]
    assert len(subjects) == 5


def test_send_through_ssh_channel_with_fcc(cli: Cli, postfix: LabPostfix) -> None:
    marker = f"cli-send-{uuid.uuid4().hex}"
    result = cli.json(
        "send",
        "--to",
        "friend@elsewhere.example",
        "--subject",
        marker,
        stdin="Hello from the command line.\n",
    )
    assert isinstance(result, dict) and result["sent"] is True, result
    delivered = postfix.wait_for_delivery(marker.encode())
    assert b"From: Jane Lab <" in delivered
    fcc = cli.work / "home" / "mail" / "sent-mail"
    assert marker.encode() in fcc.read_bytes()


def test_fcc_and_an_unposted_article_land_in_a_remote_first_collection(
    cli: Cli, sshd: LabSshd, postfix: LabPostfix
) -> None:
    """As Pine: bare sent-mail and postponed-msgs are folders of the first folder
    collection, here the IMAP server's, not ~/mail (where they went before)."""
    server = f"{{lab/user={sshd.user.name}}}"
    with cli.pinerc.open("a") as rc:
        rc.write(f"folder-collections=Remote {server}[], Local mail/[]\n")
    marker = f"cli-fcc-remote-{uuid.uuid4().hex}"
    sent = cli.json(
        "send",
        "--to",
        "friend@elsewhere.example",
        "--subject",
        marker,
        stdin="Kept on the server.\n",
    )
    assert isinstance(sent, dict) and sent["sent"] is True, sent
    postfix.wait_for_delivery(marker.encode())
    for name in ("sent-mail", f"{server}sent-mail"):  # the bare name, and the full one
        index = cli.json("index", name, "--range", "-50")
        assert isinstance(index, dict)
        assert marker in [m["subject"] for m in index["messages"]], name
    assert not (cli.work / "home" / "mail" / "sent-mail").exists()
    unposted = f"cli-unposted-{uuid.uuid4().hex}"
    failed = cli.run(
        "post",
        "--newsgroups",
        "no.such.group.anywhere",
        "--subject",
        unposted,
        stdin="An article the server refuses.\n",
    )
    assert failed.returncode == 2
    assert "not posted: " in failed.stderr and "kept in postponed-msgs" in failed.stderr
    index = cli.json("index", f"{server}postponed-msgs", "--range", "-50")
    assert isinstance(index, dict)
    assert unposted in [m["subject"] for m in index["messages"]]
    assert not (cli.work / "home" / "mail" / "postponed-msgs").exists()


def test_send_with_smtp_down_keeps_the_message_then_flushes(
    sshd: LabSshd, postfix: LabPostfix, inn: LabInn, cli: Cli
) -> None:
    marker = f"cli-outbox-{uuid.uuid4().hex}"
    down = write_config(
        sshd,
        cli.work,
        PREAUTH_RULE + isp_rules(postfix.inside_host, free_port("::1"), inn.host, inn.port),
    )
    cli.env["PINESH_CONFIG"] = str(down)
    failed = cli.run(
        "send", "--to", "friend@elsewhere.example", "--subject", marker, stdin="body\n"
    )
    assert failed.returncode == 1
    assert "kept in the outbox" in failed.stdout
    listed = cli.json("outbox")
    assert isinstance(listed, list) and len(listed) == 1
    assert listed[0]["subject"] == marker
    up = write_config(
        sshd,
        cli.work,
        PREAUTH_RULE + isp_rules(postfix.inside_host, postfix.port, inn.host, inn.port),
    )
    cli.env["PINESH_CONFIG"] = str(up)
    flushed = cli.run("outbox", "flush")
    assert flushed.returncode == 0, flushed.stdout + flushed.stderr
    postfix.wait_for_delivery(marker.encode())
    assert cli.json("outbox") == []


def test_post_and_read_news(cli: Cli) -> None:
    marker = f"cli-post-{uuid.uuid4().hex}"
    posted = cli.run("post", "--newsgroups", "local.test", "--subject", marker, stdin="news body\n")
    assert posted.returncode == 0, posted.stderr
    index = cli.json("index", "#news.local.test", "--range", "-200")
    assert isinstance(index, dict)
    assert marker in [m["subject"] for m in index["messages"]]


def test_folders_lists_collections(cli: Cli) -> None:
    (cli.work / "home" / "mail" / "saved").write_bytes(
        b"From a@b Mon Jan  1 00:00:00 2024\nSubject: x\n\nbody\n"
    )
    listing = cli.json("folders")
    assert isinstance(listing, list)
    names = [f["display"] for group in listing for f in group["folders"]]
    assert "saved" in names


def test_errors_are_clear_not_tracebacks(cli: Cli) -> None:
    done = cli.run("show", "INBOX", "99999")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "has no message 99999" in done.stderr
    bad = cli.run("index", "{-oProxyCommand=x}INBOX")
    assert bad.returncode == 2 and "refusing host name" in bad.stderr


def test_signed_mail_and_a_signed_article_arrive_with_good_signatures(
    cli: Cli, postfix: LabPostfix
) -> None:
    """What pinesh signs crosses the ISP's Postfix and INN byte for byte: the delivered
    mail and the posted article both still verify."""
    from pinesh.stores.gpg_status import Verdict
    from tests.unit.gpg_keyring import gpg, signature_report

    keyring = cli.work / "gnupg"
    keyring.mkdir(mode=0o700)
    gpg(keyring, "--passphrase", "", "--quick-gen-key", "Jane Lab <jane@pinesh.test>",
        "future-default", "default", "never")  # fmt: skip
    cli.env.update(GNUPGHOME=str(keyring), LOGNAME="jane", USER="jane")
    marker = f"cli-signed-{uuid.uuid4().hex}"
    body = "Signed through the ISP.\nFrom here on, trailing space: \n"
    sent = cli.json("send", "--to", "friend@elsewhere.example", "--subject", marker, "--sign",
                    stdin=body)  # fmt: skip
    assert isinstance(sent, dict) and sent["sent"] is True, sent
    assert sent["sealed"] == "signed (PGP/MIME)"
    delivered = postfix.wait_for_delivery(marker.encode())
    report = signature_report(delivered, {**os.environ, "GNUPGHOME": str(keyring)})
    assert report is not None and report.verdict is Verdict.GOOD, report
    article = f"cli-signed-post-{uuid.uuid4().hex}"
    posted = cli.run("post", "--newsgroups", "local.test", "--subject", article, "--sign",
                     stdin="A signed article.\n")  # fmt: skip
    assert posted.returncode == 0, posted.stderr
    index = cli.json("index", "#news.local.test", "--range", "-200")
    assert isinstance(index, dict)
    number = next(m["number"] for m in index["messages"] if m["subject"] == article)
    shown = cli.json("show", "#news.local.test", str(number))
    assert isinstance(shown, dict)
    assert shown["signature"]["verdict"] == "good", shown
    assert [span["scheme"] for span in shown["protected_text"]] == ["inline PGP"]
    assert "A signed article." in shown["text"] and "BEGIN PGP" not in shown["text"]
