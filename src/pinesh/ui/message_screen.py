"""MESSAGE TEXT: one message's headers, body and attachment list. The commands on
messages it shares with the index live in message_commands."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from pinesh.services.folder_view import FolderView, counted
from pinesh.services.protection import Frame, FrameKind
from pinesh.services.reading import Readable
from pinesh.stores.base import Address, Envelope
from pinesh.stores.headers import chosen_headers
from pinesh.textsafe import safe_line
from pinesh.ui.attachment_screen import PAGER_BINDINGS, AttachmentScreen, Pager, text_lines
from pinesh.ui.index_list import compact_size
from pinesh.ui.key_menu import KeyMenu
from pinesh.ui.message_commands import (
    COMMAND_BINDINGS,
    HELP_BINDING,
    CommandScreen,
    Memory,
)
from pinesh.ui.prompts import PromptScreen


def _addresses(addresses: tuple[Address, ...]) -> str:
    return ", ".join(f"{a.name} <{a.email}>" if a.name else a.email for a in addresses)


def short_headers(envelope: Envelope | None, local_dates: bool = False) -> list[tuple[str, str]]:
    """Date, From, To, Cc, Subject as (name, value); empty ones left out. local_dates
    (convert-dates-to-localtime): the date in this machine's time zone."""
    if envelope is None:
        return []
    when = envelope.date.astimezone() if envelope.date and local_dates else envelope.date
    date = when.strftime("%a, %d %b %Y %H:%M:%S %z") if when else ""
    pairs = [
        ("Date", date),
        ("From", _addresses(envelope.sender)),
        ("To", _addresses(envelope.to)),
        ("Cc", _addresses(envelope.cc)),
        ("Newsgroups", ", ".join(envelope.newsgroups)),
        ("Subject", envelope.subject),
    ]
    return [(name, value) for name, value in pairs if value]


def message_lines(
    envelope: Envelope | None,
    readable: Readable,
    full_headers: str | None,
    chosen: list[tuple[str, str]] | None = None,
    local_dates: bool = False,
    frames: Sequence[Frame] = (),
) -> list[Text]:
    """What the message view shows, line by line, every piece sanitized: the full
    headers, or those chosen (the pinerc's viewer-hdrs), or Date, From, To, Cc, Subject.
    frames: the text cut by what protects it (services/protection.py); a signed,
    decrypted or undecrypted stretch is framed by two lines drawn in reverse video, which
    no text of a message can draw (a message's text is always drawn plain), so a forged
    "signed" line cannot pass for one. Without frames the text is shown as it is."""
    lines: list[Text] = []
    if full_headers is not None:
        lines += text_lines(full_headers.rstrip("\n"))
    else:
        for name, value in short_headers(envelope, local_dates) if chosen is None else chosen:
            line = Text(end="")
            line.append(f"{name}: ", style="bold")  # the name only: the value is drawn plain
            line.append(safe_line(value))
            lines.append(line)
    if readable.attachments:
        lines += [Text(""), Text("  Parts/Attachments:", style="bold", end="")]
        for number, part in enumerate(readable.attachments, 1):
            name = f'  "{safe_line(part.filename)}"' if part.filename else ""
            lines.append(
                Text(
                    f"  {number:>3}  [{safe_line(part.part_id)}]  {safe_line(part.content_type)}"
                    f"  {compact_size(part.size)}{name}",
                    end="",
                )
            )
        lines.append(Text("  " + "-" * 40, end=""))
    lines.append(Text(""))
    if readable.note:
        lines.append(Text(f"  [{safe_line(readable.note)}]", style="italic", end=""))
    sender = envelope.sender if envelope else ()
    for frame in frames or (Frame(FrameKind.PLAIN, readable.text),):
        opening, closing = frame.opening(sender), frame.closing()
        if opening is not None:
            lines.append(Text(f"[ {safe_line(opening)} ]", style="reverse", end=""))
        if frame.text.strip("\n") or opening is None:
            lines += text_lines(frame.text.rstrip("\n"))
        if closing is not None:
            lines.append(Text(f"[ {closing} ]", style="reverse", end=""))
    return lines


class MessageScreen(CommandScreen):
    """MESSAGE TEXT: one message, with N/P to the next and previous in the index's order."""

    BINDINGS: ClassVar[list[BindingType]] = [
        HELP_BINDING,
        # In Pine's key menu order: each pair a column, the previous over the next.
        Binding("less_than_sign,i,I", "app.pop_screen", "Index"),
        Binding("v,V,greater_than_sign", "attachments", "ViewAttch"),
        Binding("p,P", "step(-1)", "PrevMsg"),
        Binding("n,N", "step(1)", "NextMsg"),
        *PAGER_BINDINGS,
        *COMMAND_BINDINGS,
        Binding("h,H", "headers", "Headers"),
    ]
    HELP: ClassVar[str] = (
        "The message: its headers, the attachment list, then the text (HTML is shown "
        "converted to text). Nothing from the message can reach your terminal as a "
        "control sequence.\n\n"
        "Space or PageDown: next page.  - or PageUp: previous page.\n\n"
        "N and P: the next and previous message in the index's order.\n\n"
        "H: all header lines, as they are in the message; H again: the short ones.\n\n"
        "V or >: the attachments, to view (mailcap / xdg-open) or save.\n\n"
        "D and U: mark deleted, undelete (X in the index removes deleted messages).\n\n"
        "S: save to a folder (Pine's default 'saved-messages'; the message is then marked "
        "deleted unless the pinerc feature save-will-not-delete is set).  E: export the "
        "raw message to a file.\n\n"
        "R: reply (to all recipients, if you say so; in news: follow up or reply by email). "
        "F: forward (inline or as an attachment).  *: flag or unflag.\n\n"
        "Tab (NextNew): the next new (unseen) message after this one.  G (Goto): open "
        "another folder by name, in place of this one (a bare name is a folder in ~/mail, "
        "INBOX the inbox, {host}name a folder on a server).\n\n"
        "< or I: back to the index.  M: main menu.  Q: quit."
    )

    def __init__(
        self,
        view: FolderView,
        position: int,
        memory: Memory,
        follow: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(view.session, memory)
        self.view = view
        self.position = position
        self.follow = follow
        self.full_headers = False
        self.readable: Readable | None = None
        # The shown message's inner source when it is protected: its attachments' parts.
        self.source: bytes | None = None
        self._showing: tuple[int, bool] | None = None  # (uid, full headers) being read
        self.attachments_said = False  # the status line tells the shown message's count

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        yield Pager(id="message")
        yield Static(id="status")
        yield KeyMenu()

    def on_mount(self) -> None:
        self.show(self.position)

    def current_uid(self) -> int | None:
        view = self.view
        if view is None or not 0 <= self.position < view.count:
            return None
        return view.uid_at(self.position)

    def ask_passphrase(self) -> None:
        """Ask for the key's passphrase (masked) and read the message again with it; it
        goes to gpg on a pipe and is kept nowhere (gpg's agent may cache it, as it does)."""

        def answered(passphrase: str | None) -> None:
            if passphrase:
                self.show(self.position, passphrase)
            else:
                self.set_status("Not decrypted: no passphrase given")

        prompt = "Passphrase for the key this message is encrypted to:"
        self.app.push_screen(PromptScreen(prompt, password=True), answered)

    def show(self, position: int, passphrase: str | None = None) -> None:
        """Read the message at position (in a worker) and show it (passphrase: to unlock
        the key an encrypted message needs, once asked for)."""
        view = self.view
        assert view is not None
        if not 0 <= position < view.count:
            self.set_status("No more messages" if position >= view.count else "No earlier message")
            return
        self.position = position
        if self.follow is not None:
            self.follow(position)
        folder = safe_line(view.name)
        self.query_one("#title", Static).update(
            Text(f"  MESSAGE TEXT   Folder: {folder}   Message {position + 1:,} of {view.count:,}")
        )
        uid = view.uid_at(position)
        full = self.full_headers
        self.readable = None  # until this message is read: V must not show the last one's
        self.source = None
        self._showing = (uid, full)

        wanted = self.session.pine.viewer_hdrs
        local = self.session.pine.feature("convert-dates-to-localtime")

        def job() -> tuple[list[Text], Readable, bool, bytes | None]:
            protected = view.read_protected(uid, passphrase)
            readable = protected.readable
            headers = view.header_text(uid) if full else None
            chosen = None
            if wanted and not full:  # viewer-hdrs: one more read of the header block
                chosen = chosen_headers(view.header_bytes(uid), wanted)
            envelope = view.envelope(uid)
            frames = protected.frames
            lines = message_lines(envelope, readable, headers, chosen, local, frames)
            return lines, readable, protected.needs_passphrase, protected.source

        def shown(result: tuple[list[Text], Readable, bool, bytes | None]) -> None:
            # N N P typed quickly start a worker each, and they may end in any order:
            # only the message the title now names is shown.
            if self._showing == (uid, full):
                self._shown(result)

        self.background(job, shown)

    def _shown(self, shown: tuple[list[Text], Readable, bool, bytes | None]) -> None:
        lines, self.readable, needs_passphrase, self.source = shown
        self.query_one(Pager).set_lines(lines)
        if needs_passphrase:
            self.ask_passphrase()
            return
        count = len(self.readable.attachments)
        if count:
            self.set_status(f"{counted(count, 'attachment')}: V to view or save")
        elif self.attachments_said:
            self.set_status("")  # the last message's count is not this one's
        self.attachments_said = bool(count)

    def current_position(self) -> int:
        return self.position

    def go_to(self, position: int) -> None:
        self.show(position)

    def action_step(self, delta: int) -> None:
        self.show(self.position + delta)

    def after_delete(self) -> None:
        following = self.next_after_delete(self.position)
        if self.view is not None and following < self.view.count:
            self.call_after_refresh(self.show, following)

    def action_headers(self) -> None:
        self.full_headers = not self.full_headers
        self.show(self.position)

    def action_attachments(self) -> None:
        uid = self.current_uid()
        if self.view is None or uid is None or self.readable is None:
            return
        if not self.readable.attachments:
            self.set_status("This message has no attachments")
            return
        number = self.position + 1
        parts = self.readable.attachments
        self.app.push_screen(AttachmentScreen(self.view, uid, number, parts, self.source))
