"""Pine's address book: the file format, nickname expansion, and safe writing."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.senders.addresses import parse_typed_addresses
from pinesh.senders.compose import Draft, compose
from pinesh.services.addressbook import (
    AddressBook,
    AddressBookError,
    AddressEntry,
    display_fullname,
    format_address,
    make_entry,
)
from pinesh.services.addressbook_file import (
    add_entry,
    addressbook_path,
    change_entry,
    delete_entry,
    read_addressbook,
    write_addressbook,
)
from pinesh.services.addressbook_format import format_addressbook, parse_addressbook
from pinesh.services.connections import Connections
from pinesh.services.mail import MailSession
from pinesh.stores.base import Address
from pinesh.stores.headers import split_addresses

ME = Address("Me Myself", "me@pinesh.test")
BOOK = (
    "jane\tDoe, Jane\tjane@example.org\tjane-mail\tmet at the conference\n"
    "bob\tBob Smith\tbob@example.org\n"
    "team\tThe Team\t(jane, bob,\n"
    "   Carol <carol@example.net>,\n"
    "   dave@example.net)\t\tthe whole team\n"
    "broken line without tabs\n"
    "loop1\tLoop One\t(loop2, one@example.org)\n"
    "loop2\tLoop Two\t(loop1, two@example.org)\n"
    "#DELETED-24/03/01#old\tOld Friend\told@example.org\n"
    "\tNo Nickname\tnonick@example.org\n"
    "Jane\tDuplicate\tdup@example.org\n"
    "open\tOpen List\t(a@example.org, b@example.org\n"
)


def book() -> AddressBook:
    return parse_addressbook(BOOK, Path("/home/me/.addressbook"))


def test_entries_lists_and_continuation_lines() -> None:
    parsed = book()
    jane = parsed.find("JANE")
    assert jane == AddressEntry(
        "jane", "Doe, Jane", ("jane@example.org",), False, "jane-mail", "met at the conference"
    )
    team = parsed.find("team")
    assert team is not None and team.is_list
    assert team.addresses == ("jane", "bob", "Carol <carol@example.net>", "dave@example.net")
    assert team.comment == "the whole team" and team.fcc == ""
    assert parsed.find("old") is None  # Pine's deleted entries are not used
    assert [e.nickname for e in parsed.shown] == ["", "bob", "jane", "loop1", "loop2", "team"]


def test_broken_lines_are_reported_and_kept() -> None:
    parsed = book()
    assert len(parsed.problems) == 3
    assert "line 6: no address" in parsed.problems[0]
    assert "'Jane' is already on line 1" in parsed.problems[1]
    assert "not closed" in parsed.problems[2]
    assert parsed.kept == (
        "broken line without tabs",
        "Jane\tDuplicate\tdup@example.org",
        "open\tOpen List\t(a@example.org, b@example.org",
    )
    assert parsed.find("jane") is not None and parsed.find("jane").fullname == "Doe, Jane"  # type: ignore[union-attr]


def test_a_continued_line_with_nothing_before_it() -> None:
    parsed = parse_addressbook("   stray\nok\tOk\tok@example.org\n", Path("ab"))
    assert "nothing before it" in parsed.problems[0]
    again = parse_addressbook(format_addressbook(parsed), Path("ab"))
    assert again.find("ok") == parsed.find("ok")  # the stray line did not join the entry
    assert again.kept == ("   stray",)


def test_expand_people_lists_and_unknown_nicknames() -> None:
    parsed = book()
    assert parsed.expand("jane") == "Jane Doe <jane@example.org>"
    assert parsed.expand("Bob, x@y.org") == "Bob Smith <bob@example.org>, x@y.org"
    assert parsed.expand("team") == (
        "Jane Doe <jane@example.org>, Bob Smith <bob@example.org>, "
        "Carol <carol@example.net>, dave@example.net"
    )
    # jane is named twice (directly and through the team): she gets one copy.
    assert parsed.expand("jane, team").count("jane@example.org") == 1
    assert parsed.expand("nobody, bob") == "nobody, Bob Smith <bob@example.org>"
    assert parsed.unknown_nicknames("nobody, bob, team") == ("nobody",)
    assert parsed.unknown_nicknames('"Some, One" <s@o.org>') == ()
    assert parsed.fcc_for("x@y.org, jane") == "jane-mail"


def test_a_list_that_names_itself_stops() -> None:
    parsed = book()
    # loop1 -> loop2 -> (loop1 again: stop), two; then loop1's own member, one.
    assert parsed.expand("loop1") == "two@example.org, one@example.org"
    assert parsed.unknown_nicknames("loop2") == ()


def test_a_deep_chain_of_lists_does_not_explode() -> None:
    lines = [f"n{i}\tN\t(n{i + 1}, n{i + 1}, a{i}@example.org)" for i in range(200)]
    parsed = parse_addressbook("\n".join(lines) + "\n", Path("ab"))
    expanded = parsed.expand("n0")
    assert expanded.startswith("a")  # bounded depth, each nickname used once
    assert len(split_addresses(expanded)) <= 40


def test_address_formatting_and_splitting() -> None:
    assert format_address(Address("Doe, Jane", "j@x.org")) == '"Doe, Jane" <j@x.org>'
    assert format_address(Address("Jane", "j@x.org")) == "Jane <j@x.org>"
    assert format_address(Address("", "j@x.org")) == "j@x.org"
    assert split_addresses('"Doe, Jane" <j@x.org>, bob (Bob, B.), <c@d>,,') == [
        '"Doe, Jane" <j@x.org>',
        "bob (Bob, B.)",
        "<c@d>",
    ]
    assert display_fullname("Doe, Jane") == "Jane Doe"
    assert display_fullname("Jane Doe") == "Jane Doe"
    assert display_fullname("=?utf-8?q?M=C3=BCller=2C_J=C3=BCrgen?=") == "Jürgen Müller"


def test_format_round_trip_folds_long_lists() -> None:
    parsed = book()
    text = format_addressbook(parsed)
    assert "team\tThe Team\t(jane,\n   bob,\n   Carol <carol@example.net>,\n" in text
    assert "   dave@example.net)\t\tthe whole team\n" in text
    again = parse_addressbook(text, parsed.path)
    assert again.entries == parsed.entries
    assert again.kept == parsed.kept


def test_make_entry_checks_what_was_typed() -> None:
    entry = make_entry("pals", "Pals", "a@x.org, b@x.org")
    assert entry.is_list and entry.address_field() == "(a@x.org, b@x.org)"
    assert not make_entry("one", "", "a@x.org").is_list
    for nickname, address in [("two words", "a@x.org"), ("a@b", "a@x.org"), ("ok", "")]:
        with pytest.raises(AddressBookError):
            make_entry(nickname, "", address)
    with pytest.raises(AddressBookError, match="control"):
        make_entry("tab", "Full\tName", "a@x.org")
    with pytest.raises(AddressBookError, match="already used"):
        book().with_entry(make_entry("BOB", "", "b2@x.org"))


def _session(tmp: Path, rc_text: str = "") -> MailSession:
    rc = parse_pinerc(rc_text, str(tmp / "pinerc"))
    return MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp / "data")


def test_path_from_the_pinerc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert addressbook_path(_session(tmp_path)) == tmp_path / ".addressbook"
    assert addressbook_path(_session(tmp_path, "address-book=books/mine\n")) == (
        tmp_path / "books/mine"
    )
    named = _session(tmp_path, "address-book=Personal /etc/pinesh-book\n")
    assert addressbook_path(named) == Path("/etc/pinesh-book")
    with pytest.raises(AddressBookError, match="remote"):
        addressbook_path(_session(tmp_path, "address-book={imap.x.org}abook\n"))


def test_write_is_atomic_and_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    session = _session(tmp_path)
    path = tmp_path / ".addressbook"
    assert read_addressbook(path).entries == ()
    add_entry(session, make_entry("jane", "Doe, Jane", "jane@example.org"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "jane\tDoe, Jane\tjane@example.org\n"
    change_entry(session, "jane", make_entry("janie", "Doe, Jane", "jd@example.org", "jd"))
    assert path.read_text() == "janie\tDoe, Jane\tjd@example.org\tjd\n"
    delete_entry(session, "janie")
    assert path.read_text() == ""
    assert sorted(os.listdir(tmp_path)) == [".addressbook"]  # no temporary file left


def test_write_keeps_the_mode_and_broken_lines(tmp_path: Path) -> None:
    path = tmp_path / "ab"
    path.write_text(BOOK)
    path.chmod(0o640)
    parsed = read_addressbook(path)
    write_addressbook(parsed.with_entry(make_entry("zed", "", "z@example.org")))
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    text = path.read_text()
    assert text.startswith("jane\tDoe, Jane\t")
    assert "zed\t\tz@example.org\nbroken line without tabs\nJane\tDuplicate" in text
    assert read_addressbook(path).find("jane").fullname == "Doe, Jane"  # type: ignore[union-attr]


def test_write_follows_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real-book"
    real.write_text("a\tA\ta@example.org\n")
    link = tmp_path / ".addressbook"
    link.symlink_to(real)
    write_addressbook(read_addressbook(link).with_entry(make_entry("b", "", "b@example.org")))
    assert link.is_symlink()
    assert real.read_text() == "a\tA\ta@example.org\nb\t\tb@example.org\n"


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


def test_a_latin1_address_book_is_not_garbled_by_a_change(tmp_path: Path) -> None:
    # Was: read with errors="replace", every 8-bit byte of the other entries became
    # U+FFFD in the file at the first change.
    path = tmp_path / ".addressbook"
    old = b"jm\tM\xfcller, J\xfcrgen\tjm@example.org\nbad line \xe9\n"
    path.write_bytes(old)
    book = read_addressbook(path)
    found = book.find("jm")
    assert found is not None and found.fullname == "Müller, Jürgen"
    write_addressbook(book.with_entry(make_entry("amy", "Amy", "amy@example.org")))
    data = path.read_bytes()
    assert data.startswith(b"jm\tM\xfcller, J\xfcrgen\tjm@example.org\n")
    assert b"bad line \xe9\n" in data and b"amy\tAmy\tamy@example.org\n" in data
    assert "\ufffd".encode() not in data


def test_two_changes_at_once_both_reach_the_address_book(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Was: read, change and write without a lock: two workers (or two pinesh) adding
    # at once each wrote the book as they had read it, and one entry was lost.
    me = _session(home)
    import pinesh.services.addressbook_file as module

    real_read = module.read_addressbook
    first_read = threading.Event()

    def slow_read(path: Path) -> AddressBook:
        book = real_read(path)
        if not first_read.is_set():
            first_read.set()
            time.sleep(0.3)  # the other worker comes in now
        return book

    monkeypatch.setattr(module, "read_addressbook", slow_read)
    errors: list[BaseException] = []

    def add(nick: str) -> None:
        try:
            add_entry(me, make_entry(nick, "", f"{nick}@example.org"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    first = threading.Thread(target=add, args=("one",))
    first.start()
    assert first_read.wait(5)
    second = threading.Thread(target=add, args=("two",))
    second.start()
    first.join(10)
    second.join(10)
    assert not errors
    book = real_read(home / ".addressbook")
    assert book.find("one") is not None and book.find("two") is not None
