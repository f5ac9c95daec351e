"""Defects found reviewing the services (R1): each test failed before its fix."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.senders.compose import Draft, OutgoingAttachment, compose
from pinesh.services.addressbook import AddressBook, make_entry
from pinesh.services.addressbook_file import add_entry, read_addressbook, write_addressbook
from pinesh.services.attachments import safe_filename, temp_name, temp_path, write_file
from pinesh.services.composing import TypedFields, request_from_fields
from pinesh.services.connections import Connections
from pinesh.services.folder_view import FolderView
from pinesh.services.mail import MailSession
from pinesh.services.postponed import postpone, postponed_bytes, request_from_postponed, resume
from pinesh.services.replying import ComposeRequest, forward_request, reply_request
from pinesh.stores.base import Address, Flag
from tests.lab.maildir_fill import fill_maildir

ME = Address("Me Myself", "me@pinesh.test")

# A hostile message (found by fuzzing): its multipart's boundary comes from a broken
# RFC 2231 parameter, so the stdlib cannot write the parsed message back.
BROKEN = (
    b"From: a@example.org\r\nSubject: att\r\n"
    b"Content-Type: multipart/mixed; filename*0*=boundary=q\r\n\r\n--q\r\n"
    b"C\xe5ntent-Type\r\n: applicationpdf;/pdf; name*=x,-bogus''%FF%FE.pd<\r\n"
    b"Content-Disp@exosition: attachment; filename*0*=utf-8''%E2%82; filename*1*=%AC.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBE\n--q--\r\n"
)


def session(tmp: Path, extra: str = "") -> MailSession:
    rc = parse_pinerc(
        f"user-domain=pinesh.test\npersonal-name=Me Myself\n{extra}", str(tmp / "pinerc")
    )
    return MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp / "data")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr("getpass.getuser", lambda: "me")
    return tmp_path


def crlf(data: bytes) -> bytes:
    return re.sub(rb"\r\n|\r|\n", b"\r\n", data)


# --- forwarding a message as an attachment (senders/compose.py, replying, postponed) -----


def test_forwarding_a_broken_message_as_an_attachment_can_be_sent(home: Path) -> None:
    # Was: compose() raised UnicodeEncodeError writing the parsed message back, so the
    # forward could be neither sent nor postponed.
    request = forward_request(session(home), BROKEN, as_attachment=True)
    composed = compose(replace(request.draft, to=(ME,)), domain="pinesh.test")
    assert crlf(BROKEN) in composed.wire
    assert postponed_bytes(request, domain="pinesh.test")


def test_an_attached_message_goes_byte_for_byte() -> None:
    # Was: parsed and written back, a form feed in a header became a line break.
    inner = b"From: a@example.org\r\nSubject: one\x0ctwo\r\n\r\nbody\r\n"
    draft = Draft(
        sender=ME, to=(ME,), attachments=(OutgoingAttachment("f.eml", inner, "message/rfc822"),)
    )
    wire = compose(draft, domain="pinesh.test").wire
    assert inner in wire
    assert b"Subject: one\r\ntwo" not in wire
    assert b'Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename="f.eml"' in (
        wire
    )


def test_resuming_keeps_a_broken_attached_message(home: Path) -> None:
    # Was: on resume the attached message was parsed and written back, which failed, and
    # the attachment was silently left out of the draft.
    me = session(home)
    postpone(me, forward_request(me, BROKEN, as_attachment=True))
    with me.open_folder("postponed-msgs", read_only=True) as folder:
        [uid] = folder.uids()
    resumed = resume(me, uid)
    [attached] = resumed.draft.attachments
    assert attached.content_type == "message/rfc822"
    assert crlf(attached.data).rstrip(b"\r\n") == crlf(BROKEN).rstrip(b"\r\n")


# --- postponed messages -----------------------------------------------------------------


def test_a_long_non_ascii_name_is_folded_with_crlf() -> None:
    # Was: Header.encode() folded with a bare LF inside the CRLF message (an IMAP server
    # such as Cyrus refuses bare newlines on APPEND).
    name = "Жанна Владимировна Константинопольская-Воскресенская"
    draft = Draft(sender=ME, to=(Address(name, "j@example.org"),), subject="s", body="b")
    data = postponed_bytes(ComposeRequest(draft), domain="pinesh.test")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert request_from_postponed(data, fallback_sender=ME).draft.to == (
        Address(name, "j@example.org"),
    )


@pytest.mark.parametrize(
    "typed",
    [
        "jane@example.org, (comment bob@example.org",
        "Jane Doe",
        '"Jane <jane@example.org>, bob@example.org',
        "Jane Doe <jane@example.org",
    ],
)
def test_postponing_keeps_what_was_typed(typed: str) -> None:
    # Was: spaces were taken out of text that was no address yet, and "(comment
    # bob@example.org" came back as nothing at all: the address typed was lost.
    book = AddressBook(Path("/nonexistent/.addressbook"))
    base = ComposeRequest(Draft(sender=ME))
    request = request_from_fields(base, TypedFields(to=typed), book, strict=False)
    data = postponed_bytes(request, domain="pinesh.test")
    assert request_from_postponed(data, fallback_sender=ME).draft.to == request.draft.to


def test_valid_addresses_still_come_back_parsed() -> None:
    to = (Address("Doe, Jane", "jane@example.org"), Address("Jürgen Müller", "jm@example.org"))
    data = postponed_bytes(ComposeRequest(Draft(sender=ME, to=to)), domain="pinesh.test")
    assert request_from_postponed(data, fallback_sender=ME).draft.to == to


def test_x_our_headers_cannot_bring_back_headers_compose_sets() -> None:
    # Was: a postponed message (from another program, or a shared IMAP folder) naming To
    # in X-Our-Headers resumed into a draft that compose() refused for good.
    raw = (
        b"From: me@pinesh.test\r\nTo: a@example.org\r\nSubject: s\r\nOrganization: Lab\r\n"
        b"X-Our-Headers: To,Subject,Fcc,X-Our-Headers,Organization\r\nFcc: \r\n"
        b"Message-ID: <a@example.org>\r\n\r\nbody\r\n"
    )
    request = request_from_postponed(raw, fallback_sender=ME)
    assert request.draft.extra_headers == (("Organization", "Lab"),)
    compose(request.draft, domain="pinesh.test")


def test_a_broken_charset_in_a_postponed_message_is_read_not_a_crash() -> None:
    # Was: ValueError ("embedded null character") from the header decoding escaped. The
    # header decoder now reads such a charset as UTF-8, so the draft comes back.
    raw = b"From: me@pinesh.test\r\nSubject: =?ut\x00f-8?q?x?=\r\n\r\nbody\r\n"
    request = request_from_postponed(raw, fallback_sender=ME)
    assert request.draft.subject == "x"
    assert request.draft.body.strip() == "body"


# --- replies ------------------------------------------------------------------------------


REPLIED = (
    b"From: Jane <jane@example.org>\r\nTo: me@work.example, bob@example.org\r\n"
    b"Cc: Me <ME@home.example>\r\nSubject: Plans\r\nMessage-ID: <child@example.org>\r\n"
    b"In-Reply-To: <parent@example.org>\r\n\r\nhello\r\n"
)


def test_reply_to_all_leaves_out_the_alt_addresses(home: Path) -> None:
    # Was: the pinerc's alt-addresses were put in Cc (Pine leaves them out).
    me = session(home, "alt-addresses=me@work.example, me@home.example\n")
    draft = reply_request(me, REPLIED, to_all=True).draft
    assert [a.email for a in draft.to] == ["jane@example.org"]
    assert [a.email for a in draft.cc] == ["bob@example.org"]


def test_references_start_from_in_reply_to_when_there_are_none(home: Path) -> None:
    # RFC 5322 3.6.4: no References in the parent, one id in its In-Reply-To: use that.
    draft = reply_request(session(home), REPLIED, to_all=False).draft
    assert draft.references == ("<parent@example.org>", "<child@example.org>")


# --- attachments --------------------------------------------------------------------------


def test_a_huge_attachment_name_is_cut_at_once() -> None:
    # Was: cut one character at a time, re-encoding the rest each time: a name of a few
    # hundred kilobytes (a header can hold it) froze the UI for many seconds.
    began = time.monotonic()
    name = safe_filename("a" * 400_000 + ".pdf")
    assert time.monotonic() - began < 1.0
    assert name.endswith(".pdf") and len(name.encode()) <= 200


@pytest.mark.parametrize("hostile", ["-..", "-.", "--..", "-...pdf"])
def test_a_temporary_name_is_never_the_directory_or_its_parent(hostile: str) -> None:
    # Was: "-.." became "..": the viewer's copy was to be written over the directory above.
    name = temp_name(hostile, None)
    assert name not in ("", ".", "..") and not name.startswith((".", "-"))
    path = temp_path(name)
    write_file(path, [b"data"])
    assert path.read_bytes() == b"data"


# --- FolderView ---------------------------------------------------------------------------


class _RacyCache(dict[int, Any]):
    """A cache that runs another worker's step the first time it is touched while the
    view's lock is free: what another thread may do at that moment."""

    def __init__(self, lock: threading.Lock, step: Callable[[], None]) -> None:
        super().__init__()
        self.lock, self.step, self.fired = lock, step, False

    def _maybe(self) -> None:
        if len(self) and not self.fired and not self.lock.locked():
            self.fired = True
            self.step()

    def __contains__(self, key: object) -> bool:
        found = super().__contains__(key)
        self._maybe()  # after the answer: what was there may be gone when it is used
        return found

    def get(self, key: int, default: Any = None) -> Any:
        found = super().get(key, default)
        self._maybe()
        return found


@pytest.fixture
def view(tmp_path: Path) -> Iterator[FolderView]:
    maildir = tmp_path / "Maildir"
    fill_maildir(maildir, 10, seed=3)
    opened = FolderView.open(session(tmp_path, f"inbox-path=#md/{maildir}\n"), "INBOX")
    yield opened
    opened.close()


def test_a_window_read_while_another_worker_expunges(view: FolderView) -> None:
    # Was: the window was read from the cache after the lock was let go: an expunge in
    # another worker in between made it raise KeyError.
    uids = [view.uid_at(i) for i in range(view.count)]

    def expunge_one() -> None:
        with view._lock:
            dict.pop(cache, uids[0], None)

    cache = _RacyCache(view._lock, expunge_one)
    view._cache = cache
    found = view.window(0, view.count)
    assert [e.uid for e in found] == uids


def test_flag_changes_from_two_workers_both_stay_in_the_cache(view: FolderView) -> None:
    # Was: the cached envelope was read, then written back changed, without the lock: a
    # change made by another worker in between was lost from the index.
    uid = view.uid_at(0)
    view.window(0, 1)
    cache = _RacyCache(view._lock, lambda: view.set_flags([uid], frozenset({Flag.FLAGGED}), True))
    cache.update(view._cache)
    view._cache = cache
    view.set_flags([uid], frozenset({Flag.DELETED}), True)
    if not cache.fired:  # it did not come in between: it comes after
        cache.fired = True
        view.set_flags([uid], frozenset({Flag.FLAGGED}), True)
    envelope = view.cached(uid)
    assert envelope is not None
    assert {Flag.FLAGGED, Flag.DELETED} <= envelope.flags


# --- the address book ---------------------------------------------------------------------


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
    me = session(home)
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


def test_saving_onto_a_directory_says_so_instead_of_asking_to_overwrite(tmp_path: Path) -> None:
    # Was: FileExistsError, so the screens asked "File ... exists. Overwrite it?", and a
    # yes ended in "Is a directory" anyway.
    (tmp_path / "Downloads").mkdir()
    for overwrite in (False, True):
        with pytest.raises(IsADirectoryError):
            write_file(tmp_path / "Downloads", [b"x"], overwrite=overwrite)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Downloads"]
