"""MESSAGE TEXT: one message's headers, body and attachment list; and the commands on
messages (delete, save, export, reply, forward...) that the index shares with it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Static

from pinesh.services.attachments import save_path
from pinesh.services.folder_view import FolderView
from pinesh.services.mail import MailSession
from pinesh.services.reading import Readable
from pinesh.stores.base import Address, Envelope, Flag
from pinesh.textsafe import safe_line
from pinesh.ui.attachment_screen import (
    PAGER_BINDINGS,
    AttachmentScreen,
    Pager,
    WorkerScreen,
    text_lines,
)
from pinesh.ui.index_list import size_text
from pinesh.ui.prompts import ChoiceScreen, ConfirmScreen, PromptScreen

if TYPE_CHECKING:
    from pinesh.services.replying import ComposeRequest
    from pinesh.ui.app import PineshApp

DEFAULT_SAVE = "saved-messages"  # Pine's default save folder
DELETED = frozenset({Flag.DELETED})


@dataclass
class Memory:
    """What the index and its message views remember between commands."""

    last_save: str = DEFAULT_SAVE
    last_search: str = ""


def _plural(count: int, what: str) -> str:
    return f"{count} {what}" if count == 1 else f"{count} {what}s"


class CommandScreen(WorkerScreen):
    """A screen over a FolderView with Pine's commands on messages.

    Subclasses say which message a command is for (current_uid), and redraw after
    flags change (rows_changed) or after a delete (after_delete: Pine moves on)."""

    def __init__(self, session: MailSession, memory: Memory) -> None:
        super().__init__()
        self.session = session
        self.memory = memory
        self.view: FolderView | None = None
        self.open_error: str | None = None  # why the folder could not be opened

    def current_uid(self) -> int | None:
        raise NotImplementedError

    def rows_changed(self) -> None:
        """Flags changed: draw again."""

    def after_delete(self) -> None:
        """A message was marked deleted: move on, as Pine does."""

    def ready(self) -> tuple[FolderView, int] | None:
        """The view and the current message, or None (with a word on the status line)."""
        uid = self.current_uid() if self.view is not None else None
        if self.view is None or uid is None:
            waiting = self.open_error or "The folder is still opening"
            self.set_status("No message here" if self.view else waiting)
            return None
        return self.view, uid

    def number_of(self, uid: int) -> int:
        position = self.view.index_of(uid) if self.view else None
        return position + 1 if position is not None else 0

    def _writable(self, view: FolderView) -> bool:
        if view.read_only:
            self.set_status(f"{safe_line(view.name)} is open read-only")
        return not view.read_only

    # -- flags

    def mark(self, uids: list[int], flags: frozenset[Flag], value: bool, verb: str) -> None:
        view = self.view
        if view is None or not uids or not self._writable(view):
            return
        said = (
            f"Message {self.number_of(uids[0])}"
            if len(uids) == 1
            else _plural(len(uids), "message")
        )
        if flags == DELETED and value and len(uids) == 1:
            self.after_delete()

        def done(_: None) -> None:
            self.rows_changed()
            self.set_status(f"{said} {verb}")

        self.background(lambda: view.set_flags(uids, flags, value), done)

    def action_delete(self) -> None:
        if found := self.ready():
            self.mark([found[1]], DELETED, True, "deleted")

    def action_undelete(self) -> None:
        if found := self.ready():
            self.mark([found[1]], DELETED, False, "undeleted")

    def action_flag(self) -> None:
        if found := self.ready():
            view, uid = found
            envelope = view.cached(uid)
            on = envelope is None or Flag.FLAGGED not in envelope.flags
            self.mark([uid], frozenset({Flag.FLAGGED}), on, "flagged" if on else "unflagged")

    # -- save and export

    def ask_save(self, uids: list[int]) -> None:
        view = self.view
        if view is None or not uids:
            return

        def answered(name: str | None) -> None:
            if not name or not name.strip():
                self.set_status("Save cancelled")
                return
            self.memory.last_save = dest = name.strip()

            def job() -> bool:
                view.save_to(uids, dest)
                delete = not view.read_only and not self.session.pine.feature(
                    "save-will-not-delete"
                )
                if delete:  # Pine's default: a saved message is marked deleted here
                    view.set_flags(uids, DELETED, True)
                return delete

            def done(deleted: bool) -> None:
                self.rows_changed()
                what = _plural(len(uids), "message")
                self.set_status(f"Saved to {dest} ({what}{', marked deleted' if deleted else ''})")
                if deleted and len(uids) == 1:
                    self.after_delete()

            self.background(job, done, busy=f"Saving to {dest}...")

        prompt = PromptScreen("SAVE to folder:", initial=self.memory.last_save)
        self.app.push_screen(prompt, answered)

    def action_save(self) -> None:
        if found := self.ready():
            self.ask_save([found[1]])

    def action_export(self) -> None:
        found = self.ready()
        if found is None:
            return

        def answered(text: str | None) -> None:
            if not text or not text.strip():
                self.set_status("Export cancelled")
                return
            self.export(found[1], save_path(text), overwrite=False)

        self.app.push_screen(PromptScreen("EXPORT (copy message) to file:"), answered)

    def export(self, uid: int, path: Path, *, overwrite: bool) -> None:
        view = self.view
        assert view is not None

        def job() -> int | None:
            try:
                return view.export(uid, path, overwrite=overwrite)
            except FileExistsError:
                return None

        def done(written: int | None) -> None:
            if written is not None:
                self.set_status(f"Message {self.number_of(uid)} exported to {path}")
                return
            self.app.push_screen(
                ConfirmScreen(f"File {path} exists. Overwrite it?"),
                lambda yes: (
                    self.export(uid, path, overwrite=True)
                    if yes
                    else self.set_status("Export cancelled")
                ),
            )

        self.background(job, done, busy=f"Exporting to {path}...")

    # -- reply, forward, compose

    def open_compose(
        self, request: ComposeRequest | None = None, on_sent: Callable[[], None] | None = None
    ) -> None:
        cast("PineshApp", self.app).open_compose(request, on_sent=on_sent)

    def compose_from(
        self, uid: int, build: Callable[[bytes], ComposeRequest], *, answers: bool
    ) -> None:
        """Fetch the message, build a compose request from it (in a worker), then compose;
        a reply marks the original ANSWERED once it is sent."""
        view = self.view
        assert view is not None

        def answered() -> None:
            if not view.read_only:
                self.background(
                    lambda: view.set_flags([uid], frozenset({Flag.ANSWERED}), True),
                    lambda _: self.rows_changed(),
                )

        self.background(
            lambda: build(view.raw(uid)),
            lambda request: self.open_compose(request, on_sent=answered if answers else None),
            busy="Reading the message...",
        )

    def action_reply(self) -> None:
        found = self.ready()
        if found is None:
            return
        view, uid = found
        session = self.session
        # Imported when first used: start-up stays quick.
        from pinesh.services.replying import followup_request, reply_request

        def reply(to_all: bool) -> None:
            self.compose_from(
                uid, lambda raw: reply_request(session, raw, to_all=to_all), answers=True
            )

        if view.is_news:

            def chosen(key: str | None) -> None:
                if key == "n":
                    self.compose_from(uid, lambda raw: followup_request(session, raw), answers=True)
                elif key == "e":
                    reply(False)
                else:
                    self.set_status("Reply cancelled")

            choices = [("n", "follow up to the newsgroup"), ("e", "reply by email")]
            self.app.push_screen(ChoiceScreen("Reply how?", choices), chosen)
            return
        envelope = view.cached(uid)
        if envelope is not None and len(envelope.to) + len(envelope.cc) <= 1:
            reply(False)
        else:
            self.app.push_screen(
                ConfirmScreen("Reply to all recipients?"), lambda yes: reply(bool(yes))
            )

    def action_forward(self) -> None:
        found = self.ready()
        if found is None:
            return
        session = self.session
        from pinesh.services.replying import forward_request

        def forward(attach: bool | None) -> None:
            self.compose_from(
                found[1],
                lambda raw: forward_request(session, raw, as_attachment=bool(attach)),
                answers=False,
            )

        self.app.push_screen(ConfirmScreen("Forward as an attachment?"), forward)

    def action_compose(self) -> None:
        view = self.view
        group = view.newsgroup if view is not None else None
        if group is None:
            self.open_compose()
            return
        from pinesh.services.replying import post_request

        session = self.session  # the request reads the signature file: not on the UI thread
        self.background(lambda: post_request(session, (group,)), self.open_compose)

    # -- leaving

    def action_quit(self) -> None:
        self.app.push_screen(
            ConfirmScreen("Really quit pinesh?"), lambda yes: self.app.exit() if yes else None
        )

    def action_main_menu(self) -> None:
        from pinesh.ui.app import MainMenu  # here: the app module imports this one

        app = self.app
        while len(app.screen_stack) > 2 and not isinstance(app.screen, MainMenu):
            app.pop_screen()
        if not isinstance(app.screen, MainMenu) and len(app.screen_stack) > 1:
            app.pop_screen()


COMMAND_BINDINGS: list[BindingType] = [
    Binding("d,D", "delete", "Delete"),
    Binding("u,U", "undelete", "Undelete"),
    Binding("r,R", "reply", "Reply"),
    Binding("f,F", "forward", "Forward"),
    Binding("s,S", "save", "Save"),
    Binding("e,E", "export", "Export"),
    Binding("asterisk", "flag", "Flag", show=False, key_display="*"),
    Binding("c,C", "compose", "Compose", show=False),
    Binding("m,M", "main_menu", "Main Menu", show=False),
    Binding("q,Q", "quit", "Quit", show=False),
    Binding("question_mark", "app.help", "Help"),
]


# --------------------------------------------------------------------------- the view


def _addresses(addresses: tuple[Address, ...]) -> str:
    return ", ".join(f"{a.name} <{a.email}>" if a.name else a.email for a in addresses)


def short_headers(envelope: Envelope | None) -> list[tuple[str, str]]:
    """Date, From, To, Cc, Subject as (name, value); empty ones left out."""
    if envelope is None:
        return []
    date = envelope.date.strftime("%a, %d %b %Y %H:%M:%S %z") if envelope.date else ""
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
    envelope: Envelope | None, readable: Readable, full_headers: str | None
) -> list[Text]:
    """What the message view shows, line by line, every piece sanitized."""
    lines: list[Text] = []
    if full_headers is not None:
        lines += text_lines(full_headers.rstrip("\n"))
    else:
        for name, value in short_headers(envelope):
            line = Text(f"{name}: ", style="bold", end="")
            line.append(safe_line(value))
            lines.append(line)
    if readable.attachments:
        lines += [Text(""), Text("  Parts/Attachments:", style="bold", end="")]
        for number, part in enumerate(readable.attachments, 1):
            name = f'  "{safe_line(part.filename)}"' if part.filename else ""
            lines.append(
                Text(
                    f"  {number:>3}  [{safe_line(part.part_id)}]  {safe_line(part.content_type)}"
                    f"  {size_text(part.size)}{name}",
                    end="",
                )
            )
        lines.append(Text("  " + "-" * 40, end=""))
    lines.append(Text(""))
    if readable.note:
        lines.append(Text(f"  [{safe_line(readable.note)}]", style="italic", end=""))
    lines += text_lines(readable.text.rstrip("\n"))
    return lines


class MessageScreen(CommandScreen):
    """MESSAGE TEXT: one message, with N/P to the next and previous in the index's order."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("less_than_sign,i,I", "app.pop_screen", "Index"),
        Binding("n,N", "step(1)", "NextMsg"),
        Binding("p,P", "step(-1)", "PrevMsg"),
        *PAGER_BINDINGS,
        Binding("h,H", "headers", "Headers"),
        Binding("v,V", "attachments", "ViewAttch"),
        *COMMAND_BINDINGS,
    ]
    HELP: ClassVar[str] = (
        "The message: its headers, the attachment list, then the text (HTML is shown "
        "converted to text). Nothing from the message can reach your terminal as a "
        "control sequence.\n\n"
        "Space or PageDown: next page.  - or PageUp: previous page.\n\n"
        "N and P: the next and previous message in the index's order.\n\n"
        "H: all header lines, as they are in the message; H again: the short ones.\n\n"
        "V: the attachments, to view (mailcap / xdg-open) or save.\n\n"
        "D and U: mark deleted, undelete (X in the index removes deleted messages).\n\n"
        "S: save to a folder (Pine's default 'saved-messages'; the message is then marked "
        "deleted unless the pinerc feature save-will-not-delete is set).  E: export the "
        "raw message to a file.\n\n"
        "R: reply (to all recipients, if you say so; in news: follow up or reply by email). "
        "F: forward (inline or as an attachment).  *: flag or unflag.\n\n"
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

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        yield Pager(id="message")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.show(self.position)

    def current_uid(self) -> int | None:
        view = self.view
        if view is None or not 0 <= self.position < view.count:
            return None
        return view.uid_at(self.position)

    def show(self, position: int) -> None:
        """Read the message at position (in a worker) and show it."""
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
            Text(f"  MESSAGE TEXT   Folder: {folder}   Message {position + 1} of {view.count}")
        )
        uid = view.uid_at(position)
        full = self.full_headers

        def job() -> tuple[list[Text], Readable]:
            readable = view.read(uid)
            headers = view.header_text(uid) if full else None
            return message_lines(view.envelope(uid), readable, headers), readable

        self.background(job, self._shown)

    def _shown(self, shown: tuple[list[Text], Readable]) -> None:
        lines, self.readable = shown
        self.query_one(Pager).set_lines(lines)
        count = len(self.readable.attachments)
        if count:
            self.set_status(f"{_plural(count, 'attachment')}: V to view or save")

    def action_step(self, delta: int) -> None:
        self.show(self.position + delta)

    def after_delete(self) -> None:
        if self.view is not None and self.position + 1 < self.view.count:
            self.call_after_refresh(self.show, self.position + 1)

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
        self.app.push_screen(AttachmentScreen(self.view, uid, number, self.readable.attachments))
