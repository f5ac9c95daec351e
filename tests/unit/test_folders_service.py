"""The folder list's service over local collections in a temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.errors import PineshError
from pinesh.services.connections import Connections
from pinesh.services.folders import FolderCounts, FolderEntry, FolderService, Kind, check_name
from pinesh.services.mail import MailSession
from pinesh.stores.base import Folder, FolderInfo, FolderStatus, Store
from tests.lab.maildir_fill import fill_maildir

MBOX = (
    b"From a@example.org Mon Jan  1 00:00:00 2024\nFrom: a@example.org\nSubject: one\n"
    b"Status: RO\n\nread\n\n"
    b"From b@example.org Mon Jan  1 00:00:00 2024\nFrom: b@example.org\nSubject: two\n\nnew\n\n"
    b"From c@example.org Mon Jan  1 00:00:00 2024\nFrom: c@example.org\nSubject: 3\n\nnew\n\n"
)


def _service(tmp: Path, rc_text: str) -> FolderService:
    rc = parse_pinerc(rc_text, str(tmp / "pinerc"))
    session = MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp / "data")
    return FolderService(session)


@pytest.fixture
def mail(tmp_path: Path) -> Path:
    """~/mail with two mbox files, an empty one, and a directory holding one more."""
    folder = tmp_path / "mail"
    (folder / "lists").mkdir(parents=True)
    (folder / "saved").write_bytes(MBOX)
    (folder / "sent-mail").write_bytes(b"")
    (folder / "lists" / "python").write_bytes(MBOX)
    fill_maildir(tmp_path / "Maildir", 20, seed=4)
    return folder


def _local(tmp: Path, extra: str = "") -> FolderService:
    return _service(
        tmp, f"inbox-path=#md/{tmp}/Maildir\nfolder-collections=Mail {tmp}/mail/[]{extra}\n"
    )


def _unseen_in(maildir: Path) -> int:
    new = len(list((maildir / "new").iterdir()))
    cur = [p.name for p in (maildir / "cur").iterdir()]
    return new + sum(1 for name in cur if "S" not in name.partition(":2,")[2])


def test_listing_puts_inbox_first_then_the_collection(tmp_path: Path, mail: Path) -> None:
    service = _local(tmp_path)
    [collection] = service.collections()
    listing = service.listing(collection)
    assert listing.error is None and listing.kind is Kind.LOCAL
    shown = [(e.display, e.selectable) for e in listing.entries]
    assert shown == [
        ("INBOX", True),
        ("lists/", False),
        ("lists/python", True),
        ("saved", True),
        ("sent-mail", True),
    ]
    assert listing.entries[0].is_inbox
    assert listing.entries[3].name == str(mail / "saved")


def test_counts_of_an_mbox_and_of_the_maildir_inbox(tmp_path: Path, mail: Path) -> None:
    service = _local(tmp_path)
    saved = service.counts(str(mail / "saved"))
    assert (saved.count, saved.unseen) == (3, 2)
    assert (service.counts(str(mail / "sent-mail")).count) == 0
    inbox = service.counts("INBOX")
    assert inbox.count == 20
    assert inbox.unseen == _unseen_in(tmp_path / "Maildir") > 0


def test_create_rename_delete_change_the_directory(tmp_path: Path, mail: Path) -> None:
    service = _local(tmp_path)
    [collection] = service.collections()
    made = service.create(collection, "  projects ")
    assert made == FolderEntry(str(mail / "projects"), "projects")
    assert (mail / "projects").is_file()
    directory = service.create(collection, "archive/")
    assert (mail / "archive").is_dir() and not directory.selectable
    service.create(collection, "archive/2024")
    assert (mail / "archive" / "2024").is_file()

    renamed = service.rename(collection, made, "work")
    assert renamed.name == str(mail / "work")
    assert (mail / "work").is_file() and not (mail / "projects").exists()

    service.delete(collection, renamed)
    assert not (mail / "work").exists()
    names = [e.display for e in service.listing(collection).entries]
    assert "work" not in names and "archive/2024" in names

    with pytest.raises(PineshError, match="exists already"):
        service.create(collection, "saved")


def test_inbox_is_never_deleted_or_renamed(tmp_path: Path, mail: Path) -> None:
    service = _local(tmp_path)
    [collection] = service.collections()
    inbox = service.listing(collection).entries[0]
    with pytest.raises(PineshError, match="INBOX cannot be deleted"):
        service.delete(collection, inbox)
    with pytest.raises(PineshError, match="INBOX cannot be renamed"):
        service.rename(collection, inbox, "old-inbox")
    assert (tmp_path / "Maildir" / "cur").is_dir()


def test_an_inbox_inside_the_collection_is_listed_once_and_kept(tmp_path: Path, mail: Path) -> None:
    service = _service(
        tmp_path, f"inbox-path={mail}/saved\nfolder-collections=Mail {tmp_path}/mail/[]\n"
    )
    [collection] = service.collections()
    names = [e.name for e in service.listing(collection).entries]
    assert names[0] == "INBOX" and str(mail / "saved") not in names
    with pytest.raises(PineshError, match="INBOX"):
        service.delete(collection, FolderEntry(str(mail / "saved"), "saved"))
    assert (mail / "saved").exists()


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("", "no folder name"),
        ("evil\x1b[2Jname", "control characters"),
        ("tab\there", "control characters"),
        ("-rf", "may not start with '-'"),
        ("lists/-x", "may not start with '-'"),
        ("../outside", "without '..'"),
        ("lists/../../outside", "without '..'"),
        ("/etc/passwd", "without '..'"),
        ("~/elsewhere", "without '..'"),
    ],
)
def test_unsafe_names_are_refused(tmp_path: Path, mail: Path, typed: str, why: str) -> None:
    service = _local(tmp_path)
    [collection] = service.collections()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(PineshError, match=why):
        service.create(collection, typed)
    saved = FolderEntry(str(mail / "saved"), "saved")
    with pytest.raises(PineshError, match=why):
        service.rename(collection, saved, typed)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_remote_names_refuse_dashes_and_controls_but_allow_dots() -> None:
    assert check_name(Kind.IMAP, "a..b") == "a..b"
    with pytest.raises(PineshError):
        check_name(Kind.IMAP, "-x")
    with pytest.raises(PineshError):
        check_name(Kind.IMAP, "x\ny")


def test_a_missing_directory_is_an_error_until_a_folder_is_added(tmp_path: Path) -> None:
    service = _service(tmp_path, f"folder-collections=Mail {tmp_path}/nowhere/[]\n")
    [collection] = service.collections()
    listing = service.listing(collection)
    assert listing.error is not None and "does not exist" in listing.error
    assert [e.name for e in listing.entries] == ["INBOX"]  # still reachable
    service.create(collection, "first")
    assert (tmp_path / "nowhere" / "first").is_file()
    assert service.listing(collection).error is None


def test_a_collection_that_fails_leaves_the_others(tmp_path: Path, mail: Path) -> None:
    service = _local(tmp_path, ",Bad {-oProxyCommand=x}mail/[]")
    first, bad = service.collections()
    listing = service.listing(bad)
    assert listing.error is not None and "refusing host name" in listing.error
    assert listing.entries == ()  # INBOX goes with the first collection only
    assert service.listing(first).error is None
    with pytest.raises(PineshError):
        service.create(bad, "x")


def test_news_on_the_nntp_server_lists_subscribed_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    newsrc = tmp_path / ".newsrc"
    newsrc.write_text("comp.mail.pine: 1-10\nalt.test! 1-3\nnews.software.nntp:\n")
    service = _service(tmp_path, "nntp-server=news.example.org\n")
    mail, news = service.collections()
    assert mail.name == "mail/" and news.label == "News on news.example.org"
    listing = service.listing(news)
    assert listing.kind is Kind.NEWS
    assert [(e.name, e.display) for e in listing.entries] == [
        ("#news.comp.mail.pine", "comp.mail.pine"),
        ("#news.news.software.nntp", "news.software.nntp"),
    ]
    added = service.subscribe(news, "alt.test")
    assert added.name == "#news.alt.test"
    assert "alt.test: 1-3" in newsrc.read_text()
    service.unsubscribe(news, listing.entries[0])
    assert "comp.mail.pine! 1-10" in newsrc.read_text()
    assert [e.display for e in service.listing(news).entries] == ["alt.test", "news.software.nntp"]
    with pytest.raises(PineshError, match="not created here"):
        service.create(news, "comp.new")


def test_news_on_an_nntp_server_that_did_not_parse_shows_it_as_written(tmp_path: Path) -> None:
    service = _service(tmp_path, "nntp-server=news.example.org/bogus\n")
    *_, news = service.collections()
    assert news.label == "News on news.example.org/bogus"
    listing = service.listing(news)
    assert listing.error is not None and "pinerc nntp-server" in listing.error


def test_a_news_collection_named_in_the_pinerc_is_not_doubled(tmp_path: Path) -> None:
    service = _service(
        tmp_path,
        "nntp-server=news.example.org\n"
        "news-collections=News {news.example.org/nntp}#news.comp.[]\n",
    )
    collections = service.collections()
    assert [c.label for c in collections] == ["News"]
    place = service.place(collections[0])
    assert place.kind is Kind.NEWS
    assert place.full_name("comp.lang") == "{news.example.org/nntp}#news.comp.lang"
    assert place.list_pattern == "comp.*"


class _StatusOnly(Store):
    """A remote store that answers STATUS and refuses to open anything."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def list_folders(self, pattern: str = "*") -> list[FolderInfo]:
        return [FolderInfo("mail/a", "a"), FolderInfo("mail/sub", "sub", selectable=False)]

    def open(self, name: str, read_only: bool = False) -> Folder:
        raise AssertionError("counting must not open the folder")

    def folder_status(self, name: str) -> FolderStatus:
        self.asked.append(name)
        return FolderStatus(name, count=7, recent=0, unseen=2, uidvalidity=1)

    def rename(self, old: str, new: str) -> None:
        self.asked.append(f"rename {old} {new}")


def test_remote_names_map_to_the_server_and_counts_use_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = "{mail.example.org/user=me}"
    service = _service(
        tmp_path, f"inbox-path={server}INBOX\nfolder-collections=Work {server}mail/[]\n"
    )
    store = _StatusOnly()
    monkeypatch.setattr(service.session, "store_for", lambda mailbox: store)
    [work] = service.collections()
    place = service.place(work)
    assert place.kind is Kind.IMAP and place.list_pattern == "mail/*"
    assert place.full_name("x") == f"{server}mail/x"
    assert place.store_name(f"{server}mail/x") == "mail/x"

    listing = service.listing(work)
    assert [(e.name, e.display, e.selectable) for e in listing.entries] == [
        ("INBOX", "INBOX", True),
        (f"{server}mail/a", "a", True),
        (f"{server}mail/sub", "sub/", False),
    ]
    assert service.counts(f"{server}mail/a") == FolderCounts(7, 2)
    assert store.asked == ["mail/a"]

    assert service.is_inbox(f"{server}INBOX") and service.is_inbox(f"{server}inbox")
    assert not service.is_inbox(f"{server}mail/INBOX")
    assert not service.is_inbox("{other.example.org/user=me}INBOX")
    with pytest.raises(PineshError, match="INBOX cannot be deleted"):
        service.delete(work, FolderEntry(f"{server}INBOX", "INBOX"))

    renamed = service.rename(work, listing.entries[1], "b")
    assert renamed.name == f"{server}mail/b" and store.asked[-1] == "rename mail/a mail/b"


class _DotSeparated(_StatusOnly):
    """A server with "." between levels: the parent is listed unselectable beside its child."""

    def list_folders(self, pattern: str = "*") -> list[FolderInfo]:
        return [
            FolderInfo("Projekte", "Projekte", selectable=False, has_children=True),
            FolderInfo("Projekte.Entwürfe", "Projekte.Entwürfe"),
            FolderInfo("Leer", "Leer", selectable=False),  # no child listed: kept
        ]


def test_an_unselectable_parent_whose_children_are_listed_is_not_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = "{mail.example.org/user=me}"
    service = _service(tmp_path, f"inbox-path={server}INBOX\nfolder-collections=All {server}[]\n")
    monkeypatch.setattr(service.session, "store_for", lambda mailbox: _DotSeparated())
    [every] = service.collections()
    listing = service.listing(every)
    assert [(e.display, e.selectable) for e in listing.entries] == [
        ("INBOX", True),
        ("Projekte.Entwürfe", True),
        ("Leer/", False),
    ]
