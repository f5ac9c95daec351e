"""ADDRESS BOOK: list, add, change and delete entries; or pick one for the composer."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Static

from pinesh.errors import PineshError
from pinesh.senders.addresses import parse_typed_addresses
from pinesh.services.addressbook import AddressBook, AddressEntry, make_entry
from pinesh.services.addressbook_file import add_entry, change_entry, delete_entry, load_addressbook
from pinesh.services.mail import MailSession
from pinesh.services.replying import ComposeRequest, new_request
from pinesh.stores.base import Address
from pinesh.textsafe import safe_line
from pinesh.ui.key_menu import KeyMenu
from pinesh.ui.prompts import ConfirmScreen, PromptScreen

if TYPE_CHECKING:
    from pinesh.ui.app import PineshApp

FIELDS = (
    ("nickname", "Nickname:"),
    ("fullname", "Fullname (e.g. Doe, Jane):"),
    ("address_text", "Address (several, separated by commas, make a list):"),
    ("fcc", "Fcc (folder for copies of mail to this entry):"),
    ("comment", "Comment:"),
)


class AddressBookScreen(Screen[str | None]):
    """ADDRESS BOOK. With picking=True (^T in the composer) it closes with the chosen
    entry's address text; otherwise it closes with None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "app.help", "Help"),
        Binding("less_than_sign,m,M,escape", "back", "Exit", key_display="<"),
        Binding("s,S", "select", "Select"),
        Binding("a,A", "add", "AddNew"),
        Binding("e,E", "edit", "Edit"),
        Binding("d,D", "delete", "Delete"),
        Binding("c,C", "compose_to", "ComposeTo"),
    ]
    HELP: ClassVar[str] = """\
ADDRESS BOOK lists the entries of your address book (the pinerc's address-book, else
~/.addressbook, in Pine's own format, so Pine and Alpine read it too): nickname, full
name and address. An entry with several addresses is a distribution list.

A adds an entry, E changes the one under the cursor, D deletes it (after a question).
C starts a message to it. In the composer, a nickname typed in To, Cc or Bcc is
replaced by the entry's address(es).

Opened from the composer with ^T, S or Enter puts the entry's address in the field.
< or M goes back.
"""

    def __init__(self, session: MailSession, *, picking: bool = False) -> None:
        super().__init__()
        self.session = session
        self.picking = picking
        self.book: AddressBook | None = None
        self.entries: tuple[AddressEntry, ...] = ()

    def compose(self) -> ComposeResult:
        mode = "   Select an address (S or Enter)" if self.picking else ""
        yield Static(Text(f"  ADDRESS BOOK{mode}"), id="title")
        yield DataTable(id="entries", cursor_type="row", zebra_stripes=False)
        yield Static("reading the address book...", id="status")
        yield KeyMenu()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in ("Nickname", "Full name", "Address"):
            table.add_column(label)
        table.focus()
        self.load()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "select":
            return self.picking
        if action == "compose_to":
            return not self.picking
        return True

    def say(self, message: str) -> None:
        if not self.is_attached:  # a worker finished after the screen was closed
            return
        # A PineshError's hint comes after "\n  ": on one line, after a semicolon.
        self.query_one("#status", Static).update(Text(safe_line(message.replace("\n  ", "; "))))

    # -- reading ---------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="read")
    def load(self) -> None:
        try:
            book = load_addressbook(self.session)
        except (PineshError, OSError) as exc:
            self.app.call_from_thread(self.say, str(exc))
            return
        self.app.call_from_thread(self.show, book)

    def show(self, book: AddressBook, select: str | None = None) -> None:
        """List book's entries; the cursor on the nickname select (or where it was)."""
        if not self.is_attached:
            return
        self.book = book
        self.entries = book.shown
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for entry in self.entries:
            address = entry.shown_address()
            if entry.is_list:
                address = f"DLIST: {address}"
            table.add_row(
                Text(safe_line(entry.nickname)),
                Text(safe_line(entry.fullname)),
                Text(safe_line(address)),
            )
        if select is not None:
            row = next(
                (i for i, e in enumerate(self.entries) if e.nickname.lower() == select.lower()),
                row,
            )
        if self.entries:
            table.move_cursor(row=min(max(row, 0), len(self.entries) - 1))
        count = f"{len(self.entries)} entries in {book.path}"
        if book.problems:
            count += f"; {len(book.problems)} lines not read: {book.problems[0]}"
        self.say(count)

    def current(self) -> AddressEntry | None:
        table = self.query_one(DataTable)
        if not self.entries or table.cursor_row < 0:
            return None
        return self.entries[min(table.cursor_row, len(self.entries) - 1)]

    # -- picking and composing -------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss(None)

    def action_select(self) -> None:
        if not self.is_active:
            # A second Enter typed quickly reaches the list after it was answered:
            # dismissing again would close the composer under it.
            return
        entry = self.current()
        if entry is None or self.book is None:
            self.say("no entry to select")
            return
        self.dismiss(self.book.address_text(entry))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self.picking:
            self.action_select()
        else:
            self.action_edit()

    def action_compose_to(self) -> None:
        entry = self.current()
        if entry is None or self.book is None:
            self.say("no entry to write to")
            return
        try:
            to = parse_typed_addresses(self.book.address_text(entry), "To")
        except PineshError as exc:
            self.say(str(exc))
            return
        self.start_compose(to)

    @work(thread=True, group="compose")
    def start_compose(self, to: tuple[Address, ...]) -> None:
        try:
            request = new_request(self.session)  # reads the signature file
        except (PineshError, OSError) as exc:
            self.app.call_from_thread(self.say, str(exc))
            return
        request = replace(request, draft=replace(request.draft, to=to))
        self.app.call_from_thread(self._open_compose, request)

    def _open_compose(self, request: ComposeRequest) -> None:
        if self.is_active:  # C pressed twice: one composer, not two stacked
            cast("PineshApp", self.app).open_compose(request)

    # -- changing --------------------------------------------------------------------

    async def _ask(self, entry: AddressEntry | None) -> dict[str, str] | None:
        """Each field in turn, filled in with entry's; None when one was cancelled."""
        initial = {
            "nickname": entry.nickname if entry else "",
            "fullname": entry.fullname if entry else "",
            "address_text": entry.shown_address() if entry else "",
            "fcc": entry.fcc if entry else "",
            "comment": entry.comment if entry else "",
        }
        answers: dict[str, str] = {}
        for key, prompt in FIELDS:
            answer = await self.app.push_screen_wait(PromptScreen(prompt, initial=initial[key]))
            if answer is None:
                self.say("Cancelled")
                return None
            answers[key] = answer
        return answers

    @work(exclusive=True, group="change")
    async def action_add(self) -> None:
        answers = await self._ask(None)
        if answers is not None:
            await self._save(answers, None)

    @work(exclusive=True, group="change")
    async def action_edit(self) -> None:
        entry = self.current()
        if entry is None:
            self.say("no entry to change")
            return
        answers = await self._ask(entry)
        if answers is not None:
            await self._save(answers, entry.nickname)

    async def _save(self, answers: dict[str, str], replacing: str | None) -> None:
        try:
            entry = make_entry(**answers)
            if replacing is None:
                book = await asyncio.to_thread(add_entry, self.session, entry)
            else:
                book = await asyncio.to_thread(change_entry, self.session, replacing, entry)
        except (PineshError, OSError) as exc:
            self.say(str(exc))
            return
        self.show(book, select=entry.nickname)
        self.say(f"Saved {entry.nickname} in {book.path}")

    @work(exclusive=True, group="change")
    async def action_delete(self) -> None:
        entry = self.current()
        if entry is None:
            self.say("no entry to delete")
            return
        question = f"Really delete {safe_line(entry.nickname or entry.fullname)}?"
        if not await self.app.push_screen_wait(ConfirmScreen(question)):
            return
        try:
            book = await asyncio.to_thread(delete_entry, self.session, entry.nickname)
        except (PineshError, OSError) as exc:
            self.say(str(exc))
            return
        self.show(book)
        self.say(f"Deleted {safe_line(entry.nickname)}")
