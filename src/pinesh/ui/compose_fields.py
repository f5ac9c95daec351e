"""The composer's parts: the header lines (one by one, and the block of them), the
attachment list, the body, the list of postponed messages, and the hand-off to an
external editor."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import tempfile
from collections.abc import Mapping
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static, TextArea

from pinesh.errors import PineshError
from pinesh.senders.compose import Draft, OutgoingAttachment
from pinesh.services.addressbook import format_addresses
from pinesh.services.postponed import PostponedMessage, describe
from pinesh.textsafe import safe_line
from pinesh.ui.prompts import PromptScreen

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


def size_with_unit(size: int) -> str:
    """Pine's attachment sizes in the composer: 512 B, 1.2 KB, 3.4 MB."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def attachment_lines(attachments: tuple[OutgoingAttachment, ...]) -> str:
    """Pine's Attchmnt field: "1. report.pdf (1.2 KB)  2. ..."."""
    return "  ".join(
        f"{number}. {safe_line(a.filename)} ({size_with_unit(len(a.data))})"
        for number, a in enumerate(attachments, start=1)
    )


class AttachmentField(Static, can_focus=True):
    """The files to send: Ctrl-J adds one, Delete or Backspace takes the last one off."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("delete,backspace", "remove_last", "Detach", show=False),
    ]

    def __init__(self) -> None:
        super().__init__("", id="field-attchmnt")
        self.attachments: tuple[OutgoingAttachment, ...] = ()

    def set_attachments(self, attachments: tuple[OutgoingAttachment, ...]) -> None:
        self.attachments = attachments
        self.update(Text(attachment_lines(attachments)))

    def action_remove_last(self) -> None:
        if self.attachments:
            self.set_attachments(self.attachments[:-1])


# The lines default-composer-hdrs can leave out (To and Subject are always there).
OPTIONAL_LINES = {"cc": "Cc", "bcc": "Bcc", "fcc": "Fcc", "attchmnt": "Attchmnt"}


class HeaderFields(Vertical):
    """The composer's header lines: To, Cc, Bcc, (Newsgroups,) Fcc, Attchmnt, Subject.

    With the pinerc's default-composer-hdrs, only the lines it names (and To, Subject)
    show, until ^R (show_all) or a value for a hidden line (a reply's Cc) shows them."""

    def __init__(
        self, default_fcc: str, shown: frozenset[str] | None = None, *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.default_fcc = default_fcc
        self.shown = shown  # lowercase names of the lines shown; None: every line

    def _row(self, name: str) -> HeaderRow:
        hidden = self.shown is not None and name.lower() not in self.shown
        return HeaderRow(id=f"row-{name.lower()}", classes="hidden" if hidden else "")

    def compose(self) -> ComposeResult:
        with HeaderRow(id="row-to"):
            yield header_label("To")
            yield HeaderInput("To", addresses=True)
        for field in ("Cc", "Bcc"):
            with self._row(field):
                yield header_label(field)
                yield HeaderInput(field, addresses=True)
        with HeaderRow(id="row-newsgroups", classes="hidden"):
            yield header_label("Newsgrps")
            yield HeaderInput("Newsgroups")
        with self._row("Fcc"):
            yield header_label("Fcc")
            yield HeaderInput("Fcc", self.default_fcc)
        with self._row("Attchmnt"):
            yield header_label("Attchmnt")
            yield AttachmentField()
        with HeaderRow(id="row-subject"):
            yield header_label("Subject")
            yield HeaderInput("Subject")

    def field(self, name: str) -> HeaderInput:
        return self.query_one(f"#field-{name.lower()}", HeaderInput)

    def show_all(self) -> None:
        """^R: every header line, as Pine's rich headers."""
        for name in OPTIONAL_LINES:
            self.query_one(f"#row-{name}").set_class(False, "hidden")

    def show(self, draft: Draft, newsgroups: tuple[str, ...], fcc: str | None) -> None:
        """draft's headers in the lines; fcc None: the default Fcc. Newsgrps shows only
        with newsgroups; a line left out by default-composer-hdrs shows when it has a
        value."""
        # A postponed message is a message: its addresses may hold control characters
        # too (an Input draws its value as it is).
        self.field("To").value = safe_line(format_addresses(draft.to))
        self.field("Cc").value = safe_line(format_addresses(draft.cc))
        self.field("Bcc").value = safe_line(format_addresses(draft.bcc))
        self.field("Newsgroups").value = safe_line(", ".join(newsgroups))
        self.query_one("#row-newsgroups").set_class(not newsgroups, "hidden")
        self.field("Fcc").value = self.default_fcc if fcc is None else safe_line(fcc)
        self.query_one(AttachmentField).set_attachments(draft.attachments)
        self.field("Subject").value = safe_line(draft.subject)
        for name, has_value in (
            ("cc", draft.cc),
            ("bcc", draft.bcc),
            ("attchmnt", draft.attachments),
        ):
            if has_value:
                self.query_one(f"#row-{name}").set_class(False, "hidden")


class BodyArea(TextArea):
    """The message text; Up on its first line goes back to the headers, as in Pine.

    Pico's keys where TextArea's would differ (and destroy text a Pine user meant to
    keep): ^K cuts the line (^K again adds the next one to the cut), ^U puts the cut
    back at the cursor, ^W looks for a word, ^V and ^Y move a page down and up."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+k", "cut_line", "Cut Line", show=False),
        Binding("ctrl+u", "uncut", "UnCut", show=False),
        Binding("ctrl+w", "whereis", "Where is", show=False),
        Binding("ctrl+v", "cursor_page_down", "Next Pg", show=False),
        Binding("ctrl+y", "cursor_page_up", "Prev Pg", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cut_buffer = ""
        self.last_search = ""
        self._cutting = False  # the key before was ^K: another ^K adds to the cut

    def on_key(self, event: events.Key) -> None:
        if event.key != "ctrl+k":
            self._cutting = False

    def action_cut_line(self) -> None:
        row = self.cursor_location[0]
        if row + 1 < self.document.line_count:
            end = (row + 1, 0)
        else:
            end = (row, len(self.document.get_line(row)))  # the last line: no newline
        start = (row, 0)
        text = self.get_text_range(start, end)
        self.cut_buffer = self.cut_buffer + text if self._cutting else text
        self.delete(start, end)
        self.move_cursor(start)
        self._cutting = True

    def action_uncut(self) -> None:
        if self.cut_buffer:
            self.insert(self.cut_buffer)

    def action_whereis(self) -> None:
        def answered(word: str | None) -> None:
            if not word:
                return
            self.last_search = word
            lines = self.text.split("\n")
            row, column = self.cursor_location
            offset = sum(len(line) + 1 for line in lines[:row]) + column
            found = self.text.find(word, offset + 1)
            if found < 0:
                found = self.text.find(word)  # from the top again, as pico does
            if found < 0:
                with contextlib.suppress(NoMatches):  # the composer's status line
                    status = self.screen.query_one("#status", Static)
                    status.update(Text(f'"{safe_line(word)}" not found'))
                return
            before = self.text[:found]
            self.move_cursor((before.count("\n"), found - (before.rfind("\n") + 1)))

        prompt = PromptScreen("Search:", initial=self.last_search)
        self.app.push_screen(prompt, answered)

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
        Binding("escape,ctrl+c,e,E", "cancel", "Exit"),
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
        # A second Enter typed quickly reaches this list after it was answered: dismissing
        # again would close the composer under it.
        if self.is_active:
            self.dismiss(self.messages[event.option_index].uid)

    def action_cancel(self) -> None:
        self.dismiss(None)


# --- the external editor --------------------------------------------------------------


def editor_argv(environ: Mapping[str, str], configured: str | None = None) -> list[str]:
    """The pinerc's editor, else $VISUAL, else $EDITOR, else vi, split into words as a
    shell would (none is run)."""
    setting = configured or environ.get("VISUAL") or environ.get("EDITOR") or "vi"
    try:
        argv = shlex.split(setting)
    except ValueError as exc:
        raise PineshError(f"the editor setting {safe_line(setting)!r}: {exc}") from None
    if not argv:
        raise PineshError("the pinerc's editor, $VISUAL or $EDITOR names no program")
    return argv


def run_editor(text: str, environ: Mapping[str, str], configured: str | None = None) -> str:
    """text after the user edited it in the external editor (the terminal must be free).

    The text goes through a 0600 temporary file, removed afterwards.
    """
    argv = editor_argv(environ, configured)
    fd, path = tempfile.mkstemp(prefix="pinesh-", suffix=".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        try:
            code = subprocess.run([*argv, path], check=False).returncode
        except OSError as exc:
            raise PineshError(
                f"cannot run the editor {safe_line(argv[0])}: {exc.strerror or exc}",
                hint="set editor in the pinerc, or VISUAL or EDITOR, e.g. EDITOR=nano",
            ) from None
        if code != 0:
            raise PineshError(f"the editor exited with status {code}; the text is unchanged")
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
