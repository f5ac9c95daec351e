"""The pinesh application: the main menu, and the screens it opens."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static

from pinesh import __version__
from pinesh.services.mail import MailSession
from pinesh.ui.index_screen import IndexScreen

MENU = """
      ?     HELP               -  Get help using pinesh
      C     COMPOSE MESSAGE    -  Compose and send a message
      I     MESSAGE INDEX      -  View messages in current folder
      L     FOLDER LIST        -  Select a folder to view
      A     ADDRESS BOOK       -  Update address book
      S     SETUP              -  Configure pinesh options
      Q     QUIT               -  Leave the pinesh program
"""


class MainMenu(Screen[None]):
    """Pine's MAIN MENU."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("i", "index", "Message Index"),
        Binding("q", "app.quit", "Quit"),
        Binding("question_mark", "app.help", "Help"),
        Binding("c", "later('Compose')", "Compose", show=False),
        Binding("l", "later('Folder List')", "Folder List", show=False),
        Binding("a", "later('Address Book')", "Address Book", show=False),
        Binding("s", "later('Setup')", "Setup", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Static(f"  PINESH {__version__}   MAIN MENU", id="title")
        yield Static(Text(MENU), id="menu")
        yield Footer()

    def action_index(self) -> None:
        app = self.app
        assert isinstance(app, PineshApp)
        app.push_screen(IndexScreen(app.session, app.folder))

    def action_later(self, what: str) -> None:
        self.notify(f"{what} is not built yet", severity="warning")


class PineshApp(App[None]):
    """pinesh: opens on the main menu; the folder is INBOX unless -f says otherwise."""

    TITLE = "pinesh"

    def __init__(self, session: MailSession, folder: str = "INBOX") -> None:
        super().__init__()
        self.session = session
        self.folder = folder

    def on_mount(self) -> None:
        self.push_screen(MainMenu())

    def action_help(self) -> None:
        self.notify("I index, M main menu, Q quit; more help comes with the full client")

    def on_unmount(self) -> None:
        self.session.close()
