"""Small defects from a review of the services: each test failed before its fix."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.errors import PineshError
from pinesh.senders.compose import Draft, compose, parse_typed_addresses
from pinesh.senders.outbox import Outbox
from pinesh.services import composing, sending
from pinesh.services.addressbook import AddressBookError, make_entry
from pinesh.services.addressbook_file import read_addressbook, write_addressbook
from pinesh.services.composing import post_and_mail
from pinesh.services.connections import Connections
from pinesh.services.folder_view import FolderView
from pinesh.services.mail import MailSession
from pinesh.services.postponed import (
    list_postponed,
    postpone,
    postponed_bytes,
    request_from_postponed,
    resume,
)
from pinesh.services.replying import ComposeRequest
from pinesh.stores.base import Address, Flag, StoreError
from tests.lab.maildir_fill import fill_maildir
from tests.unit.test_outbox import FakeSender

ME = Address("Me Myself", "me@pinesh.test")


def session(tmp: Path, extra: str = "", data_dir: Path | None = None) -> MailSession:
    rc = parse_pinerc(f"user-domain=pinesh.test\n{extra}", str(tmp / "pinerc"))
    return MailSession(
        Connections(Settings(), rc), pine_settings(rc), data_dir=data_dir or tmp / "data"
    )


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr("getpass.getuser", lambda: "me")
    return tmp_path


# --- 1. the address book: control characters in a record ---------------------------------

GOOD = b"jane\tJane Doe\tjane@example.org\n"


@pytest.mark.parametrize(
    "record",
    [
        b"evil\tEvil\tevil@exa\x7fmple.org\n",  # DEL
        b"evil\tEvil\tevil@example.org\x1b[2J\n",  # ESC sequence
        b"evil\tEvil\tevil@ex\xc2\x9bample.org\n",  # C1 CSI, UTF-8
        b"evil\tEvil\t(a@example.org, b\x85@example.org)\n",  # C1 NEL (Latin-1), a list
        b"evil\tEvil\t(a@example.org,\n   b@exa\x1bmple.org)\n",  # a continued list
    ],
)
def test_a_record_with_control_characters_in_its_address_is_refused_and_kept(
    tmp_path: Path, record: bytes
) -> None:
    # Was: read, and "evil" expanded to the address as it was, into To or Cc.
    path = tmp_path / ".addressbook"
    path.write_bytes(GOOD + record)
    book = read_addressbook(path)
    assert book.find("evil") is None
    assert book.expand("evil, jane") == "evil, Jane Doe <jane@example.org>"
    assert book.unknown_nicknames("evil") == ("evil",)
    assert book.problems == (
        f"{path} line 2: the address holds control characters (escape sequences?); "
        "the line is kept as it is",
    )
    write_addressbook(book.with_entry(make_entry("amy", "Amy", "amy@example.org")))
    data = path.read_bytes()
    assert data.startswith(GOOD) and record in data  # kept byte for byte


@pytest.mark.parametrize(
    ("record", "nickname", "expanded"),
    [
        # A C1 CSI in the full name went through compose into the To header, as
        # =?utf-8?q?Ev=C2=9B2Jil?=: the terminal showing that header would obey it.
        (b"evil\tEv\xc2\x9b2Jil\tevil@example.org\n", "evil", '"Ev\\\\x9b2Jil" <evil@example.org>'),
        (b"evil\t\x1b]0;pwned\x07Evil\tevil@example.org\n", "evil",
         '"\\\\x1b]0;pwned\\\\x07Evil" <evil@example.org>'),
        (b"evil\tM\xfcller \x9b2J\tevil@example.org\n", "evil",  # Latin-1 file
         '"M\u00fcller \\\\x9b2J" <evil@example.org>'),
        (b"ev\x07il\tEvil\tevil@example.org\tsent\x1b[2J\tsaid \x9b hi\n", "ev\\x07il",
         "Evil <evil@example.org>"),
    ],
)  # fmt: skip
def test_control_characters_in_the_other_fields_are_made_inert(
    tmp_path: Path, record: bytes, nickname: str, expanded: str
) -> None:
    path = tmp_path / ".addressbook"
    path.write_bytes(GOOD + record)
    book = read_addressbook(path)
    assert book.problems == ()
    entry = book.find(nickname)
    assert entry is not None
    texts = (entry.nickname, entry.fullname, entry.fcc, entry.comment, *entry.addresses)
    assert not any(ch < " " or "\x7f" <= ch <= "\x9f" for text in texts for ch in text)
    assert book.expand(nickname) == expanded
    # What compose puts in the To header holds no control character either.
    draft = Draft(sender=ME, to=tuple(parse_typed_addresses(expanded, "To")), subject="s", body="b")
    head = compose(draft, domain="pinesh.test").wire.partition(b"\r\n\r\n")[0]
    assert b"=C2=9B" not in head and b"=1B" not in head.upper()
    assert not any(byte < 0x20 and byte not in b"\r\n" for byte in head)
    # The file keeps its own bytes when another entry changes.
    write_addressbook(book.with_entry(make_entry("amy", "Amy", "amy@example.org")))
    assert path.read_bytes().startswith(GOOD + record)


def test_a_tab_between_the_comment_words_is_no_control_character(tmp_path: Path) -> None:
    path = tmp_path / ".addressbook"
    path.write_bytes(b"bob\tBob\tbob@example.org\tbob-mail\tmet\tin Paris\n")
    book = read_addressbook(path)
    assert book.problems == ()
    entry = book.find("bob")
    assert entry is not None and entry.comment == "met\tin Paris" and entry.source is None


@pytest.mark.parametrize("name", ["Ev\x9b2Jil", "Ev\x85il", "Evil\x7f"])
def test_an_entry_typed_with_c1_or_del_is_refused(name: str) -> None:
    with pytest.raises(AddressBookError, match="the full name holds"):
        make_entry("evil", name, "evil@example.org")


# --- 2. postponed messages: DEL and C1 as well as C0 ------------------------------------


def test_a_postponed_message_read_back_has_no_c1_or_del() -> None:
    # Was: only C0 was taken out: a C1 CSI (\xc2\x9b) or DEL came back into the draft.
    raw = (
        b"From: me@pinesh.test\r\n"
        b"To: =?utf-8?q?Ev=C2=9B2Jil?= <evil@example.org>\r\n"
        b"Subject: =?utf-8?q?a=C2=9B6n_b=7Fc=C2=85d?=\r\n"
        b"Fcc: sent\xc2\x9b2J\r\n"
        b"Message-ID: <p@pinesh.test>\r\n\r\nbody\r\n"
    )
    request = request_from_postponed(raw, fallback_sender=ME)
    assert request.draft.to == (Address("Ev 2Jil", "evil@example.org"),)
    assert request.draft.subject == "a 6n b c d"
    assert request.fcc == "sent 2J"


def test_postponing_writes_no_c1_into_the_address_headers() -> None:
    draft = Draft(sender=ME, to=(Address("Ev\x9b2Jil", "evil@example.org"),), subject="s")
    data = postponed_bytes(ComposeRequest(draft, fcc="sent\x852"), domain="pinesh.test")
    head = data.partition(b"\r\n\r\n")[0]
    assert b"To: Ev 2Jil <evil@example.org>\r\n" in head
    assert b"Fcc: sent 2\r\n" in head
    assert b"\xc2\x9b" not in head and b"\xc2\x85" not in head and b"=C2=" not in head


# --- 3. posting and mailing at once: the article is posted once ---------------------------


class Poster:
    """post_article's stand-in at the service boundary: keeps what it was asked to post."""

    def __init__(self) -> None:
        self.posted: list[tuple[list[str], str]] = []

    def __call__(
        self,
        session: MailSession,
        groups: list[str],
        subject: str,
        body: str,
        references: str | None = None,
    ) -> str:
        self.posted.append((groups, subject))
        return "<posted@pinesh.test>"


def both() -> ComposeRequest:
    """To Bob, and to local.test: a message that is mailed and posted."""
    draft = Draft(
        sender=ME, to=(Address("Bob", "bob@example.org"),), subject="Plans", body="hello\n"
    )
    return ComposeRequest(draft, newsgroups=("local.test",), fcc="")


def test_mail_failing_after_the_post_keeps_the_mail_alone(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Was: "Not sent: ...; Posted to local.test", and the mail was lost (nothing kept).
    poster = Poster()
    monkeypatch.setattr(composing, "post_article", poster)
    (home / "data").write_bytes(b"")  # the outbox cannot be made: send_draft raises
    me = session(home)
    delivery = post_and_mail(me, both())
    assert poster.posted == [(["local.test"], "Plans")]
    assert delivery.sent and delivery.posted == ("local.test",)
    summary = delivery.summary()
    assert summary.startswith("Posted to local.test; the mail was not sent: cannot create")
    assert summary.endswith(
        "; the mail alone is kept in postponed-msgs, without the Newsgroups: resume it "
        "(Compose) to send it; the article is not posted again"
    )
    [kept] = list_postponed(me)
    resumed = resume(me, kept.uid)
    assert resumed.newsgroups == ()
    assert resumed.draft.to == (Address("Bob", "bob@example.org"),)


def test_resending_a_resumed_message_does_not_post_it_twice(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Was: the postponed copy (with its Newsgroups) stayed; resuming and sending it
    # posted the article a second time.
    poster = Poster()
    monkeypatch.setattr(composing, "post_article", poster)
    ok = session(home)
    postpone(ok, both())
    [waiting] = list_postponed(ok)
    first = resume(ok, waiting.uid)
    assert first.newsgroups == ("local.test",)

    (home / "broken").write_bytes(b"")  # no outbox: the mail fails outright
    failed = post_and_mail(session(home, data_dir=home / "broken"), first)
    assert failed.posted == ("local.test",) and failed.mail is None
    [again] = list_postponed(ok)  # one copy: the old one, with the Newsgroups, is gone
    second = resume(ok, again.uid)
    assert second.newsgroups == ()

    sender = FakeSender(Outbox(home / "data" / "outbox"), [None])
    monkeypatch.setattr(sending, "choose_sender", lambda session: sender)
    delivery = post_and_mail(ok, second)
    assert delivery.summary() == "Message sent"
    assert [o.envelope.recipients for o in sender.sent] == [("bob@example.org",)]
    assert poster.posted == [(["local.test"], "Plans")]  # once, not twice
    assert list_postponed(ok) == []


def test_mail_kept_in_the_outbox_after_the_post_is_not_postponed(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The outbox holds the mail only (no Newsgroups): a flush cannot post again, and
    # the resumed copy goes, as before.
    poster = Poster()
    monkeypatch.setattr(composing, "post_article", poster)
    me = session(home)
    postpone(me, both())
    [waiting] = list_postponed(me)
    request = resume(me, waiting.uid)
    sender = FakeSender(Outbox(home / "data" / "outbox"), [PineshError("connection refused")])
    monkeypatch.setattr(sending, "choose_sender", lambda session: sender)
    delivery = post_and_mail(me, request)
    assert delivery.summary() == (
        "Not sent: connection refused; kept in the outbox (pinesh outbox flush); "
        "Posted to local.test"
    )
    assert list_postponed(me) == []
    [kept] = Outbox(home / "data" / "outbox").list()
    assert b"Newsgroups" not in Outbox(home / "data" / "outbox").load(kept.key)[1]


def test_a_failed_post_still_raises_and_mails_nothing(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> str:
        raise PineshError("441 posting failed")

    monkeypatch.setattr(composing, "post_article", refuse)
    sender = FakeSender(Outbox(home / "data" / "outbox"), [None])
    monkeypatch.setattr(sending, "choose_sender", lambda session: sender)
    with pytest.raises(PineshError, match="441 posting failed"):
        post_and_mail(session(home), both())
    assert sender.sent == []


# --- 4. FolderView.deleted_count on a Maildir taken away ---------------------------------


@pytest.fixture
def maildir_view(tmp_path: Path) -> Iterator[tuple[FolderView, Path]]:
    maildir = tmp_path / "Maildir"
    fill_maildir(maildir, 5, seed=3)
    view = FolderView.open(session(tmp_path, f"inbox-path=#md/{maildir}\n"), "INBOX")
    yield view, maildir
    view.close()


def test_deleted_count_on_a_maildir_replaced_by_a_file_is_a_store_error(
    maildir_view: tuple[FolderView, Path],
) -> None:
    # Was: NotADirectoryError (an OSError) from the directory listing, not the store's error.
    view, maildir = maildir_view
    shutil.rmtree(maildir)
    maildir.write_bytes(b"")
    with pytest.raises(StoreError) as caught:
        view.deleted_count()
    assert caught.value.message == "cannot count the deleted messages in INBOX: Not a directory"
    assert caught.value.hint == "another program moved or removed the folder; open it again"


def test_deleted_count_on_a_removed_maildir_is_a_store_error(
    maildir_view: tuple[FolderView, Path],
) -> None:
    view, maildir = maildir_view
    shutil.rmtree(maildir)
    with pytest.raises(StoreError, match="has lost its new/ directory"):
        view.deleted_count()


def test_deleted_count_still_counts(maildir_view: tuple[FolderView, Path]) -> None:
    view, _ = maildir_view
    view.set_flags([view.uid_at(0), view.uid_at(2)], frozenset({Flag.DELETED}), True)
    assert view.deleted_count() == 2
