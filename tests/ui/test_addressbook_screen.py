"""ADDRESS BOOK through Textual's Pilot: list, add, edit, delete, compose to, pick."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.services.connections import Connections
from pinesh.services.mail import MailSession
from pinesh.stores.base import Address
from pinesh.ui.addressbook_screen import AddressBookScreen
from pinesh.ui.app import MainMenu, PineshApp
from pinesh.ui.compose_screen import ComposeScreen
from pinesh.ui.prompts import ConfirmScreen, PromptScreen

BOOK = (
    "jane\tDoe, Jane\tjane@example.org\n"
    "team\tThe Team\t(jane, carol@example.net)\n"
    "evil\t\x1b[31mRed\x1b[0m\tevil@example.org\n"
    "broken line\n"
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr("getpass.getuser", lambda: "me")
    (tmp_path / ".addressbook").write_text(BOOK)
    return tmp_path


def make_session(home: Path) -> MailSession:
    rc = parse_pinerc(
        f"user-domain=pinesh.test\ninbox-path=#md/{home}/Maildir\n"
        f"signature-file={home}/no-signature\n",
        str(home / "pinerc"),
    )
    return MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=home / "data")


async def settle(app: App[None], pilot: Pilot[None]) -> None:
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


def rows(screen: AddressBookScreen) -> list[list[str]]:
    table = screen.query_one(DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def status_of(app: App[None]) -> str:
    return str(app.screen.query_one("#status", Static).render())


async def answer(pilot: Pilot[None], app: App[None], *values: str | None) -> None:
    """Answer the PromptScreens in turn: text replaces what is there; None keeps it."""
    for value in values:
        assert isinstance(app.screen, PromptScreen), app.screen
        if value is not None:
            await pilot.press("ctrl+u", "end", "ctrl+u")  # clear the field
            await pilot.press(*value)
        await pilot.press("enter")
    await settle(app, pilot)


def test_list_add_edit_delete(home: Path) -> None:
    app = PineshApp(make_session(home))

    async def scenario() -> None:
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.press("a")
            await settle(app, pilot)
            screen = app.screen
            assert isinstance(screen, AddressBookScreen)
            assert rows(screen) == [
                ["evil", "\\x1b[31mRed\\x1b[0m", "evil@example.org"],  # inert
                ["jane", "Doe, Jane", "jane@example.org"],
                ["team", "The Team", "DLIST: jane, carol@example.net"],
            ]
            assert "3 entries" in status_of(app) and "1 lines not read" in status_of(app)

            await pilot.press("a")
            await answer(pilot, app, "bob", "Smith, Bob", "bob@example.org", "", "")
            assert [r[0] for r in rows(screen)] == ["bob", "evil", "jane", "team"]
            assert screen.query_one(DataTable).cursor_row == 0
            assert "bob\tSmith, Bob\tbob@example.org\n" in (home / ".addressbook").read_text()

            await pilot.press("a")
            await answer(pilot, app, "two words", "x", "x@example.org", "", "")
            assert "cannot be a nickname" in status_of(app)

            await pilot.press("e")
            await answer(pilot, app, None, None, "bob@example.net, rob@example.net", None, None)
            text = (home / ".addressbook").read_text()
            assert "bob\tSmith, Bob\t(bob@example.net, rob@example.net)\n" in text
            assert "broken line\n" in text  # the line pinesh could not read is kept

            await pilot.press("d")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("n")
            await settle(app, pilot)
            assert "bob\t" in (home / ".addressbook").read_text()
            await pilot.press("d", "y")
            await settle(app, pilot)
            assert "bob\t" not in (home / ".addressbook").read_text()
            assert [r[0] for r in rows(screen)] == ["evil", "jane", "team"]

            await pilot.press("less_than_sign")
            assert isinstance(app.screen, MainMenu)

    asyncio.run(scenario())


def test_compose_to_an_entry(home: Path) -> None:
    app = PineshApp(make_session(home))

    async def scenario() -> None:
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.press("a")
            await settle(app, pilot)
            await pilot.press("down", "down", "c")  # team
            await settle(app, pilot)
            screen = app.screen
            assert isinstance(screen, ComposeScreen)
            assert screen.request is not None
            assert screen.request.draft.to == (
                Address("Jane Doe", "jane@example.org"),
                Address("", "carol@example.net"),
            )
            assert screen.field("To").value == "Jane Doe <jane@example.org>, carol@example.net"

    asyncio.run(scenario())


class Picker(App[None]):
    """Opens the address book to pick, and records what it gave."""

    def __init__(self, session: MailSession) -> None:
        super().__init__()
        self.session = session
        self.picked: list[str | None] = []

    def compose(self) -> ComposeResult:
        yield Static("picker")

    def on_mount(self) -> None:
        self.push_screen(AddressBookScreen(self.session, picking=True), self.picked.append)


def test_picking_gives_the_address_text(home: Path) -> None:
    for keys, expected in [
        (["down", "enter"], "Jane Doe <jane@example.org>"),
        (["down", "down", "s"], "Jane Doe <jane@example.org>, carol@example.net"),
        (["escape"], None),
    ]:
        app = Picker(make_session(home))

        async def scenario(app: Picker = app, keys: list[str] = keys) -> None:
            async with app.run_test(size=(100, 24)) as pilot:
                await settle(app, pilot)
                screen = app.screen
                assert isinstance(screen, AddressBookScreen)
                assert "Select" in str(screen.query_one("#title", Static).render())
                await pilot.press("c")  # no ComposeTo while picking
                assert app.screen is screen
                await pilot.press(*keys)
                await pilot.pause()

        asyncio.run(scenario())
        assert app.picked == [expected]
