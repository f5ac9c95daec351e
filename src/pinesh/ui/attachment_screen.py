"""Reading text on screen (Pager, TextScreen) and a message's ATTACHMENT INDEX.

The pager is a virtual list of lines, wrapped to the screen's width, so a body of
megabytes scrolls as quickly as a short one: only the rows on screen are drawn.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, TypeVar

from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.geometry import Size
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from pinesh.errors import PineshError
from pinesh.services import attachments
from pinesh.services.folder_view import FolderView
from pinesh.services.reading import (
    ReceivedAttachment,
    decode_text,
    html_to_text,
    read_attached_message,
)
from pinesh.textsafe import safe_line, safe_text
from pinesh.ui.index_list import compact_size
from pinesh.ui.key_menu import KeyMenu
from pinesh.ui.prompts import ConfirmScreen, PromptScreen

T = TypeVar("T")
FAILURES = (PineshError, OSError, ValueError)
MESSAGE_TYPES = ("message/rfc822", "message/global")  # shown here, as the message view does


def failure_text(exc: BaseException) -> str:
    """One status line for an error from a worker: what failed, and the hint if any."""
    if isinstance(exc, PineshError):
        text = exc.message + (f" ({exc.hint})" if exc.hint else "")
    elif isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror + (f": {exc.filename}" if exc.filename else "")
    else:
        text = str(exc) or type(exc).__name__
    return safe_line(text)


def wrap_lines(lines: list[Text], width: int, console: Console) -> list[Text]:
    """Lines wrapped to width terminal cells (long words folded), tabs expanded: the
    pager draws cell by cell, and a tab sent to the terminal would skip cells."""
    out: list[Text] = []
    for line in lines:
        if "\t" in line.plain:
            line = line.copy()
            line.expand_tabs()
        if cell_len(line.plain) <= width:
            out.append(line)
        else:
            out.extend(line.wrap(console, width, overflow="fold"))
    return out


def line_segments(text: Text, console: Console) -> list[Segment]:
    """A line's segments with its own style under its spans' (Text.render alone drops
    the line's style: a bold header name, a signature frame's reverse video)."""
    return list(Segment.apply_style(text.render(console), console.get_style(text.style)))


def text_lines(text: str) -> list[Text]:
    """Text from a message as pager lines: sanitized, tabs expanded."""
    return [Text(line.expandtabs(8), end="") for line in safe_text(text).split("\n")]


class Pager(ScrollView):
    """Read-only lines of text, wrapped to the width; the screen's keys scroll it."""

    can_focus = False
    DEFAULT_CSS = "Pager { overflow-x: hidden; height: 1fr; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: list[Text] = []
        self._rows: list[Text] = []
        self._width = 0

    @property
    def plain(self) -> str:
        """Everything shown, as plain text."""
        return "\n".join(line.plain for line in self.lines)

    def set_lines(self, lines: list[Text]) -> None:
        self.lines = lines
        self._width = 0
        self._rewrap()
        self.scroll_to(y=0, animate=False, immediate=True, force=True)

    def _rewrap(self) -> None:
        width = self.scrollable_content_region.width
        if width <= 0 or width == self._width:
            return
        self._width = width
        self._rows = wrap_lines(self.lines, width, self.app.console)
        self.virtual_size = Size(0, len(self._rows))
        self.refresh()

    def on_resize(self) -> None:
        self._rewrap()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        row = round(self.scroll_offset.y) + y
        text = self._rows[row] if row < len(self._rows) else Text("")
        return Strip(line_segments(text, self.app.console)).crop_extend(0, width, None)

    def page(self, pages: int) -> None:
        height = max(self.scrollable_content_region.height - 1, 1)  # keep one line of context
        self.scroll_to(
            y=self.scroll_offset.y + pages * height, animate=False, immediate=True, force=True
        )

    def line(self, lines: int) -> None:
        self.scroll_to(y=self.scroll_offset.y + lines, animate=False, immediate=True, force=True)


PAGER_BINDINGS: list[BindingType] = [
    Binding("minus,pageup", "page(-1)", "PrevPage", key_display="-"),
    Binding("space,pagedown", "page(1)", "NextPage"),
    Binding("down", "line(1)", "Down", show=False),
    Binding("up", "line(-1)", "Up", show=False),
    Binding("home", "line(-1000000000)", "Top", show=False),
    Binding("end", "line(1000000000)", "Bottom", show=False),
]


class WorkerScreen(Screen[None]):
    """A screen with a status line and jobs that run in worker threads."""

    def set_status(self, text: str) -> None:
        with contextlib.suppress(NoMatches):  # the screen is gone: nothing to tell
            self.query_one("#status", Static).update(Text(safe_line(text)))

    def background(
        self, job: Callable[[], T], done: Callable[[T], None], *, busy: str | None = None
    ) -> None:
        """Run job in a thread; done(result) back on the UI thread, errors on the status line."""
        if busy:
            self.set_status(busy)

        def run() -> None:
            try:
                result = job()
            except FAILURES as exc:
                self._back(self.set_status, failure_text(exc))
                return
            self._back(done, result)

        self.run_worker(run, thread=True, group="commands", exit_on_error=False)

    def _back(self, callback: Callable[[T], None], value: T) -> None:
        def call() -> None:
            if self.is_attached:
                callback(value)

        with contextlib.suppress(RuntimeError):  # the app has ended meanwhile
            self.app.call_from_thread(call)

    def action_page(self, pages: int) -> None:
        self.query_one(Pager).page(pages)

    def action_line(self, lines: int) -> None:
        self.query_one(Pager).line(lines)


class TextScreen(WorkerScreen):
    """A text to read: a text attachment, or what a viewer printed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("less_than_sign,e,E,i,I,escape", "app.pop_screen", "Exit"),
        *PAGER_BINDINGS,
        Binding("question_mark", "app.help", "Help"),
    ]
    HELP: ClassVar[str] = (
        "This shows an attachment as text (or what its viewer printed); nothing in it runs.\n\n"
        "Space or PageDown: next page.  - or PageUp: previous page.\n\n"
        "< or E: back to the attachment list."
    )

    def __init__(self, title: str, text: str, note: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.note = note

    def compose(self) -> ComposeResult:
        yield Static(Text(f"  ATTACHED TEXT   {safe_line(self.title_text)}"), id="title")
        yield Pager()
        yield Static(Text(safe_line(self.note or "")), id="status")
        yield KeyMenu()

    def on_mount(self) -> None:
        self.query_one(Pager).set_lines(text_lines(self.text))


def _inside(count: int) -> str | None:
    """What an attached message's own attachments are, since they are not listed here."""
    if not count:
        return None
    if count == 1:
        return "1 attachment inside: save the message to open it"
    return f"{count} attachments inside: save the message to open them"


def attachment_label(number: int, attachment: ReceivedAttachment) -> str:
    name = safe_line(attachment.filename) if attachment.filename else ""
    return (
        f"{number:>3}  {safe_line(attachment.part_id):<7} "
        f"{safe_line(attachment.content_type):<30} {compact_size(attachment.size):>8}  {name}"
    )


class AttachmentScreen(WorkerScreen):
    """ATTACHMENT INDEX: a message's attachments; view (here as text, else mailcap or
    xdg-open) or save."""

    DEFAULT_CSS = """
    AttachmentScreen OptionList { height: 1fr; }
    AttachmentScreen OptionList, AttachmentScreen OptionList:focus { border: none; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("less_than_sign,i,I,escape", "app.pop_screen", "MsgText"),
        Binding("v,V,greater_than_sign", "view", "View"),
        Binding("s,S", "save", "Save"),
        Binding("question_mark", "app.help", "Help"),
    ]
    HELP: ClassVar[str] = (
        "The attachments of the message, with their part number, type and size.\n\n"
        "V (or Enter) views the attachment under the cursor: text, HTML and attached "
        "messages (headers, then their text) are shown here as text; other types go to "
        "the viewer your ~/.mailcap or /etc/mailcap names (run "
        "without a shell: an entry that needs one is refused), else to xdg-open when there "
        "is a display.\n\n"
        "S saves it to a file; the name offered is the attachment's own, made safe, in your "
        "home directory. An existing file is overwritten only when you say so.\n\n"
        "< goes back to the message."
    )

    def __init__(
        self,
        view: FolderView,
        uid: int,
        number: int,
        parts: tuple[ReceivedAttachment, ...],
        source: bytes | None = None,
    ) -> None:
        super().__init__()
        self.view = view
        self.uid = uid
        self.number = number
        self.parts = parts
        # A protected message's inner source (decrypted, or what was signed): the parts
        # are its, not the folder's message's (FolderView.read_protected).
        self.source = source

    def compose(self) -> ComposeResult:
        yield Static(
            Text(f"  ATTACHMENT INDEX   Message {self.number}: {len(self.parts)} attachment(s)"),
            id="title",
        )
        yield OptionList(
            *[Option(Text(attachment_label(i, a)), id=str(i)) for i, a in enumerate(self.parts, 1)],
            id="attachments",
        )
        yield Static(Text("V view, S save, < back to the message"), id="status")
        yield KeyMenu()

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = 0 if self.parts else None

    def current(self) -> ReceivedAttachment | None:
        index = self.query_one(OptionList).highlighted
        return self.parts[index] if index is not None and index < len(self.parts) else None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_view()

    # -- save

    def action_save(self) -> None:
        part = self.current()
        if part is None:
            return
        name = attachments.safe_filename(part.filename, f"part-{part.part_id or 'message'}")

        def answered(text: str | None) -> None:
            if not text or not text.strip():
                self.set_status("Save cancelled")
                return
            self.save(part, attachments.save_path(text, name), overwrite=False)

        self.app.push_screen(
            PromptScreen("Save attachment to file:", initial=f"~/{name}"), answered
        )

    def save(self, part: ReceivedAttachment, path: Path, *, overwrite: bool) -> None:
        def job() -> int | None:
            try:
                return self.view.save_part(
                    self.uid, part.part_id, path, overwrite=overwrite, source=self.source
                )
            except FileExistsError:
                return None

        def done(written: int | None) -> None:
            if written is None:
                self.app.push_screen(
                    ConfirmScreen(f"File {path} exists. Overwrite it?"),
                    lambda yes: (
                        self.save(part, path, overwrite=True)
                        if yes
                        else self.set_status("Save cancelled")
                    ),
                )
            else:
                self.set_status(f"Saved {written} bytes to {path}")

        self.background(job, done, busy=f"Saving to {path}...")

    # -- view

    def action_view(self) -> None:
        part = self.current()
        if part is None:
            return
        if part.content_type.startswith("text/"):
            self.background(lambda: self._as_text(part), self._show_text, busy="Reading...")
        elif part.content_type in MESSAGE_TYPES:
            self.background(lambda: self._as_message(part), self._show_text, busy="Reading...")
        else:
            self.background(lambda: self._prepare(part), self._run, busy="Reading...")

    def _as_text(self, part: ReceivedAttachment) -> tuple[str, str, str | None]:
        data, cut = self.view.part_bytes(self.uid, part.part_id, source=self.source)
        text = decode_text(data, None)
        note = "cut at 4 MB; save it to see it all" if cut else None
        if part.content_type == "text/html":
            text, note = html_to_text(text), note or "HTML shown as text"
        return part.filename or part.content_type, text, note

    def _as_message(self, part: ReceivedAttachment) -> tuple[str, str, str | None]:
        """An attached message as the text to show: its headers, a blank line, its text."""
        data, cut = self.view.part_bytes(self.uid, part.part_id, source=self.source)
        message = read_attached_message(data)
        readable = message.readable
        # One line per header: a line break in a decoded value must not start a new one.
        lines = [f"{name}: {safe_line(value)}" for name, value in message.headers]
        body = readable.text.rstrip("\n")
        if body:
            lines += ["", body]
        notes = [note for note in (readable.note, _inside(len(readable.attachments))) if note]
        if cut:
            notes.insert(0, "cut at 4 MB; save it to see it all")
        title = part.filename or message.subject or part.content_type
        return title, "\n".join(lines), "; ".join(notes) or None

    def _show_text(self, shown: tuple[str, str, str | None]) -> None:
        if not self.is_active:
            return  # V pressed twice: the first one's text is up already
        title, text, note = shown
        self.app.push_screen(TextScreen(title, text, note))
        self.set_status("")

    def _prepare(self, part: ReceivedAttachment) -> tuple[attachments.Viewer, str]:
        """Find the viewer, then copy the part to a private file for it (in a worker)."""
        entries = attachments.load_mailcaps(attachments.mailcap_paths())
        entry = attachments.find_entry(part.content_type, entries, os.environ)
        path = attachments.temp_path(attachments.temp_name(part.filename, entry))
        viewer = attachments.choose_viewer(part.content_type, path, entry)
        self.view.save_part(self.uid, part.part_id, path, source=self.source)
        if viewer.copious_output:
            return viewer, attachments.run_captured(viewer)
        if viewer.detached:
            attachments.run_detached(viewer)
        return viewer, ""

    def _run(self, prepared: tuple[attachments.Viewer, str]) -> None:
        if not self.is_active:
            return  # V pressed twice: the first one's viewer has the screen already
        viewer, output = prepared
        name = safe_line(viewer.argv[0])
        if viewer.copious_output:
            self.app.push_screen(TextScreen(f"output of {name}", output))
        elif viewer.needs_terminal:
            try:
                with self.app.suspend():
                    attachments.run_waiting(viewer)
            except SuspendNotSupported:
                self.set_status(f"{name} needs the terminal, and this one cannot be lent")
                return
            except OSError as exc:
                self.set_status(failure_text(exc))
                return
            self.app.refresh()
        self.set_status(f"Viewed with {name} ({safe_line(viewer.source)})")
