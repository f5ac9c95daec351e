"""The message index as a virtual list: a line per message, only the rows on screen read.

The list never holds all envelopes: it draws each visible row from the FolderView's cache
and, when rows on screen (or half a screen around them) are missing, asks the FolderView
for that window in a worker, drawing placeholders until it comes back. A 100,000-message
folder costs what a screenful costs.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.style import Style
from rich.text import Text
from textual import events, work
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import get_current_worker

from pinesh.config.index_format import IndexColumn
from pinesh.errors import PineshError
from pinesh.services.folder_view import FolderView
from pinesh.services.reading import status_column
from pinesh.stores.base import Address, Envelope, Flag
from pinesh.textsafe import safe_line

DATE_WIDTH = 10  # "Jun 01" this year, "2023-06-01" before
SIZE_WIDTH = 7  # "(123K)"
MAX_INDENT = 12  # thread levels indented; deeper replies stay at this depth


# Pine's own columns when the pinerc has no index-format.
DEFAULT_FORMAT = (
    IndexColumn("STATUS"),
    IndexColumn("MSGNO"),
    IndexColumn("DATE"),
    IndexColumn("FROMORTO"),
    IndexColumn("SIZE"),
    IndexColumn("SUBJECT"),
)
NATURAL = {
    "STATUS": 4,
    "FULLSTATUS": 4,
    "DATE": DATE_WIDTH,
    "SMARTDATE": DATE_WIDTH,
    "SIZE": SIZE_WIDTH,
}
MIN_FREE = 20  # cells the flexible columns get however narrow the screen


@dataclass(frozen=True)
class Layout:
    """Each column's token and width in cells, for a screen width and a folder size."""

    columns: tuple[tuple[str, int], ...]  # (token name, cells)
    thread_style: str = "show-thread-structure"  # threading-display-style
    local_dates: bool = False  # convert-dates-to-localtime: dates in this machine's zone

    @property
    def number(self) -> int:
        """The message number's width (the placeholders' too)."""
        return next((w for n, w in self.columns if n == "MSGNO"), 2)


def layout_for(
    width: int,
    count: int,
    columns: Sequence[IndexColumn] = DEFAULT_FORMAT,
    thread_style: str = "show-thread-structure",
    local_dates: bool = False,
) -> Layout:
    """Widths in cells: fixed columns their natural width (or their (N)); what is left
    goes to the (N%) columns, then to a sender column without a width (a third, 10 to
    30 cells) and the last flexible column without one (the rest)."""
    number = max(len(str(count)), 2)

    def fixed(column: IndexColumn) -> int | None:
        if column.cells is not None:
            return column.cells
        if column.name == "MSGNO":
            return number
        return NATURAL.get(column.name)

    sized = [fixed(c) for c in columns]
    free = max(width - sum(w or 0 for w in sized) - (len(columns) - 1), MIN_FREE)
    for i, column in enumerate(columns):
        if sized[i] is None and column.percent is not None:
            sized[i] = max(free * column.percent // 100, 1)
    rest = free - sum(w for i, w in enumerate(sized) if w and columns[i].percent is not None)
    open_ones = [i for i, w in enumerate(sized) if w is None]
    for i in open_ones[:-1]:
        sized[i] = min(max(rest // 3, 10), 30)
    if open_ones:
        last = open_ones[-1]
        sized[last] = max(rest - sum(sized[i] or 0 for i in open_ones[:-1]), 1)
    widths = tuple((c.name, w or 1) for c, w in zip(columns, sized, strict=True))
    return Layout(widths, thread_style, local_dates)


def fit(text: str, width: int) -> str:
    """text cut or padded to exactly width terminal cells (wide characters count twice)."""
    return set_cell_size(text, width) if cell_len(text) != width else text


def compact_size(size: int) -> str:
    """Pine's index column: (512), (12K), (3.4M)."""
    if size < 1000:
        return f"({size})"
    if size < 1000 * 1024:
        return f"({max(size // 1024, 1)}K)"
    return f"({size / (1024 * 1024):.1f}M)"


def date_text(date: datetime | None, today: datetime) -> str:
    if date is None:
        return ""
    return date.strftime("%b %d") if date.year == today.year else date.strftime("%Y-%m-%d")


def _is_me(addresses: tuple[Address, ...], me: Collection[str]) -> bool:
    return any(a.email.lower() in me for a in addresses)


def status_text(envelope: Envelope, me: Collection[str]) -> str:
    """Pine's status: '+' to me (or '-' Cc to me), then N/D/A, then '*' when flagged."""
    if _is_me(envelope.to, me):
        mark = "+"
    elif _is_me(envelope.cc, me):
        mark = "-"
    else:
        mark = " "
    return mark + status_column(envelope)


def sender_text(envelope: Envelope, me: Collection[str]) -> str:
    """The From column: the sender, or 'To: recipient' for a message from me."""
    if _is_me(envelope.sender, me) and envelope.to:
        return "To: " + envelope.to[0].display()
    return envelope.sender[0].display() if envelope.sender else ""


def index_line(
    envelope: Envelope,
    number: int,
    depth: int,
    selected: bool,
    me: Collection[str],
    layout: Layout,
    today: datetime,
) -> str:
    """One index line in the layout's columns, made safe to draw, aligned by terminal
    cells (a wide character counts two)."""
    indent = thread_indent(depth, layout.thread_style)
    pieces = []
    for name, width in layout.columns:
        if name in ("STATUS", "FULLSTATUS"):
            text = fit(("X" if selected else " ") + status_text(envelope, me), width)
        elif name == "MSGNO":
            text = str(number).rjust(width)
        elif name in ("DATE", "SMARTDATE"):
            date = envelope.date
            if date is not None and layout.local_dates:
                date = date.astimezone()
            text = fit(date_text(date, today), width)
        elif name == "SIZE":
            text = fit(compact_size(envelope.size).rjust(width), width)
        elif name in ("SUBJECT", "SUBJKEY"):
            text = fit(indent + one_line(envelope.subject), width)
        else:
            text = fit(one_line(_people(name, envelope, me)), width)
        pieces.append(text)
    return " ".join(pieces)


def thread_indent(depth: int, style: str) -> str:
    """What comes before a reply's subject in thread view, by threading-display-style:
    pinesh's structure ("  " a level, then "> "), nothing, or 1 or 2 spaces a level."""
    level = min(depth, MAX_INDENT)
    if style == "none" or not depth:
        return ""
    if style == "indent-subject-1":
        return " " * level
    if style == "indent-subject-2":
        return "  " * level
    return "  " * level + "> "


def _people(name: str, envelope: Envelope, me: Collection[str]) -> str:
    if name == "FROM":
        return envelope.sender[0].display() if envelope.sender else ""
    if name == "TO":
        return envelope.to[0].display() if envelope.to else ""
    return sender_text(envelope, me)  # FROMORTO


def one_line(text: str) -> str:
    """safe_line, and tabs as spaces: a row is drawn cell by cell, and a tab sent to the
    terminal would move its cursor past cells that are then never written."""
    return safe_line(text).replace("\t", " ")


def placeholder_line(number: int, layout: Layout, what: str) -> str:
    return f"{'':4} {str(number).rjust(layout.number)} {what}"


class IndexList(ScrollView):
    """The rows of a FolderView's order, with a cursor and a set of selected UIDs."""

    can_focus = False  # the screen's bindings move the cursor (and show in its help)

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "index-list--cursor",
        "index-list--unseen",
        "index-list--provisional",
    }
    DEFAULT_CSS = """
    IndexList { overflow-x: hidden; height: 1fr; }
    IndexList > .index-list--cursor { text-style: reverse; }
    IndexList > .index-list--unseen { text-style: bold; }
    IndexList > .index-list--provisional { text-style: dim; }
    """

    class CursorMoved(Message):
        """The cursor is on another row."""

        def __init__(self, position: int) -> None:
            super().__init__()
            self.position = position

    class Loaded(Message):
        """A window of envelopes arrived (from view)."""

        def __init__(self, view: FolderView) -> None:
            super().__init__()
            self.view = view

    class LoadFailed(Message):
        """Reading a window failed: what to show on the status line."""

        def __init__(self, error: str, view: FolderView) -> None:
            super().__init__()
            self.error = error
            self.view = view

    def __init__(
        self,
        me: Collection[str] = (),
        columns: Sequence[IndexColumn] | None = None,
        *,
        thread_style: str = "show-thread-structure",
        local_dates: bool = False,
        id: str | None = None,
    ) -> None:
        """me: the user's addresses ('+' and 'To:'); columns: the pinerc's index-format;
        thread_style: its threading-display-style."""
        super().__init__(id=id)
        self.columns = tuple(columns) if columns else DEFAULT_FORMAT
        self.thread_style = thread_style
        self.local_dates = local_dates
        self._layout: tuple[tuple[int, int], Layout] | None = None  # (width, count): layout
        self.view: FolderView | None = None
        self.cursor = 0
        self.selected: set[int] = set()
        self.me = frozenset(a.lower() for a in me)
        self._loading: tuple[int, int] | None = None
        self._today = datetime.now()

    # -- the folder and the cursor

    @property
    def count(self) -> int:
        return self.view.count if self.view is not None else 0

    def attach(self, view: FolderView, cursor: int) -> None:
        self.view = view
        self._loading = None  # a load from the view before (the cache's) is not this one
        self.refresh_rows()
        self.move_cursor(cursor)

    def refresh_rows(self) -> None:
        """Draw again after the order or flags changed (the count may have changed too)."""
        self.virtual_size = Size(0, self.count)
        self.cursor = min(self.cursor, max(self.count - 1, 0))
        self.refresh()
        self.call_after_refresh(self.fetch_visible)

    def move_cursor(self, position: int) -> None:
        """Put the cursor on a row (clamped) and scroll so that it shows."""
        if not self.count:
            self.cursor = 0
            self.refresh()
            self.post_message(self.CursorMoved(0))  # e.g. all expunged: the title says so
            return
        self.cursor = max(0, min(position, self.count - 1))
        top = round(self.scroll_offset.y)
        height = max(self.scrollable_content_region.height, 1)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True, force=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True, force=True)
        self.refresh()
        self.post_message(self.CursorMoved(self.cursor))
        self.call_after_refresh(self.fetch_visible)

    def page(self, pages: int) -> None:
        """Scroll by whole screens, the cursor keeping its place on the screen."""
        height = max(self.scrollable_content_region.height, 1)
        self.scroll_to(
            y=self.scroll_offset.y + pages * height, animate=False, immediate=True, force=True
        )
        self.move_cursor(self.cursor + pages * height)

    def current_uid(self) -> int | None:
        view = self.view
        if view is None:
            return None
        uids = view.order.uids  # read once: a worker's expunge may replace the order
        return uids[self.cursor] if self.cursor < len(uids) else None

    # -- fetching what shows

    def fetch_visible(self) -> None:
        """Ask for the envelopes of the rows on screen (and half a screen around them)."""
        view = self.view
        if view is None or not view.count:
            return
        height = max(self.scrollable_content_region.height, 1)
        top = round(self.scroll_offset.y)
        start, stop = max(0, top - height // 2), min(view.count, top + height + height // 2)
        uids = view.order.uids[start:stop]
        missing = any(view.cached(u) is None and not view.is_absent(u) for u in uids)
        if missing and self._loading != (start, stop):
            self._loading = (start, stop)
            self._load(view, start, stop)

    @work(
        thread=True,
        exclusive=True,
        group="index-window",
        exit_on_error=False,
        description="index window",  # not repr(args): FolderView's repr is huge
    )
    def _load(self, view: FolderView, start: int, stop: int) -> None:
        if get_current_worker().is_cancelled:
            return  # the user scrolled on: a newer window is asked for
        try:
            view.window(start, stop)
        except (PineshError, OSError, ValueError) as exc:
            self.post_message(self.LoadFailed(safe_line(str(exc)), view))
        else:
            self.post_message(self.Loaded(view))

    def on_index_list_loaded(self, event: Loaded) -> None:
        if event.view is self.view:
            self._loading = None
        self.refresh()
        self.fetch_visible()

    def on_index_list_load_failed(self, event: LoadFailed) -> None:
        if event.view is not self.view:  # a view replaced meanwhile (and closed): not ours
            event.stop()
            self.fetch_visible()
            return
        self._loading = None  # the screen shows the error; scrolling asks again

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) != round(new_value):
            self.call_after_refresh(self.fetch_visible)

    def on_resize(self, event: events.Resize) -> None:
        self.refresh()
        self.call_after_refresh(self.fetch_visible)

    def on_click(self, event: events.Click) -> None:
        self.move_cursor(round(self.scroll_offset.y) + event.y)

    # -- drawing

    def row_text(self, position: int) -> str:
        """The text of one row, as drawn (a placeholder until its envelope is read)."""
        view = self.view
        assert view is not None
        width = self.scrollable_content_region.width
        order = view.order  # read once: a worker's expunge may replace it meanwhile
        layout = self._layout_for(width, len(order.uids))
        if position >= len(order.uids):
            return placeholder_line(position + 1, layout, "")
        uid = order.uids[position]
        envelope = view.cached(uid)
        if envelope is None:
            what = "[no longer in the folder]" if view.is_absent(uid) else "..."
            return placeholder_line(position + 1, layout, what)
        return index_line(
            envelope,
            position + 1,
            order.depths[position] if order.depths is not None else 0,
            uid in self.selected,
            self.me,
            layout,
            self._today,
        )

    def _layout_for(self, width: int, count: int) -> Layout:
        """The columns' widths, worked out again only when the width or the folder's size
        changes: every row drawn asks for them."""
        if self._layout is None or self._layout[0] != (width, count):
            made = layout_for(width, count, self.columns, self.thread_style, self.local_dates)
            self._layout = ((width, count), made)
        return self._layout[1]

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        position = round(self.scroll_offset.y) + y
        view = self.view
        uids = view.order.uids if view is not None else []  # read once (see row_text)
        if view is None or position >= len(uids):
            text = (
                "  [this folder is empty]" if view is not None and y == 0 and not view.count else ""
            )
            return Strip([*Text(text).render(self.app.console)]).crop_extend(0, width, None)
        # Text(), never markup: a subject like "[b]" stays text.
        line = Text(self.row_text(position), end="")
        envelope = view.cached(uids[position])
        style = Style()
        if envelope is not None and Flag.SEEN not in envelope.flags:
            style += self.get_component_rich_style("index-list--unseen", partial=True)
        if view.provisional:  # the cache's rows, until the server confirms them
            style += self.get_component_rich_style("index-list--provisional", partial=True)
        if position == self.cursor:
            style += self.get_component_rich_style("index-list--cursor", partial=True)
        strip = Strip([*line.render(self.app.console)]).crop_extend(0, width, None)
        return strip.apply_style(style) if style else strip
