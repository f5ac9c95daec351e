"""Pine's key menu: the two lines at the bottom of every screen naming its commands.

Written here rather than using Textual's Footer: the Footer builds one widget per key
(about 25 on the index, 70 across the screens of a `pinesh -f` start), each restyled on
mount, which cost about a fifth of the client's CPU to its first index (docs/benchmarks.md,
"The key menu"). This is one widget that renders text, laid out as Pine lays its menu:
columns of "KEY Label", two to a column, filled top to bottom.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget

ROWS = 2  # Pine's key menu is two lines
GAP = 2  # spaces between two columns

_KEY_NAMES = {
    "question_mark": "?",
    "less_than_sign": "<",
    "greater_than_sign": ">",
    "dollar_sign": "$",
    "semicolon": ";",
    "colon": ":",
    "space": "Spc",
    "minus": "-",
    "asterisk": "*",
    "enter": "Ret",
    "escape": "Esc",
    "pageup": "PrvPage",
    "pagedown": "NxtPage",
    "underscore": "_",
    "tab": "Tab",
}


def key_label(key: str) -> str:
    """Textual's key name as Pine writes it: ctrl+x -> ^X, question_mark -> ?."""
    first = key.split(",")[0]
    if first.startswith("ctrl+"):
        rest = first.removeprefix("ctrl+")
        return "^" + _KEY_NAMES.get(rest, rest.upper())
    return _KEY_NAMES.get(first, first.upper() if len(first) == 1 else first)


@dataclass(frozen=True)
class MenuKey:
    """One command of the menu: the key pressed for it, as shown, and what it does."""

    key: str  # Textual's key name, pressed when the entry is clicked
    label: str  # the key as Pine writes it
    description: str
    enabled: bool


@dataclass(frozen=True)
class MenuCell:
    """Where one command landed on the menu: row, first and last column (exclusive)."""

    row: int
    start: int
    end: int
    entry: MenuKey


def menu_keys(screen: Screen[object]) -> list[MenuKey]:
    """The commands a screen shows in its menu: its active bindings with show set, one per
    action (the first key bound to it), in the order they are bound."""
    found: dict[str, MenuKey] = {}
    for active in screen.active_bindings.values():
        binding: Binding = active.binding
        if not binding.show or not binding.description or binding.action in found:
            continue
        label = binding.key_display or key_label(binding.key)
        found[binding.action] = MenuKey(binding.key, label, binding.description, active.enabled)
    return list(found.values())


OTHER = MenuKey("o", "O", "OTHER CMDS", True)  # pages through a menu wider than the screen


def lay_out(entries: list[MenuKey], width: int) -> list[list[MenuCell]]:
    """The menu's pages: columns of ROWS entries, filled top to bottom, as many as width
    holds; O OTHER CMDS pages through the rest, as in Pine.

    Help stands first on every page, over O OTHER CMDS when there is more than one page;
    the other entries pair up in the order they are bound (a screen binds previous before
    next, so P PrevMsg stands over N NextMsg). A column is as wide as its widest entry.
    """
    help_entry = next((e for e in entries if e.key == "question_mark"), None)
    rest = [e for e in entries if e is not help_entry]
    columns = [rest[i : i + ROWS] for i in range(0, len(rest), ROWS)]
    head = [help_entry] if help_entry else []
    pages = _pages(head, columns, width)
    if len(pages) > 1:
        pages = _pages([*head, OTHER], columns, width)
    return pages


def _pages(head: list[MenuKey], columns: list[list[MenuKey]], width: int) -> list[list[MenuCell]]:
    """Pages that each start with the column head (if any), then as many of columns as fit
    (at least one, however narrow the screen)."""
    pages: list[list[MenuCell]] = []
    while columns or not pages:
        cells, x = _column(head, 0) if head else ([], -GAP)
        taken = 0
        for column in columns:
            placed, end = _column(column, x + GAP)
            if end > width and taken:
                break
            cells += placed
            x = end
            taken += 1
        pages.append(cells)
        columns = columns[taken:]
    return pages


def _column(entries: list[MenuKey], x: int) -> tuple[list[MenuCell], int]:
    """One column of the menu at x: its cells, and the column just past its widest entry."""
    key_width = max(len(e.label) for e in entries)
    end = x + max(key_width + 1 + len(e.description) for e in entries)
    return [MenuCell(row, x, end, entry) for row, entry in enumerate(entries)], end


def render_menu(cells: list[MenuCell]) -> Text:
    """The menu's two lines: each key in reverse video, its description after it."""
    lines = [Text(no_wrap=True, overflow="crop") for _ in range(ROWS)]
    key_widths: dict[int, int] = {}
    for cell in cells:
        key_widths[cell.start] = max(key_widths.get(cell.start, 0), len(cell.entry.label))
    for cell in cells:
        line = lines[cell.row]
        line.append(" " * (cell.start - len(line)))
        pad = key_widths[cell.start] - len(cell.entry.label)
        dim = Style(dim=not cell.entry.enabled)
        line.append(" " * pad)
        line.append(cell.entry.label, Style(reverse=True) + dim)
        line.append(" " + cell.entry.description, dim)
    return Text("\n").join(lines)


class KeyMenu(Widget):
    """The screen's key menu, kept up to date as its bindings change; a click on a
    command presses its key."""

    DEFAULT_CSS = """
    KeyMenu {
        dock: bottom;
        height: 2;
        width: 100%;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._cells: list[MenuCell] = []
        self._page = 0

    def other_commands(self) -> None:
        """Show the menu's next page (after the last, the first again)."""
        self._page += 1
        self.refresh()

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if screen is self.screen:
            self.refresh()

    def render(self) -> Text:
        pages = lay_out(menu_keys(self.screen), self.size.width)
        self._cells = pages[self._page % len(pages)] if pages else []
        return render_menu(self._cells)

    def on_click(self, event: events.Click) -> None:
        for cell in self._cells:
            if cell.row == event.y and cell.start <= event.x < cell.end:
                if cell.entry.enabled:
                    self.app.simulate_key(cell.entry.key)
                event.stop()
                return
