"""The FOLDER LIST through Textual's Pilot, over local collections in a temporary directory."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.services.connections import Connections
from pinesh.services.folder_view import FolderView
from pinesh.services.mail import MailSession
from pinesh.ui.app import MainMenu, PineshApp
from pinesh.ui.folder_list_screen import FolderListScreen
from pinesh.ui.index_screen import IndexScreen
from pinesh.ui.prompts import ConfirmScreen, PromptScreen
from tests.lab.maildir_fill import fill_maildir
from tests.ui.test_index_screen import make_session, press, run_index, settle, stack, typed_quickly
from tests.ui.test_message_screen import maildir_with

MBOX = (
    b"From a@example.org Mon Jan  1 00:00:00 2024\nFrom: a@example.org\nSubject: one\n"
    b"Status: RO\n\nread\n\n"
    b"From b@example.org Mon Jan  1 00:00:00 2024\nFrom: b@example.org\nSubject: two\n\nnew\n\n"
    b"From c@example.org Mon Jan  1 00:00:00 2024\nFrom: c@example.org\nSubject: 3\n\nnew\n\n"
)
HOSTILE_NAME = "evil\x1b]0;owned\x07\x1b[2Jname"


def _app(tmp: Path, collections: str = "", folder: str = "INBOX") -> PineshApp:
    fill_maildir(tmp / "Maildir", 5, seed=2)
    mail = tmp / "mail"
    mail.mkdir()
    (mail / "saved").write_bytes(MBOX)
    (mail / "sent-mail").write_bytes(b"")
    (mail / HOSTILE_NAME).write_bytes(b"")
    text = f"inbox-path=#md/{tmp}/Maildir\nfolder-collections=Mail {mail}/[]{collections}\n"
    rc = parse_pinerc(text, str(tmp / "pinerc"))
    session = MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp / "data")
    return PineshApp(session, folder=folder)


async def _settle(pilot: Pilot[None]) -> None:
    """Wait for the listing workers, the count workers they lead to, and the redraws."""
    for _ in range(4):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def _lines(app: PineshApp) -> list[str]:
    options = app.screen.query_one(OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


def _cursor(app: PineshApp) -> str:
    options = app.screen.query_one(OptionList)
    assert options.highlighted is not None
    return str(options.get_option_at_index(options.highlighted).prompt)


def _status(app: PineshApp) -> str:
    return str(app.screen.query_one("#status", Static).render())


def _line(app: PineshApp, name: str) -> str:
    return next(line for line in _lines(app) if line.split()[:1] == [name])


async def _answer(pilot: Pilot[None], text: str) -> None:
    """Type text into the PromptScreen now showing, and press Enter."""
    assert isinstance(pilot.app.screen, PromptScreen)
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")
    await _settle(pilot)


def test_folders_and_counts_of_a_local_collection(tmp_path: Path) -> None:
    app = _app(tmp_path, folder=str(tmp_path / "mail" / "saved"))

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("l")
            assert isinstance(app.screen, FolderListScreen)
            await _settle(pilot)
            lines = _lines(app)
            assert lines[0].startswith("Folder-collection <1> -- Mail")
            assert lines[1].split()[0] == "INBOX"  # INBOX first, as Pine lists it
            assert "(5" in lines[1]
            assert _line(app, "saved").endswith("(3, 2 new)")
            assert _line(app, "sent-mail").endswith("(0)")
            assert _cursor(app).split()[0] == "saved"  # the current folder
            hostile = next(line for line in lines if "evil" in line)
            assert "\x1b" not in hostile and "\x07" not in hostile and "\\x1b" in hostile
            assert "4 folders in 1 collections" in _status(app)

            await pilot.press("w")
            await _answer(pilot, "sent")
            assert _cursor(app).split()[0] == "sent-mail"
            await pilot.press("w")
            await _answer(pilot, "no-such")
            assert 'Folder "no-such" not found' in _status(app)

            await pilot.press("less_than_sign")
            assert isinstance(app.screen, MainMenu)

    asyncio.run(scenario())


def test_add_rename_and_delete_a_folder(tmp_path: Path) -> None:
    app = _app(tmp_path)
    mail = tmp_path / "mail"

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("l")
            await _settle(pilot)
            await pilot.press("a")
            await _answer(pilot, "projects")
            assert (mail / "projects").is_file()
            assert _cursor(app).split()[0] == "projects"
            assert _line(app, "projects").endswith("(0)")

            await pilot.press("r")
            assert isinstance(app.screen, PromptScreen)
            assert app.screen.query_one(Input).value == "projects"
            await _answer(pilot, "work")
            assert (mail / "work").is_file() and not (mail / "projects").exists()
            assert _cursor(app).split()[0] == "work"

            await pilot.press("d")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("n")  # no: nothing happens
            await _settle(pilot)
            assert (mail / "work").is_file()
            await pilot.press("d")
            await pilot.press("y")
            await _settle(pilot)
            assert not (mail / "work").exists()
            assert not any(line.split()[:1] == ["work"] for line in _lines(app))
            assert '"work" deleted' in _status(app)

            await pilot.press("a")
            await _answer(pilot, "../escape")
            assert "without '..'" in _status(app)
            assert not (tmp_path / "escape").exists()

            await pilot.press("home")
            assert _cursor(app).split()[0] == "INBOX"
            await pilot.press("d")
            assert not isinstance(app.screen, ConfirmScreen)
            assert "INBOX cannot be deleted" in _status(app)
            assert (tmp_path / "Maildir" / "cur").is_dir()

    asyncio.run(scenario())


def test_opening_a_folder_replaces_the_list_with_its_index(tmp_path: Path) -> None:
    app = _app(tmp_path)
    saved = str(tmp_path / "mail" / "saved")

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("l")
            await _settle(pilot)
            await pilot.press("w")
            await _answer(pilot, "saved")
            await pilot.press("enter")
            await _settle(pilot)
            assert isinstance(app.screen, IndexScreen)
            assert app.screen.folder_name == saved and app.folder == saved
            assert "3 messages" in _status(app)
            await pilot.press("m")  # back past the folder list, to the main menu
            assert isinstance(app.screen, MainMenu)

    asyncio.run(scenario())


def test_a_collection_that_fails_says_why_and_the_others_list(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    app = _app(tmp_path, f",Bad {{-oProxyCommand=x}}mail/[],Gone {missing}/[]")

    async def scenario() -> None:
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.press("l")
            await _settle(pilot)
            lines = _lines(app)
            bad = lines.index(next(line for line in lines if "<2> -- Bad" in line))
            assert "[Error:" in lines[bad + 1] and "refusing host name" in lines[bad + 1]
            gone = lines.index(next(line for line in lines if "<3> -- Gone" in line))
            assert "[Error:" in lines[gone + 1] and "does not exist" in lines[gone + 1]
            assert _line(app, "saved").endswith("(3, 2 new)")  # the first still lists
            assert "2 could not be listed" in _status(app)

            await pilot.press("tab")
            assert "refusing host name" in _cursor(app)
            await pilot.press("tab")
            assert "does not exist" in _cursor(app)
            await pilot.press("a")  # adding a folder creates the missing directory
            await _answer(pilot, "first")
            assert (missing / "first").is_file()
            assert _cursor(app).split()[0] == "first"
            await pilot.press("shift+tab")
            assert "refusing host name" in _cursor(app)
            await pilot.press("enter")
            assert isinstance(app.screen, FolderListScreen)
            assert "No folder here" in _status(app)

    asyncio.run(scenario())


def test_news_on_the_nntp_server_lists_and_changes_subscriptions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    newsrc = tmp_path / ".newsrc"
    newsrc.write_text("comp.mail.pine: 1-10\nalt.test! 1-3\nz.one:\nz.three:\nz.two:\n")
    with socket.socket() as sock:  # a port nothing listens on: counting fails at once
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    rc = parse_pinerc(f"nntp-server=127.0.0.1:{port}/notls\n", str(tmp_path / "pinerc"))
    session = MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=tmp_path / "d")
    app = PineshApp(session)

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("l")
            await _settle(pilot)
            lines = _lines(app)
            assert any(
                line.startswith("News-collection <2> -- News on 127.0.0.1") for line in lines
            )
            assert _line(app, "comp.mail.pine").endswith("(?)")  # the server is down
            assert _line(app, "z.three").endswith("(?)")
            assert _line(app, "z.two").split() == ["z.two"]  # three failures: it gave up
            await pilot.press("tab")
            assert _cursor(app).split()[0] == "comp.mail.pine"
            await pilot.press("a")
            await _answer(pilot, "alt.test")
            assert "alt.test: 1-3" in newsrc.read_text()
            assert _cursor(app).split()[0] == "alt.test"
            await pilot.press("d")
            assert isinstance(app.screen, ConfirmScreen)
            assert "unsubscribe" in str(app.screen.query_one(Static).render())
            await pilot.press("y")
            await _settle(pilot)
            assert "alt.test! 1-3" in newsrc.read_text()
            assert not any(line.split()[:1] == ["alt.test"] for line in _lines(app))

    asyncio.run(scenario())


def test_space_and_minus_page_through_the_folder_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "mail").mkdir()
    for n in range(80):
        (tmp_path / "mail" / f"folder{n:02d}").write_bytes(b"")
    maildir = maildir_with(tmp_path)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "less_than_sign")
        assert isinstance(app.screen, FolderListScreen)
        await settle(app, pilot)
        folders = app.screen.query_one(OptionList)
        start = folders.highlighted
        assert start is not None
        await press(app, pilot, "space")
        after = folders.highlighted
        assert after is not None and after > start + 10
        await press(app, pilot, "minus")
        assert folders.highlighted is not None and folders.highlighted < after - 10

    run_index(make_session(maildir, tmp_path), scenario)


def test_two_quick_enters_in_the_folder_list_open_the_folder_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second Enter reached the folder list after the index had replaced it: that
    # index was closed and the folder opened a second time (over ssh: a second SELECT).
    monkeypatch.setenv("HOME", str(tmp_path))
    maildir = maildir_with(tmp_path)
    opened: list[str] = []
    real_open = FolderView.open

    def counting_open(session: object, name: str) -> FolderView:
        opened.append(name)
        return real_open(session, name)  # type: ignore[arg-type]

    monkeypatch.setattr(FolderView, "open", counting_open)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        opened.clear()
        await press(app, pilot, "less_than_sign")
        assert isinstance(app.screen, FolderListScreen)
        await typed_quickly(app, pilot, "enter", "enter")
        assert stack(app) == ["Screen", "MainMenu", "IndexScreen"]
        assert opened == ["INBOX"]

    run_index(make_session(maildir, tmp_path), scenario)
