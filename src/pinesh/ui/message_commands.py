"""The commands on messages (delete, save, export, reply, forward...) that the MESSAGE
INDEX and the MESSAGE TEXT screens share: CommandScreen, its bindings, and what the two
remember between commands (Memory)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual.binding import Binding, BindingType

from pinesh.services.attachments import save_path
from pinesh.services.folder_view import NOT_NEW, FolderView, counted
from pinesh.services.mail import MailSession
from pinesh.services.name_rules import offered_save
from pinesh.stores.base import Flag
from pinesh.textsafe import safe_line
from pinesh.ui.app import NOTICE_SECONDS
from pinesh.ui.attachment_screen import WorkerScreen
from pinesh.ui.prompts import ChoiceScreen, ConfirmScreen, PromptScreen

if TYPE_CHECKING:
    from pinesh.services.replying import ComposeRequest
    from pinesh.ui.app import PineshApp

DEFAULT_SAVE = "saved-messages"  # Pine's default save folder
DELETED = frozenset({Flag.DELETED})
SKIP_LIMIT = 1000  # messages delete-skips-deleted looks past, at most
NOT_QUOTED = (
    "The encrypted message is not quoted: its key is locked. Read it first (V or Enter) "
    "and give the passphrase, then reply."
)


@dataclass
class Memory:
    """What the index and its message views remember between commands."""

    last_save: str = ""  # the folder saved to last (saved-msg-name-rule=last-folder-used)
    last_search: str = ""


def next_new(view: FolderView, uids: Collection[int], after: int) -> int | None:
    """The first position after `after` whose message is new; None when there is none
    (no wrapping to the top, as in Pine). Flags changed since the search count."""
    found = [
        position
        for uid in uids
        if (position := view.index_of(uid)) is not None
        and position > after
        and _still_new(view, uid)
    ]
    return min(found, default=None)


def _still_new(view: FolderView, uid: int) -> bool:
    envelope = view.cached(uid)
    return envelope is None or not envelope.flags & NOT_NEW


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

    def next_after_delete(self, position: int) -> int:
        """Where D moves on to from position: the next message, or with the feature
        delete-skips-deleted the next one not marked deleted (as far as the envelopes
        read say; at most SKIP_LIMIT looked at); past the last, position + 1."""
        view = self.view
        if view is None or not self.session.pine.feature("delete-skips-deleted"):
            return position + 1
        end = min(view.count, position + 1 + SKIP_LIMIT)
        for candidate in range(position + 1, end):
            envelope = view.cached(view.uid_at(candidate))
            if envelope is None or Flag.DELETED not in envelope.flags:
                return candidate
        return position + 1

    def current_position(self) -> int:
        """The current message's place in the order (Tab looks after it)."""
        raise NotImplementedError

    def go_to(self, position: int) -> None:
        """Make the message at position the current one (Tab found it there)."""
        raise NotImplementedError

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
            else counted(len(uids), "message")
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

    # -- moving on to new mail

    def action_next_new(self) -> None:
        """Pine's NextNew (Tab): to the next new message after the current one."""
        view = self.view
        if view is None:
            self.set_status(self.open_error or "The folder is still opening")
            return
        self.background(view.new_uids, lambda uids: self._to_next_new(view, uids))

    def _to_next_new(self, view: FolderView, uids: list[int]) -> None:
        if view is not self.view:
            return  # another folder is open now
        position = next_new(view, uids, self.current_position())
        if position is None:
            self.set_status("No more new messages")
        else:
            self.go_to(position)

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
                what = counted(len(uids), "message")
                self.set_status(f"Saved to {dest} ({what}{', marked deleted' if deleted else ''})")
                if deleted and len(uids) == 1:
                    self.after_delete()

            self.background(job, done, busy=f"Saving to {dest}...")

        pine = self.session.pine
        default = pine.default_saved_msg_folder or DEFAULT_SAVE
        offered = offered_save(
            pine.saved_msg_name_rule, view.cached(uids[0]), self.memory.last_save, default
        )
        prompt = PromptScreen("SAVE to folder:", initial=offered)
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
        # Called when a worker has built the request: R pressed twice (the first still
        # fetching the message) must open one composer, not two stacked.
        if self.is_active:
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
            def build(raw: bytes) -> ComposeRequest:
                # An encrypted message is quoted decrypted (the reply is then encrypted).
                decrypted = view.decrypted_for_reply(uid)
                request = reply_request(session, raw, to_all=to_all, decrypted=decrypted)
                if decrypted is None and request.seal.encrypt:
                    # notify() is safe from any thread (this is a worker).
                    self.app.notify(NOT_QUOTED, severity="warning", timeout=NOTICE_SECONDS)
                return request

            self.compose_from(uid, build, answers=True)

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

    def action_main_menu(self) -> None:
        from pinesh.ui.app import MainMenu  # here: the app module imports this one

        app = self.app
        while len(app.screen_stack) > 2 and not isinstance(app.screen, MainMenu):
            app.pop_screen()
        if not isinstance(app.screen, MainMenu) and len(app.screen_stack) > 1:
            app.pop_screen()


# Help is not here: each screen lists it first, where Pine's key menu has "? Help".
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
    Binding("tab", "next_new", "NextNew", show=False),
    Binding("g,G", "app.goto_folder", "GotoFldr", show=False),
    # The app's: one place asks (or not, with the pinerc's quit-without-confirm).
    Binding("q,Q", "app.confirm_quit", "Quit", show=False),
]

HELP_BINDING = Binding("question_mark", "app.help", "Help")
