"""Help: the text of the screen it was asked from, and that screen's keys."""

from __future__ import annotations

import re
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from pinesh.textsafe import safe_text
from pinesh.ui.key_menu import KeyMenu, key_label

GENERAL = """\
pinesh reads mail and news the way Pine did: single-letter commands, shown at the
bottom of every screen. Remote folders are reached through one OpenSSH connection
per host; the status line says which route each folder came over. Ctrl-L redraws
the screen, wherever you are.
"""


def screen_title(class_name: str) -> str:
    """A screen class's name as a title: IndexScreen -> Index, MainMenu -> Main Menu."""
    name = class_name.removesuffix("Screen") or class_name
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)


def screen_keys(screen: Screen[object]) -> list[tuple[str, str]]:
    """The (key, description) pairs of a screen's own bindings that have a description."""
    found = []
    for binding in getattr(screen, "BINDINGS", []):
        if isinstance(binding, Binding) and binding.description:
            found.append((binding.key_display or key_label(binding.key), binding.description))
        elif isinstance(binding, tuple) and len(binding) >= 3:
            found.append((key_label(str(binding[0])), str(binding[2])))
    return found


def help_text(title: str, text: str, keys: list[tuple[str, str]]) -> str:
    """The whole help page: the screen's text, its keys in a column, then the general note."""
    lines = [f"HELP FOR {title.upper()}", "", text.rstrip(), ""]
    if keys:
        lines.append("Commands on this screen:")
        width = max(len(k) for k, _ in keys)
        lines += [f"  {k:<{width}}  {d}" for k, d in keys]
        lines.append("")
    lines.append(GENERAL)
    return "\n".join(lines)


class HelpScreen(Screen[None]):
    """HELP: scrolls with the arrows, Space and -; E, <, Q or Escape leaves."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # Q too: quitting from here, without the question every other screen asks, would
        # throw away a message being composed under the help.
        Binding("e,E,less_than_sign,escape,m,M,q,Q", "app.pop_screen", "Exit Help"),
        Binding("space,pagedown", "page(1)", "Spc NextPage", show=False),
        Binding("minus,pageup", "page(-1)", "- PrevPage", show=False),
    ]
    HELP: ClassVar[str] = "This is help. Press E to return to where you were."

    def __init__(self, title: str, text: str, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.body = help_text(title, text, keys)

    def compose(self) -> ComposeResult:
        yield Static(Text(f"  HELP   {self.title_text}"), id="title")
        with VerticalScroll(id="help"):
            yield Static(Text(safe_text(self.body)), id="help-text")
        yield KeyMenu()

    def action_page(self, pages: int) -> None:
        scroll = self.query_one(VerticalScroll)
        if pages > 0:
            scroll.scroll_page_down()
        else:
            scroll.scroll_page_up()
