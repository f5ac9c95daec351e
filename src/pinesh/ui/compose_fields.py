"""The composer's parts: header lines, the attachment list, the body, the list of
postponed messages, and the hand-off to an external editor."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import tempfile
from collections.abc import Mapping
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static, TextArea

from pinesh.errors import PineshError
from pinesh.senders.compose import Attachment
from pinesh.services.postponed import PostponedMessage, describe
from pinesh.textsafe import safe_line

LABEL_WIDTH = 9  # Pine aligns "To      :", "Attchmnt:"


class HeaderRow(Horizontal):
    """One header line: its label and its text."""

    DEFAULT_CSS = """
    HeaderRow { height: 1; }
    HeaderRow > Static { width: auto; height: 1; }
    HeaderRow > Input { width: 1fr; height: 1; border: none; padding: 0; }
    HeaderRow > AttachmentField { width: 1fr; height: 1; }
    """


def header_label(label: str) -> Static:
    return Static(Text(f"{label:<{LABEL_WIDTH - 1}}: "), classes="label")


class HeaderInput(Input):
    """The text of one header; `field` is its name ("To"), `addresses` whether it holds
    addresses (nicknames expand there, Ctrl-T opens the address book)."""

    def __init__(self, field: str, value: str = "", *, addresses: bool = False) -> None:
        super().__init__(
            value=value, id=f"field-{field.lower()}", compact=True, select_on_focus=False
        )
        self.field = field
        self.addresses = addresses


def size_text(size: int) -> str:
    """Pine's sizes: 512 B, 1.2 KB, 3.4 MB."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def attachment_lines(attachments: tuple[Attachment, ...]) -> str:
    """Pine's Attchmnt field: "1. report.pdf (1.2 KB)  2. ..."."""
    return "  ".join(
        f"{number}. {safe_line(a.filename)} ({size_text(len(a.data))})"
        for number, a in enumerate(attachments, start=1)
    )


class AttachmentField(Static, can_focus=True):
    """The files to send: Ctrl-J adds one, Delete or Backspace takes the last one off."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("delete,backspace", "remove_last", "Detach", show=False),
    ]

    def __init__(self) -> None:
        super().__init__("", id="field-attchmnt")
        self.attachments: tuple[Attachment, ...] = ()

    def set_attachments(self, attachments: tuple[Attachment, ...]) -> None:
        self.attachments = attachments
        self.update(Text(attachment_lines(attachments)))

    def action_remove_last(self) -> None:
        if self.attachments:
            self.set_attachments(self.attachments[:-1])


class BodyArea(TextArea):
    """The message text; Up on its first line goes back to the headers, as in Pine."""

    def action_cursor_up(self, select: bool = False) -> None:
        if self.cursor_location[0] == 0 and not select:
            self.screen.focus_previous()
            return
        super().action_cursor_up(select)


class PostponedPicker(ModalScreen[int | None]):
    """POSTPONED MESSAGES: Enter resumes the one under the cursor; Escape starts afresh."""

    DEFAULT_CSS = """
    PostponedPicker { align: center middle; }
    PostponedPicker > Vertical { width: 90%; height: auto; max-height: 80%;
        border: solid $foreground; background: $background; }
    PostponedPicker OptionList, PostponedPicker OptionList:focus {
        height: auto; max-height: 20; border: none; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,ctrl+c,e", "cancel", "Exit"),
    ]
    HELP: ClassVar[str] = """\
POSTPONED MESSAGES lists the messages you put off with ^O in the composer. Move to one
and press Enter to continue writing it; it leaves the postponed folder once it is sent
or postponed again. E or Escape starts a new message instead (none is erased).
"""

    def __init__(self, messages: list[PostponedMessage]) -> None:
        super().__init__()
        self.messages = messages

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("  POSTPONED MESSAGES: choose one to continue"), id="title")
            yield OptionList(*(Text(describe(m)) for m in self.messages))

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.messages[event.option_index].uid)

    def action_cancel(self) -> None:
        self.dismiss(None)


# --- the external editor --------------------------------------------------------------


def editor_argv(environ: Mapping[str, str]) -> list[str]:
    """$VISUAL, else $EDITOR, else vi, split into words as a shell would (none is run)."""
    setting = environ.get("VISUAL") or environ.get("EDITOR") or "vi"
    try:
        argv = shlex.split(setting)
    except ValueError as exc:
        raise PineshError(f"the editor setting {safe_line(setting)!r}: {exc}") from None
    if not argv:
        raise PineshError("$VISUAL/$EDITOR names no program")
    return argv


def run_editor(text: str, environ: Mapping[str, str]) -> str:
    """text after the user edited it in the external editor (the terminal must be free).

    The text goes through a 0600 temporary file, removed afterwards.
    """
    argv = editor_argv(environ)
    fd, path = tempfile.mkstemp(prefix="pinesh-", suffix=".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        try:
            code = subprocess.run([*argv, path], check=False).returncode
        except OSError as exc:
            raise PineshError(
                f"cannot run the editor {safe_line(argv[0])}: {exc.strerror or exc}",
                hint="set VISUAL or EDITOR to an editor, e.g. EDITOR=nano",
            ) from None
        if code != 0:
            raise PineshError(f"the editor exited with status {code}; the text is unchanged")
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
