"""The message index: the newest window of a folder, loaded off the UI thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from pinesh.errors import PineshError
from pinesh.services.mail import MailSession
from pinesh.services.reading import status_column
from pinesh.stores.base import Envelope
from pinesh.textsafe import safe_line

WINDOW = 200


@dataclass(frozen=True)
class IndexRow:
    number: int
    status: str
    date: str
    sender: str
    size: int
    subject: str


def index_rows(envelopes: list[Envelope], first_number: int) -> list[IndexRow]:
    """Index lines for envelopes numbered from first_number; text made safe to draw."""
    rows = []
    for number, env in enumerate(envelopes, start=first_number):
        status = status_column(env)
        sender = env.sender[0].display() if env.sender else ""
        rows.append(
            IndexRow(
                number,
                status,
                env.date.strftime("%b %d") if env.date else "",
                safe_line(sender),
                env.size,
                safe_line(env.subject),
            )
        )
    return rows


class IndexScreen(Screen[None]):
    """MESSAGE INDEX: number, status, date, from, size, subject."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "app.pop_screen", "Main Menu"),
        Binding("q", "app.quit", "Quit"),
        Binding("question_mark", "app.help", "Help"),
    ]

    def __init__(self, session: MailSession, folder: str) -> None:
        super().__init__()
        self.session = session
        self.folder_name = folder

    def compose(self) -> ComposeResult:
        yield Static(f"MESSAGE INDEX   Folder: {safe_line(self.folder_name)}", id="title")
        yield DataTable(id="index", cursor_type="row", zebra_stripes=False)
        yield Static("opening...", id="status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in ("", "#", "Date", "From", "Size", "Subject"):
            table.add_column(label)
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        """Open the folder and fetch the newest window (network I/O: never on the UI thread)."""
        try:
            with self.session.open_folder(self.folder_name, read_only=True) as folder:
                status = folder.status()
                uids = folder.uids()
                first = max(0, len(uids) - WINDOW)
                envelopes = folder.envelopes(uids[first:])
                route = getattr(getattr(folder, "channel", None), "describe", None)
                via = f"via {route()}" if callable(route) else "local"
        except (PineshError, OSError) as exc:
            self.app.call_from_thread(self.show_error, str(exc))
            return
        rows = index_rows(envelopes, first + 1)
        summary = (
            f"{safe_line(self.folder_name)} {safe_line(via)}: {status.count} "
            f"messages, {status.unseen} unseen"
        )
        self.app.call_from_thread(self.show_rows, rows, summary)

    def show_rows(self, rows: list[IndexRow], summary: str) -> None:
        table = self.query_one(DataTable)
        for row in rows:
            # Text(), never markup: a subject like "[b]" or "[link=...]" stays text.
            table.add_row(
                Text(row.status),
                Text(str(row.number)),
                Text(row.date),
                Text(row.sender[:24]),
                Text(str(row.size)),
                Text(row.subject),
            )
        if rows:
            table.move_cursor(row=len(rows) - 1)
        self.query_one("#status", Static).update(Text(summary))

    def show_error(self, message: str) -> None:
        self.query_one("#status", Static).update(Text(safe_line(message)))
