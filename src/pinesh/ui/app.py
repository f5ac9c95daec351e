"""The pinesh application: the main menu, and the screens it opens."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack, suppress
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from pinesh import __version__
from pinesh.config.keystrokes import Keystroke
from pinesh.errors import PineshError
from pinesh.services.mail import MailSession
from pinesh.stores.base import Reopened
from pinesh.textsafe import safe_line
from pinesh.ui.askpass_dialog import install_askpass
from pinesh.ui.help_screen import HelpScreen, screen_keys, screen_title
from pinesh.ui.key_menu import KeyMenu, key_label
from pinesh.ui.prompts import ConfirmScreen, PromptScreen

if TYPE_CHECKING:
    from pinesh.services.folder_view import FolderView
    from pinesh.services.replying import ComposeRequest

CLOSE_SECONDS = 3.0  # the longest quitting waits for servers to take their logout
NOTICE_SECONDS = 10.0  # how long a reopened connection's notice stays up as a toast


class ConnectionReopened(Message):
    """A store reopened a dropped connection (posted from the worker that did it)."""

    def __init__(self, notice: Reopened) -> None:
        super().__init__()
        self.notice = notice


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
        Binding("question_mark", "app.help", "Help"),
        Binding("c,C", "app.compose", "Compose"),
        Binding("i,I", "index", "Index"),
        Binding("l,L", "app.folder_list", "FldrList"),
        Binding("a,A", "app.address_book", "AddrBook"),
        Binding("s,S", "app.setup", "Setup"),
        Binding("q,Q", "app.confirm_quit", "Quit"),
        Binding("g,G", "app.goto_folder", "GotoFldr", show=False),
    ]
    HELP: ClassVar[str] = """\
The MAIN MENU lists pinesh's main screens. Press the letter at the left of a line:
C to write a message, I for the index of the current folder, L for the list of your
folders and newsgroups, A for the address book, S to see the setup and test each
server's route, Q to leave pinesh. G (Goto) opens a folder by name: a bare name is a
folder in ~/mail, INBOX the inbox, {host}name a folder on a server.
"""

    def compose(self) -> ComposeResult:
        app = self.app
        folder = app.folder if isinstance(app, PineshApp) else ""
        title = f"  PINESH {__version__}   MAIN MENU   Folder: {safe_line(folder)}"
        yield Static(Text(title), id="title")
        yield Static(Text(MENU), id="menu")
        yield Static("", id="status")
        yield KeyMenu()

    def on_screen_resume(self) -> None:
        # The current folder may have changed (opened from the folder list) meanwhile.
        app = self.app
        if isinstance(app, PineshApp):
            title = f"  PINESH {__version__}   MAIN MENU   Folder: {safe_line(app.folder)}"
            self.query_one("#title", Static).update(Text(title))

    def action_index(self) -> None:
        app = self.app
        assert isinstance(app, PineshApp)
        app.open_index(app.folder)


class PineshApp(App[None]):
    """pinesh: opens on the main menu, or on the folder's index (pinesh -f FOLDER)."""

    TITLE = "pinesh"
    CSS_PATH = "pinesh.tcss"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", show=False),
        Binding("ctrl+l", "redraw", "Redraw", show=False, priority=True),
        Binding("o,O", "other_commands", "OTHER CMDS", show=False),
    ]

    def __init__(
        self,
        session: MailSession,
        folder: str = "INBOX",
        *,
        start_in_index: bool = False,
        start_number: int | None = None,
        keystrokes: Sequence[Keystroke] = (),
    ) -> None:
        """folder: the current folder; start_in_index: open its index at once (-i, -f);
        start_number: the message its index starts on (-n, first 1); keystrokes: pressed
        once started (-I, initial-keystroke-list)."""
        super().__init__()
        self.session = session
        self.folder = folder
        self.previous_folder: str | None = None  # Goto offers it
        self.start_in_index = start_in_index
        self.start_number = start_number  # used by the first index of folder, then None
        self.keystrokes = tuple(keystrokes)
        self.last_fcc = ""  # the Fcc of the message sent last (fcc-name-rule=last-fcc-used)
        self._askpass = ExitStack()
        # Stores call this from worker threads with a connection's lock held: posting a
        # message is thread-safe and never waits for the UI thread.
        session.listen_reopened(self._reopened)

    def _reopened(self, notice: Reopened) -> None:
        self.post_message(ConnectionReopened(notice))

    def on_connection_reopened(self, message: ConnectionReopened) -> None:
        """Say on the status line that a connection dropped and was reopened; a toast
        keeps it in view when the command's own result takes the status line."""
        text = message.notice.describe()
        status_of(self.screen, text)
        self.notify(text, severity="warning", timeout=NOTICE_SECONDS)

    def _tell_pinerc_problems(self) -> None:
        """Say at the start that the pinerc has problems (SETUP lists them all), on the main
        menu's status line and in a toast (the index's status line is the folder's)."""
        problems = self.session.connections.pinerc.problems
        if not problems:
            return
        count = f"{len(problems)} problems" if len(problems) > 1 else "a problem"
        text = f"Your pinerc has {count}: {problems[0]}. SETUP (S in the MAIN MENU) lists them."
        status_of(self.screen, text)
        self.notify(safe_line(text), severity="warning", timeout=NOTICE_SECONDS)

    def action_other_commands(self) -> None:
        """O: the key menu's next page of commands."""
        for menu in self.screen.query(KeyMenu):
            menu.other_commands()

    def on_mount(self) -> None:
        # Pine keeps to the terminal's own colours.
        self.theme = "ansi-dark"
        self.push_screen(MainMenu())
        if self.start_in_index:
            self.open_index(self.folder)
        self.call_after_refresh(self._tell_pinerc_problems)  # once the screen is composed
        # From here on, ssh's passphrase and password questions come to a dialog.
        self._askpass.enter_context(install_askpass(self))
        if self.keystrokes:
            from pinesh.ui.initial_keys import PRESSING, press_initial_keys

            self.run_worker(press_initial_keys(self, self.keystrokes), name=PRESSING)

    # -- opening screens (each imported when first used: start-up stays quick) ---------

    def open_index(self, folder: str, view: FolderView | None = None) -> None:
        """The MESSAGE INDEX of folder (view: opened already); it becomes the current folder."""
        from pinesh.ui.index_screen import IndexScreen

        if folder != self.folder:
            self.previous_folder = self.folder
            self.start_number = None  # -n is about the folder the client started with
        self.folder = folder
        number, self.start_number = self.start_number, None
        self.push_screen(IndexScreen(self.session, folder, view, start_number=number))

    def open_compose(
        self,
        request: ComposeRequest | None = None,
        on_sent: Callable[[], None] | None = None,
    ) -> None:
        from pinesh.ui.compose_screen import ComposeScreen

        self.push_screen(ComposeScreen(self.session, request, on_sent=on_sent))

    def open_folder_list(self) -> None:
        from pinesh.ui.folder_list_screen import FolderListScreen

        self.push_screen(FolderListScreen(self.session))

    def open_address_book(self) -> None:
        from pinesh.ui.addressbook_screen import AddressBookScreen

        self.push_screen(AddressBookScreen(self.session))

    def open_setup(self) -> None:
        from pinesh.ui.setup_screen import SetupScreen

        self.push_screen(SetupScreen(self.session))

    def action_compose(self) -> None:
        self.open_compose()

    def action_folder_list(self) -> None:
        self.open_folder_list()

    def action_address_book(self) -> None:
        self.open_address_book()

    def action_setup(self) -> None:
        self.open_setup()

    def action_main_menu(self) -> None:
        """Back to the MAIN MENU from any depth."""
        while len(self.screen_stack) > 2 and not isinstance(self.screen, MainMenu):
            self.pop_screen()

    # -- Goto (G): another folder by name ----------------------------------------------

    def action_goto_folder(self) -> None:
        """Pine's Goto: ask for a folder; Escape or an empty answer changes nothing."""
        screen = self.screen

        def answered(text: str | None) -> None:
            name = (text or "").strip()
            if name:
                self.goto_folder(screen, name)

        prompt = PromptScreen("Folder to open:", initial=self.goto_default())
        self.push_screen(prompt, answered)

    def goto_default(self) -> str:
        """The folder Goto offers: the one open before this, else INBOX (if elsewhere)."""
        if self.previous_folder is not None:
            return self.previous_folder
        return "" if self.folder.upper() == "INBOX" else "INBOX"

    def goto_folder(self, screen: Screen[object], name: str) -> None:
        """Open folder name in a worker, then show its index in place of screen's folder;
        a failure is said on screen's status line and leaves the open folder as it was."""
        from pinesh.ui.message_commands import CommandScreen

        view = screen.view if isinstance(screen, CommandScreen) else None
        current = view.name if view is not None else None
        session = self.session
        status_of(screen, f"Opening {safe_line(name)}...")

        def run() -> None:
            result = open_named(session, name, current)
            try:
                self.call_from_thread(self._went_to, screen, name, result)
            except RuntimeError:  # the app has ended meanwhile
                if not isinstance(result, str):
                    with suppress(PineshError, OSError):  # nobody is left to tell
                        result.close()

        self.run_worker(run, thread=True, group="goto", exit_on_error=False)

    def _went_to(self, screen: Screen[object], name: str, result: FolderView | str) -> None:
        if isinstance(result, str):
            status_of(screen, result)
            return
        if self.screen is not screen:  # another screen (a composer?) is up: keep it
            from pinesh.ui.index_screen import close_later

            close_later(result)
            status_of(screen, f"Goto {safe_line(name)} cancelled")
            return
        self.action_main_menu()  # the folder open until now closes with its index
        self.open_index(name, result)

    def action_redraw(self) -> None:
        """Ctrl-L: draw the whole screen again (after something else wrote to the terminal)."""
        self.refresh(repaint=True, layout=True)

    def action_confirm_quit(self) -> None:
        """Q: leave, after asking unless the pinerc's feature-list has quit-without-confirm."""
        if self.session.pine.feature("quit-without-confirm"):
            self.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(ConfirmScreen("Really quit pinesh?", default=True), answered)

    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        title = getattr(screen, "HELP_TITLE", None) or screen_title(type(screen).__name__)
        text = getattr(screen, "HELP", "No help is written for this screen yet.")
        self.push_screen(HelpScreen(title, str(text), screen_keys(screen)))

    def get_key_display(self, binding: Binding) -> str:
        """Keys as Pine shows them in its menu: C, ^X, <, ?."""
        return binding.key_display or key_label(binding.key)

    def on_unmount(self) -> None:
        self._askpass.close()
        # Logging out of servers may wait on the network: give it a few seconds, then
        # leave anyway (the ssh masters stay up for their persist time, as designed).
        closing = threading.Thread(target=self.session.close, name="close", daemon=True)
        closing.start()
        closing.join(CLOSE_SECONDS)


def status_of(screen: Screen[object], text: str) -> None:
    """Put text on screen's status line (if it has one and is still there)."""
    with suppress(NoMatches):
        screen.query_one("#status", Static).update(Text(safe_line(text)))


def open_named(session: MailSession, name: str, current: str | None) -> FolderView | str:
    """Open folder name for Goto (I/O: in a worker), by the path every open takes
    (FolderView.open); or what to say on the status line instead."""
    from pinesh.services.folder_view import FolderView
    from pinesh.ui.attachment_screen import FAILURES, failure_text

    try:
        if current is not None and same_folder(session, name, current):
            return f"Already in {safe_line(name)}"
        return FolderView.open(session, name)
    except FAILURES as exc:
        why = failure_text(exc)
    # A folder read before is still there, from the header cache: offline, and saying why.
    try:
        cached = FolderView.from_cache(session, name, f"offline: {why}")
    except FAILURES:
        cached = None
    return cached if cached is not None else f"Cannot open {safe_line(name)}: {why}"


def same_folder(session: MailSession, one: str, other: str) -> bool:
    """Whether two names are one folder ("INBOX" and the inbox's path, say)."""
    return session.parse(one) == session.parse(other)
