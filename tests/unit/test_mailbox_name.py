"""MailboxName.format(): Pine's mailbox names written back, so that parsing reads them again."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinesh.config.pine_settings import BadServerSetting
from pinesh.config.server_spec import ServerSpec
from pinesh.errors import PineshError
from pinesh.stores.names import (
    Driver,
    MailboxName,
    NameContext,
    parse_collection_name,
    parse_mailbox_name,
)

HOME = Path("/home/jane")
MAIL = ServerSpec("mail.example.org", mailbox_user="jane")
NEWS = ServerSpec("news.example.org")
CONTEXT = NameContext(HOME, nntp_server=NEWS, local_user="jane")

ROUND_TRIPS = [
    MailboxName(Driver.IMAP, "INBOX", MAIL),
    MailboxName(Driver.IMAP, "mail/saved", ServerSpec("[::1]", port=1143, notls=True)),
    MailboxName(Driver.IMAP, "Dossier/Écrits", MAIL),  # non-ASCII stays as it is
    MailboxName(Driver.IMAP, "a}b", MAIL),  # a '}' in the mailbox: the first one ends the server
    MailboxName(Driver.IMAP, "with space", MAIL),
    MailboxName(Driver.IMAP, "{x}y", MAIL),  # braces inside the mailbox
    MailboxName(Driver.NNTP, "comp.lang.python", NEWS),  # the nntp-server: #news.group
    MailboxName(Driver.NNTP, "comp.lang", ServerSpec("news.example.org", service="nntp")),
    MailboxName(Driver.NNTP, "local.test", ServerSpec("other.example.org")),
    MailboxName(Driver.NNTP, "", NEWS),  # every group
    MailboxName(Driver.MAILDIR, "/home/jane/Maildir"),
    MailboxName(Driver.MAILDIR, "/home/jane/dir with space"),
    MailboxName(Driver.MBOX, "/home/jane/mail/saved-messages"),
    MailboxName(Driver.MBOX, "/home/jane/mail/#odd"),  # '#' inside a path is no namespace
    MailboxName(Driver.MBOX, "/home/jane/mail/INBOX"),  # a file named INBOX is a file
]


@pytest.mark.parametrize("mailbox", ROUND_TRIPS, ids=lambda m: m.format(CONTEXT))
def test_format_is_what_parsing_reads_back(mailbox: MailboxName) -> None:
    assert parse_mailbox_name(mailbox.format(CONTEXT), CONTEXT) == mailbox


@pytest.mark.parametrize(
    ("mailbox", "written"),
    [
        (MailboxName(Driver.IMAP, "INBOX", MAIL), "{mail.example.org/user=jane}INBOX"),
        (MailboxName(Driver.NNTP, "comp.lang", NEWS), "#news.comp.lang"),
        (
            MailboxName(Driver.NNTP, "comp.lang", ServerSpec("news.example.org", service="nntp")),
            "{news.example.org/nntp}#news.comp.lang",
        ),
        (MailboxName(Driver.MAILDIR, "/home/jane/Maildir"), "#md//home/jane/Maildir"),
        (MailboxName(Driver.MBOX, "/var/mail/jane"), "/var/mail/jane"),
    ],
)
def test_format_writes_pines_syntax(mailbox: MailboxName, written: str) -> None:
    assert mailbox.format(CONTEXT) == written


def test_news_without_an_nntp_server_is_written_with_its_server() -> None:
    bare = NameContext(HOME)
    mailbox = MailboxName(Driver.NNTP, "comp.lang", NEWS)
    assert mailbox.format(bare) == "{news.example.org}#news.comp.lang"
    assert parse_mailbox_name(mailbox.format(bare), bare) == mailbox


@pytest.mark.parametrize(
    "text",
    [
        "{mail.example.org/user=jane}mail/saved",
        "{news.example.org/nntp}#news.comp.lang",
        "#news.comp.lang",
        "#md/Maildir",
        "saved-messages",
    ],
)
def test_a_parsed_name_formats_to_a_name_of_the_same_mailbox(text: str) -> None:
    parsed = parse_mailbox_name(text, CONTEXT)
    assert parse_mailbox_name(parsed.format(CONTEXT), CONTEXT) == parsed


def test_spellings_of_one_name_parse_to_one_value() -> None:
    a = parse_mailbox_name("{mail.example.org/user=jane}x", CONTEXT)
    b = parse_mailbox_name("{mail.example.org/USER=jane/secure}x", CONTEXT)
    assert a == b


# --- collections ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "driver", "prefix", "written"),
    [
        ("{mail.example.org/user=jane}mail/", Driver.IMAP, "mail/", None),
        ("{mail.example.org/user=jane}", Driver.IMAP, "", None),  # not INBOX: every folder
        ("{news.example.org/nntp}#news.comp.", Driver.NNTP, "comp.", None),
        ("{news.example.org/nntp}", Driver.NNTP, "", "{news.example.org/nntp}#news."),
        ("#news.", Driver.NNTP, "", None),
    ],
)
def test_collection_names_keep_their_prefix(
    text: str, driver: Driver, prefix: str, written: str | None
) -> None:
    collection = parse_collection_name(text, CONTEXT)
    assert collection is not None
    assert (collection.driver, collection.mailbox) == (driver, prefix)
    assert collection.format(CONTEXT) == (written or text)
    assert parse_collection_name(collection.format(CONTEXT), CONTEXT) == collection


def test_local_collections_are_not_remote() -> None:
    assert parse_collection_name("mail/", CONTEXT) is None


def test_news_on_an_nntp_server_that_did_not_parse_says_which_setting_to_fix() -> None:
    bad = BadServerSetting("nntp-server", "server 'news:x': port 'x' is not a number")
    context = NameContext(HOME, nntp_server=bad)
    with pytest.raises(PineshError, match=r"^pinerc nntp-server: server 'news:x': port 'x'"):
        parse_mailbox_name("#news.comp.lang", context)
    # A group on a server named in full is no group of the unparsed nntp-server.
    mailbox = MailboxName(Driver.NNTP, "comp.lang", NEWS)
    assert mailbox.format(context) == "{news.example.org}#news.comp.lang"


@pytest.mark.parametrize("text", ["~\x00x/saved", "saved\x00messages", "#md/Mail\x00dir"])
def test_a_name_with_a_nul_is_refused_with_a_pinesh_error(text: str) -> None:
    with pytest.raises(PineshError, match="NUL"):
        parse_mailbox_name(text, CONTEXT)


def test_a_name_too_long_for_the_file_system_is_a_local_mailbox(tmp_path: Path) -> None:
    # A component over 255 bytes under a home that exists: the lookup fails with
    # ENAMETOOLONG, which is no Maildir (as a missing directory is none).
    (tmp_path / "mail").mkdir()
    context = NameContext(tmp_path, local_user="jane")
    name = parse_mailbox_name("x" * 300, context)
    assert (name.driver, name.mailbox) == (Driver.MBOX, str(tmp_path / "mail" / ("x" * 300)))


@pytest.mark.parametrize(
    ("collection", "name", "expected"),
    [
        ("{mail.example.org/user=jane}", "sent-mail", MailboxName(Driver.IMAP, "sent-mail", MAIL)),
        (
            "{mail.example.org/user=jane}INBOX.",
            "postponed-msgs",
            MailboxName(Driver.IMAP, "INBOX.postponed-msgs", MAIL),
        ),
        (
            "{mail.example.org/user=jane}mail/",
            "=saved",  # mutt's = is the same place
            MailboxName(Driver.IMAP, "mail/saved", MAIL),
        ),
        ("mail/", "sent-mail", MailboxName(Driver.MBOX, "/home/jane/mail/sent-mail")),
        ("Archive/", "work/2026", MailboxName(Driver.MBOX, "/home/jane/Archive/work/2026")),
        ("/srv/mail/jane/", "kept", MailboxName(Driver.MBOX, "/srv/mail/jane/kept")),
        (
            "{mail.example.org/user=jane}",
            "/home/jane/local",  # a path stays a path
            MailboxName(Driver.MBOX, "/home/jane/local"),
        ),
        ("{mail.example.org/user=jane}", "~/old", MailboxName(Driver.MBOX, "/home/jane/old")),
        (
            "{mail.example.org/user=jane}",
            "INBOX",
            MailboxName(Driver.MBOX, "/var/mail/jane"),
        ),  # INBOX is the inbox, never a folder
    ],
)
def test_a_bare_name_is_a_folder_of_the_default_collection(
    collection: str, name: str, expected: MailboxName, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAIL", raising=False)
    monkeypatch.setenv("HOME", str(HOME))  # ~ is the user's home, as the shell has it
    context = NameContext(HOME, local_user="jane", default_collection=collection)
    assert parse_mailbox_name(name, context) == expected


def test_an_equals_sign_alone_names_no_folder() -> None:
    with pytest.raises(PineshError, match="no folder name after '='"):
        parse_mailbox_name("=", CONTEXT)


def test_the_default_collection_is_the_first_folder_collection_else_mail_directory() -> None:
    from pinesh.config.pine_settings import pine_settings
    from pinesh.config.pinerc import parse_pinerc

    def collection(text: str) -> str:
        return pine_settings(parse_pinerc(text, "/rc")).default_collection

    assert collection("") == "mail/"
    assert collection("mail-directory=Mail\n") == "Mail/"
    assert (
        collection("folder-collections=Remote {mailhost/user=me}[], Local mail/[]\n")
        == "{mailhost/user=me}"
    )
    assert collection('folder-collections="My mail" {h}INBOX.[]\n') == "{h}INBOX."
