"""FOLDER LIST: each collection's folders with their counts; open, add, rename, delete."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.worker import get_current_worker

from pinesh import __version__
from pinesh.errors import PineshError
from pinesh.services.folders import FolderCounts, FolderEntry, FolderService, Listing
from pinesh.services.mail import MailSession
from pinesh.textsafe import safe_line
from pinesh.ui.folder_list_rows import Row, Section, layout, row_text
from pinesh.ui.key_menu import KeyMenu
from pinesh.ui.prompts import ConfirmScreen, PromptScreen

if TYPE_CHECKING:
    from pinesh.ui.app import PineshApp

GIVE_UP_AFTER = 3  # folders in a row that could not be counted: stop counting there


class FolderListScreen(Screen[None]):
    """FOLDER LIST: the collections, each listed (and its folders counted) in a worker."""

    DEFAULT_CSS = """
    FolderListScreen OptionList { height: 1fr; border: none; padding: 0 1;
        background: $background; }
    FolderListScreen OptionList:focus { border: none; background-tint: $foreground 0%; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "app.help", "Help"),
        Binding("less_than_sign,m,M", "app.main_menu", "Main Menu"),
        Binding("greater_than_sign", "open", "View Fldr"),
        Binding("a,A", "add", "Add"),
        Binding("r,R", "rename", "Rename"),
        Binding("d,D", "delete", "Delete"),
        Binding("w,W,ctrl+w", "whereis", "WhereIs"),
        Binding("tab", "next_collection", "NextColl", show=False),
        Binding("shift+tab", "previous_collection", "PrevColl", show=False),
        Binding("n,N", "move(1)", "NextFldr", show=False),
        Binding("p,P", "move(-1)", "PrevFldr", show=False),
        Binding("space", "page(1)", "NextPage", show=False, key_display="Spc"),
        Binding("minus", "page(-1)", "PrevPage", show=False, key_display="-"),
        Binding("q,Q", "app.confirm_quit", "Quit"),
    ]
    HELP: ClassVar[str] = """\
The FOLDER LIST shows each folder collection of your pinerc (folder-collections, then
news-collections) with its folders. INBOX comes first. Each folder's message count,
and how many are new, appears once it has been read; remote collections are listed
in the background, and a collection that cannot be listed says why in its section.

Enter or > opens the highlighted folder in the MESSAGE INDEX.

A adds a folder to the collection the cursor is in; a name ending in "/" makes a
directory (local collections). In a news collection, A subscribes to a newsgroup.

R renames the highlighted folder (INBOX cannot be renamed).

D deletes the highlighted folder and every message in it, after you confirm. INBOX is
never deleted. In a news collection, D unsubscribes (your read marks are kept).

W (WhereIs) finds the next folder whose name holds the words you type.

Tab and Shift-Tab move to the next and previous collection; N and P to the next and
previous folder; Space and - to the next and previous page. < or M returns to the
MAIN MENU.
"""

    def __init__(self, session: MailSession) -> None:
        super().__init__()
        self.session = session
        self.service = FolderService(session)
        self.sections: list[Section] = []
        self.counts: dict[str, FolderCounts | None] = {}
        self.rows: list[Row | None] = []  # per option; None for headings
        self.wanted: str | None = None  # the folder the cursor should land on
        self.placed: int | None = None  # where the cursor was put (else the user moved it)
        self.last_find = ""
        self.summarized = False  # the first full listing's summary was shown

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="title")
        yield OptionList(id="folders")
        yield Static(Text("Listing folders..."), id="status")
        yield KeyMenu()

    def _title(self) -> Text:
        folder = getattr(self.app, "folder", "")
        return Text(f"  PINESH {__version__}   FOLDER LIST   Folder: {safe_line(folder)}")

    def on_mount(self) -> None:
        self.wanted = getattr(self.app, "folder", None) or "INBOX"
        self.query_one(OptionList).focus()
        self.load_collections()

    def load_collections(self) -> None:
        self.run_worker(self._collections, thread=True, group="collections")

    def _collections(self) -> None:
        """The collections (telling news from mail parses names), then list each one."""
        try:
            sections = [Section(c, self.service.is_news(c)) for c in self.service.collections()]
        except (PineshError, OSError, ValueError) as exc:
            self.app.call_from_thread(self.say, str(exc))
            return
        self.app.call_from_thread(self._start, sections)

    def _start(self, sections: list[Section]) -> None:
        if not self.is_mounted:
            return
        self.sections = sections
        self.rebuild()
        for index in range(len(self.sections)):
            self.list_section(index)

    # -- workers ----------------------------------------------------------------------

    def list_section(self, index: int) -> None:
        """List (again) one collection, then count its folders, in a worker of its own."""
        # Folders counted already keep their counts: a change recounts only what it made.
        known = frozenset(self.counts)
        self.run_worker(
            partial(self._list_and_count, index, known),
            thread=True,
            group=f"section-{index}",
            exclusive=True,
        )

    def _list_and_count(self, index: int, known: frozenset[str]) -> None:
        worker = get_current_worker()
        collection = self.sections[index].collection
        try:
            listing = self.service.listing(collection)
        except (PineshError, OSError, ValueError) as exc:
            listing = Listing(collection, None, error=str(exc))
        if worker.is_cancelled:
            return
        self.app.call_from_thread(self._show_listing, index, listing)
        # One folder at a time: opening 200 remote folders at once would open 200
        # connections, and a store keeps one connection for its own commands.
        failures = 0
        for entry in listing.entries:
            if worker.is_cancelled:
                return
            if not entry.selectable or entry.name in known:
                continue
            counts: FolderCounts | None
            try:
                counts, failure = self.service.counts(entry.name), None
            except (PineshError, OSError, ValueError) as exc:
                counts, failure = None, exc
            if worker.is_cancelled:
                return
            self.app.call_from_thread(self._show_counts, entry.name, counts)
            failures = 0 if failure is None else failures + 1
            if failures == GIVE_UP_AFTER:
                # The server is likely out of reach, and each further try could wait out
                # the whole open timeout.
                self.app.call_from_thread(
                    self.say, f"Not counting the rest of {collection.label}: {failure}"
                )
                return

    def _show_listing(self, index: int, listing: Listing) -> None:
        if not self.is_mounted:
            return
        self.sections[index].listing = listing
        self.rebuild()
        if self.summarized or any(s.listing is None for s in self.sections):
            return  # later listings follow a change, whose message stays
        self.summarized = True
        folders = sum(len(s.listing.entries) for s in self.sections if s.listing)
        failed = sum(1 for s in self.sections if s.listing and s.listing.error)
        summary = f"{folders} folders in {len(self.sections)} collections"
        if failed:
            summary += f"; {failed} could not be listed"
        self.say(summary)

    def _show_counts(self, name: str, counts: FolderCounts | None) -> None:
        if not self.is_mounted:
            return
        self.counts[name] = counts
        option_list = self.query_one(OptionList)
        for at, row in enumerate(self.rows):
            if row is not None and row.entry is not None and row.entry.name == name:
                option_list.replace_option_prompt_at_index(
                    at, row_text(row, self.sections, self.counts)
                )

    # -- drawing ----------------------------------------------------------------------

    def rebuild(self) -> None:
        """Draw every section again, keeping the cursor on the folder it was on."""
        option_list = self.query_one(OptionList)
        current = self._row(option_list.highlighted)
        if option_list.highlighted is not None and option_list.highlighted != self.placed:
            self.wanted = None  # the user moved: stay where they went
        target = self.wanted or (current.entry.name if current and current.entry else None)
        options, self.rows = layout(self.sections, self.counts)
        option_list.clear_options()
        option_list.add_options(options)
        at = self._find(lambda r: r.entry is not None and r.entry.name == target)
        if at is not None and target == self.wanted:
            self.wanted = None  # found: from now on the cursor stays where it is
        if at is None and current is not None:
            at = self._find(lambda r: r.section == current.section)
        if at is None:
            at = self._find(lambda r: True)
        option_list.highlighted = at
        self.placed = at

    def _row(self, index: int | None) -> Row | None:
        if index is None or not 0 <= index < len(self.rows):
            return None
        return self.rows[index]

    def _find(self, wanted: Callable[[Row], bool], start: int = 0) -> int | None:
        """The first row from start (wrapping round) that wanted accepts."""
        count = len(self.rows)
        for step in range(count):
            at = (start + step) % count
            row = self.rows[at]
            if row is not None and wanted(row):
                return at
        return None

    def _current(self) -> Row | None:
        return self._row(self.query_one(OptionList).highlighted)

    def say(self, message: str) -> None:
        self.query_one("#status", Static).update(Text(safe_line(message)))

    # -- moving -----------------------------------------------------------------------

    def _go(self, at: int | None) -> None:
        if at is not None:
            self.query_one(OptionList).highlighted = at

    def action_move(self, step: int) -> None:
        option_list = self.query_one(OptionList)
        if step > 0:
            option_list.action_cursor_down()
        else:
            option_list.action_cursor_up()

    def action_page(self, pages: int) -> None:
        option_list = self.query_one(OptionList)
        if pages > 0:
            option_list.action_page_down()  # type: ignore[no-untyped-call]
        else:
            option_list.action_page_up()  # type: ignore[no-untyped-call]

    def action_next_collection(self) -> None:
        self._jump(1)

    def action_previous_collection(self) -> None:
        self._jump(-1)

    def _jump(self, step: int) -> None:
        current = self._current()
        if current is None or not self.sections:
            return
        section = (current.section + step) % len(self.sections)
        self._go(self._find(lambda r: r.section == section))

    def action_whereis(self) -> None:
        def answered(text: str | None) -> None:
            if not text:
                return
            self.last_find = text
            start = (self.query_one(OptionList).highlighted or 0) + 1
            needle = text.lower()
            at = self._find(
                lambda r: r.entry is not None and needle in r.entry.display.lower(), start
            )
            if at is None:
                self.say(f'Folder "{text}" not found')
            else:
                self._go(at)
                self.say("")

        self.app.push_screen(
            PromptScreen("Folder name to find :", initial=self.last_find), answered
        )

    # -- opening ----------------------------------------------------------------------

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        # A second Enter typed quickly reaches the list after the index replaced it:
        # opening again would close that index and open another.
        if self.is_active:
            self.action_open()

    def action_open(self) -> None:
        row = self._current()
        if row is None or row.entry is None:
            self.say("No folder here to open")
            return
        if not row.entry.selectable:
            self.say(f'"{row.entry.display}" is a directory; its folders are listed below it')
            return
        app = cast("PineshApp", self.app)
        name = row.entry.name
        # The index replaces the folder list: going back from it leads to the main menu.
        app.pop_screen()
        app.open_index(name)

    # -- changes ----------------------------------------------------------------------

    def action_add(self) -> None:
        row = self._current()
        if row is None:
            return
        section = self.sections[row.section]
        news = section.news
        prompt = "Name of newsgroup to subscribe to :" if news else "Name of folder to add :"

        def answered(text: str | None) -> None:
            if text:
                add = self.service.subscribe if news else self.service.create
                self.change(row.section, partial(add, section.collection, text), "added")

        self.app.push_screen(PromptScreen(prompt), answered)

    def action_rename(self) -> None:
        row = self._current()
        if row is None or row.entry is None:
            self.say("No folder here to rename")
            return
        entry = row.entry
        if entry.is_inbox:
            self.say("INBOX cannot be renamed")
            return
        collection = self.sections[row.section].collection

        def answered(text: str | None) -> None:
            if text and text != entry.display.rstrip("/"):
                rename = partial(self.service.rename, collection, entry, text)
                self.change(row.section, rename, "renamed", old=entry.name)

        initial = entry.display.rstrip("/")
        self.app.push_screen(PromptScreen("Rename folder to :", initial=initial), answered)

    def action_delete(self) -> None:
        row = self._current()
        if row is None or row.entry is None:
            self.say("No folder here to delete")
            return
        entry = row.entry
        if entry.is_inbox:
            self.say("INBOX cannot be deleted")
            return
        section = self.sections[row.section]
        news = section.news
        if news:
            question = f'Really unsubscribe from "{entry.display}"?'
            remove = partial(self.service.unsubscribe, section.collection, entry)
        else:
            question = f'Really delete folder "{entry.display}"?'
            remove = partial(self.service.delete, section.collection, entry)

        def answered(yes: bool | None) -> None:
            if yes:
                done = f'"{entry.display}" ' + ("unsubscribed" if news else "deleted")
                self.change(row.section, remove, done, old=entry.name, removed=True)

        self.app.push_screen(ConfirmScreen(question), answered)

    def change(
        self,
        index: int,
        work: Callable[[], FolderEntry | None],
        done: str,
        *,
        old: str | None = None,
        removed: bool = False,
    ) -> None:
        """Run a change in a worker, then list the section again with the cursor on it."""
        self.say("Working...")
        self.run_worker(
            partial(self._change, index, work, done, old, removed), thread=True, group="change"
        )

    def _change(
        self,
        index: int,
        work: Callable[[], FolderEntry | None],
        done: str,
        old: str | None,
        removed: bool,
    ) -> None:
        try:
            result = work()
        except (PineshError, OSError, ValueError) as exc:
            self.app.call_from_thread(self.say, str(exc))
            return
        self.app.call_from_thread(self._changed, index, result, done, old, removed)

    def _changed(
        self, index: int, result: FolderEntry | None, done: str, old: str | None, removed: bool
    ) -> None:
        if not self.is_mounted:
            return
        app = cast("PineshApp", self.app)
        # The current folder follows its renaming, and falls back to INBOX when deleted.
        if old is not None and app.folder == old:
            app.folder = "INBOX" if removed or result is None else result.name
            self.query_one("#title", Static).update(self._title())
        if result is not None:
            self.wanted = result.name
            self.placed = self.query_one(OptionList).highlighted
            self.say(f'Folder "{result.display}" {done}')
        else:
            self.say(f"Folder {done}")  # done names the folder
        self.list_section(index)
