"""Typed pinerc settings and Pine's mailbox names."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinesh.config.pine_settings import (
    BadServerSetting,
    Collection,
    ServerSetting,
    parse_collection,
    pine_settings,
)
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.server_spec import ServerSpec
from pinesh.errors import PineshError
from pinesh.stores.names import Driver, NameContext, parse_mailbox_name

PINERC = """# Alpine's own comments
personal-name="Jane Q. Doe"
user-domain=example.org
inbox-path={mail.example.org/user=jane}INBOX
folder-collections=Mail {mail.example.org/user=jane}mail/[],
\t"Local Mail" mail/[*.box]
news-collections=News {news.example.org/nntp}#news.[]
default-fcc={mail.example.org/user=jane}mail/sent
smtp-server=smtp.isp.example/submit/user=jane, backup.isp.example
nntp-server=news.example.org
sendmail-path=/usr/sbin/sendmail -oi -t
signature-file=~/.signature
customized-hdrs=Reply-To: jane@example.org, X-Clacks: GNU
feature-list=enable-full-header-cmd, quit-without-confirm, no-quit-without-confirm
some-future-variable=kept
"""


def test_the_variables_pinesh_reads() -> None:
    settings = pine_settings(parse_pinerc(PINERC, "/home/jane/.pinerc"))
    assert settings.personal_name == "Jane Q. Doe"
    assert settings.user_domain == "example.org"
    assert settings.inbox_path == "{mail.example.org/user=jane}INBOX"
    assert settings.folder_collections == (
        Collection("Mail", "{mail.example.org/user=jane}mail/", ""),
        Collection("Local Mail", "mail/", "*.box"),
    )
    assert settings.news_collections[0].name == "{news.example.org/nntp}#news."
    assert settings.smtp_servers == (
        ServerSetting(
            "smtp.isp.example/submit/user=jane",
            ServerSpec("smtp.isp.example", mailbox_user="jane", submit=True),
        ),
        ServerSetting("backup.isp.example", ServerSpec("backup.isp.example")),
    )
    assert settings.sendmail_path == "/usr/sbin/sendmail -oi -t"
    assert settings.signature_file == Path.home() / ".signature"
    assert settings.customized_hdrs == ("Reply-To: jane@example.org", "X-Clacks: GNU")
    assert settings.feature("enable-full-header-cmd")
    assert not settings.feature("quit-without-confirm")  # turned off again by no-


def test_unknown_variables_are_kept() -> None:
    rc = parse_pinerc(PINERC, "x")
    assert rc.get("some-future-variable") == "kept"
    assert rc.problems == []


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("Mail {h}mail/[]", Collection("Mail", "{h}mail/", "")),
        ('"My Mail" {h}x/[a*]', Collection("My Mail", "{h}x/", "a*")),
        ("{h}INBOX", Collection("{h}INBOX", "{h}INBOX", "")),
    ],
)
def test_collections(item: str, expected: Collection) -> None:
    assert parse_collection(item) == expected


CONTEXT = NameContext(
    Path("/home/jane"), "{mail.example.org/user=jane}INBOX", ServerSpec("news.example.org"), "jane"
)


@pytest.mark.parametrize(
    ("name", "driver", "mailbox", "host"),
    [
        ("{mail.example.org:993/ssl/user=jane}mail/x", Driver.IMAP, "mail/x", "mail.example.org"),
        (
            "{news.example.org/nntp}#news.comp.lang.python",
            Driver.NNTP,
            "comp.lang.python",
            "news.example.org",
        ),
        ("#news.local.test", Driver.NNTP, "local.test", "news.example.org"),
        ("INBOX", Driver.IMAP, "INBOX", "mail.example.org"),
        ("inbox", Driver.IMAP, "INBOX", "mail.example.org"),
        ("saved-messages", Driver.MBOX, "/home/jane/mail/saved-messages", None),
        ("~/other/box", Driver.MBOX, str(Path.home() / "other/box"), None),
        ("#md/Maildir", Driver.MAILDIR, "/home/jane/Maildir", None),
    ],
)
def test_mailbox_names_pick_the_driver(
    name: str, driver: Driver, mailbox: str, host: str | None
) -> None:
    parsed = parse_mailbox_name(name, CONTEXT)
    assert parsed.driver is driver
    assert parsed.mailbox == mailbox
    assert (parsed.server.host if parsed.server else None) == host


@pytest.mark.parametrize(
    "name",
    [
        "",
        "{mail.example.org",
        "{-oProxyCommand=x}INBOX",
        "{h/pop3}INBOX",
        "#weird/x",
        "{h/tls/notls}INBOX",
    ],
)
def test_bad_mailbox_names_are_clear_errors(name: str) -> None:
    with pytest.raises(PineshError):
        parse_mailbox_name(name, CONTEXT)


def test_news_without_a_server_says_what_to_set() -> None:
    with pytest.raises(PineshError, match="nntp-server"):
        parse_mailbox_name("#news.x", NameContext(Path("/home/jane")))


def test_a_server_setting_that_does_not_parse_is_kept_as_written_with_why() -> None:
    rc = parse_pinerc("smtp-server=smtp.isp.example/bogus\nnntp-server=news:x\n", "x")
    settings = pine_settings(rc)  # loading does not fail: the program stays up
    [smtp] = settings.smtp_servers
    assert smtp.text == "smtp.isp.example/bogus"
    assert isinstance(smtp.server, BadServerSetting)
    assert smtp.server.setting == "smtp-server"
    assert smtp.server.reason == "server 'smtp.isp.example/bogus': unknown flag '/bogus'"
    with pytest.raises(PineshError, match=r"^pinerc smtp-server: .*unknown flag '/bogus'") as info:
        smtp.spec()
    assert info.value.hint is not None and "/user=NAME" in info.value.hint
    [nntp] = settings.nntp_servers
    assert nntp.text == "news:x"
    with pytest.raises(
        PineshError, match=r"^pinerc nntp-server: .*port 'x' is not a number"
    ) as info:
        nntp.spec()
    assert info.value.hint == "write nntp-server as host[:port][/flag...] in your pinerc"


@pytest.mark.parametrize(
    ("line", "seconds", "problem"),
    [
        ("", 60, None),  # not set: pinesh's own 60 s
        ("mail-check-interval=300\n", 300, None),
        ("mail-check-interval=0\n", 0, None),  # never
        (
            "mail-check-interval=soon\n",
            60,
            "'soon' is not a number of seconds; using 60",
        ),
        (
            "mail-check-interval=-5\n",
            60,
            "'-5' is not a number of seconds; using 60",
        ),
    ],
)
def test_the_mail_check_interval_comes_from_the_pinerc(
    line: str, seconds: int, problem: str | None
) -> None:
    rc = parse_pinerc(line, "pinerc")
    assert pine_settings(rc).mail_check_interval == seconds
    messages = [p.message for p in rc.problems]
    where = "pinerc:1: mail-check-interval: "
    assert messages == ([] if problem is None else [where + problem])


def test_sort_key_is_read_with_reverse_and_a_wrong_one_is_a_problem() -> None:
    from pinesh.config.pine_settings import pine_settings as read
    from pinesh.config.pinerc import parse_pinerc as parse

    def order(text: str) -> tuple[str, bool]:
        pine = read(parse(f"sort-key={text}\n", "/rc"))
        return pine.sort_key, pine.sort_reverse

    assert order("Date/Reverse") == ("date", True)
    assert order("subject") == ("subject", False)
    assert order("OrderedSubj") == ("thread", False)
    rc = parse("sort-key=Score\n", "/rc")
    assert (read(rc).sort_key, read(rc).sort_reverse) == ("arrival", False)
    assert "'Score' is not an order pinesh knows; using Arrival" in str(rc.problems[0])
