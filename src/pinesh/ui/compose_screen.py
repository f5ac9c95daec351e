"""COMPOSE MESSAGE: header fields, the message text, and the keys to send or put it off."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Input, Static

from pinesh import __version__
from pinesh.errors import PineshError
from pinesh.senders.addresses import parse_typed_addresses
from pinesh.senders.base import ComposeError
from pinesh.senders.compose import Draft, OutgoingAttachment
from pinesh.services.addressbook import AddressBook
from pinesh.services.addressbook_file import load_addressbook
from pinesh.services.composing import Delivery, TypedFields, post_and_mail, request_from_fields
from pinesh.services.mail import MailSession
from pinesh.services.name_rules import offered_fcc
from pinesh.services.postponed import PostponedMessage, list_postponed, postpone, resume
from pinesh.services.replying import ComposeRequest, new_request
from pinesh.services.sealing import Seal, SealError, starting_seal
from pinesh.services.sending import default_fcc, user_address
from pinesh.textsafe import safe_line, safe_text
from pinesh.ui.compose_fields import (
    AttachmentField,
    BodyArea,
    HeaderFields,
    HeaderInput,
    PostponedPicker,
    run_editor,
)
from pinesh.ui.key_menu import KeyMenu
from pinesh.ui.prompts import ConfirmScreen, PromptScreen, SendScreen

MAX_ATTACHMENT = 64 * 1024 * 1024  # bytes; a bigger file is refused, not read
CANCEL_QUESTION = 'Cancel message (answering "Yes" will abandon your mail message)?'
CONTINUE_QUESTION = 'Continue postponed composition (answering "No" won\'t erase it)?'


class ComposeScreen(Screen[None]):
    """COMPOSE MESSAGE: To, Cc, Bcc, (Newsgroups,) Fcc, Attchmnt, Subject, then the text."""

    DEFAULT_CSS = """
    ComposeScreen #headers { height: auto; }
    ComposeScreen #separator { height: 1; }
    ComposeScreen BodyArea { height: 1fr; border: none; padding: 0; }
    ComposeScreen .hidden { display: none; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+g", "app.help", "Get Help", priority=True),
        Binding("ctrl+x", "send", "Send", priority=True),
        Binding("ctrl+o", "postpone", "Postpone", priority=True),
        Binding("ctrl+c", "cancel", "Cancel", priority=True),
        Binding("ctrl+j", "attach", "Attach"),
        Binding("ctrl+t", "address_book", "To AddrBk"),
        Binding("ctrl+r", "rich_headers", "Rich Hdr"),
        Binding("ctrl+underscore", "editor", "Alt Edit", key_display="^_", priority=True),
        # Priority, so that focus moves before the keys typed after it are delivered
        # (typed ahead, they would land in the old field); off in the message text.
        Binding("tab,down,enter", "next_field", "Next field", show=False, priority=True),
        Binding("shift+tab,up", "previous_field", "Previous field", show=False, priority=True),
    ]
    HELP_TITLE: ClassVar[str] = "Compose Message"
    HELP: ClassVar[str] = """\
COMPOSE MESSAGE. Fill in the header lines, then write the message text below the
"Message Text" line. Tab, Down or Enter moves to the next header line; Up goes back.

To, Cc and Bcc take addresses separated by commas: "Jane Doe <jane@example.org>, bob@x.org".
A nickname from your address book (a word without @) is replaced by its address when you
leave the line; ^T opens the address book to pick one.

Fcc names the folder that keeps a copy of what you send (empty: no copy).

Attchmnt lists the files to send: ^J asks for a file to attach; on that line, Delete
takes the last one off.

In the message text, pico's keys: ^K cuts the line (^K again adds the next line to the
cut), ^U puts what was cut back at the cursor, ^W looks for a word (Enter alone: the
same word again), ^V and ^Y go a page down and up, ^A and ^E to the start and end of
the line.

^X sends the message (after "Send message?"). On that question's line, G turns signing
on and off, E encrypting, and M switches between PGP/MIME and S/MIME; the line says what
the message will be. Your own gpg and gpgsm keys are used; a message that cannot be
encrypted for every recipient is not sent in clear without asking. If the mail server
cannot be reached, the message waits in the outbox: "pinesh outbox flush" sends it later.
^O postpones: the message is kept in your postponed-msgs folder, and Compose offers to
continue it next time. ^C cancels the message (after a question). ^_ edits the text in
your own editor ($VISUAL or $EDITOR, else vi).
"""

    def __init__(
        self,
        session: MailSession,
        request: ComposeRequest | None = None,
        *,
        on_sent: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.request = request
        self.on_sent = on_sent
        self.book = AddressBook(Path(".addressbook"))
        self.default_fcc = default_fcc(session)
        self.fcc_rule = session.pine.fcc_name_rule
        self.typed_fcc = ""  # the Fcc field as sent, for last-fcc-used
        self._editor_started = False  # enable-alternate-editor-implicitly ran it once
        self.busy = False
        self.seal_asked = False  # the send question was answered once: its choice stands
        self.leaving: str | None = None  # a message to leave with once on top again

    # -- layout ---------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        folder = getattr(self.app, "folder", "")
        title = f"  PINESH {__version__}   COMPOSE MESSAGE   Folder: {safe_line(str(folder))}"
        yield Static(Text(title), id="title")
        last = str(getattr(self.app, "last_fcc", ""))  # fcc-name-rule=last-fcc-used
        self.default_fcc = offered_fcc(self.fcc_rule, (), last, self.default_fcc)
        chosen = self.session.pine.default_composer_hdrs
        shown = frozenset(h.lower() for h in chosen) if chosen else None
        yield HeaderFields(self.default_fcc, shown, id="headers")
        yield Static(Text("----- Message Text -----"), id="separator")
        yield BodyArea(id="body", soft_wrap=True, compact=True, highlight_cursor_line=False)
        yield Static("", id="status")
        yield KeyMenu()

    def on_mount(self) -> None:
        if self.request is None:
            self.field("To").focus()
            self.start_new()
        else:
            self.fill(self.request)
            self.load_book()

    def field(self, name: str) -> HeaderInput:
        return self.query_one(HeaderFields).field(name)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """The feature enable-alternate-editor-implicitly: entering the text the first
        time runs the pinerc's editor, as in Pine (only with editor set, as there)."""
        pine = self.session.pine
        if (
            isinstance(event.widget, BodyArea)
            and not self._editor_started
            and pine.editor
            and pine.feature("enable-alternate-editor-implicitly")
        ):
            self._editor_started = True
            self.call_after_refresh(self.action_editor)

    def say(self, message: str) -> None:
        if not self.is_attached:  # a worker finished after the composer was closed
            return
        # A PineshError's hint comes after "\n  ": on one line, after a semicolon.
        self.query_one("#status", Static).update(Text(safe_line(message.replace("\n  ", "; "))))

    def fill(self, request: ComposeRequest) -> None:
        """Show request in the fields; the cursor goes where typing starts."""
        if not self.is_attached:
            return
        self.request = request
        draft = request.draft
        self.query_one(HeaderFields).show(draft, request.newsgroups, request.fcc)
        body = self.query_one(BodyArea)
        body.load_text(safe_text(draft.body))  # no control character reaches the screen
        body.move_cursor((0, 0))
        if not draft.to and not request.newsgroups:
            self.field("To").focus()  # a new message or a forward: who to?
        elif not draft.subject:
            self.field("Subject").focus()  # e.g. a message to an address book entry
        else:
            body.focus()  # a reply: straight to the text

    def typed(self) -> TypedFields:
        """The fields as they are now (read on the UI thread)."""
        return TypedFields(
            to=self.field("To").value,
            cc=self.field("Cc").value,
            bcc=self.field("Bcc").value,
            fcc=self.field("Fcc").value,
            subject=self.field("Subject").value,
            newsgroups=self.field("Newsgroups").value,
            body=self.query_one(BodyArea).text,
            attachments=self.query_one(AttachmentField).attachments,
        )

    # -- start: a new message, or a postponed one --------------------------------------

    @work(thread=True, exclusive=True, group="start")
    def start_new(self) -> None:
        """Signature, address book, and the postponed messages (file and server I/O)."""
        try:
            request = new_request(self.session)
        except (PineshError, OSError) as exc:
            self.app.call_from_thread(self.say, str(exc))
            return
        self.app.call_from_thread(self._adopt, request)
        self._read_book()
        try:
            waiting = list_postponed(self.session)
        except (PineshError, OSError) as exc:
            self.app.call_from_thread(self.say, f"postponed messages not checked: {exc}")
            return
        if waiting:
            self.app.call_from_thread(self.offer_postponed, waiting)

    def _adopt(self, request: ComposeRequest) -> None:
        """Take the new message's From and signature without touching what was typed
        meanwhile."""
        if self.request is not None or not self.is_attached:
            return  # a postponed message was resumed first, or the composer is gone
        self.request = request
        body = self.query_one(BodyArea)
        if not body.text:
            body.load_text(request.draft.body)
            body.move_cursor((0, 0))

    def started(self) -> bool:
        """Whether anything was typed (the postponed messages are listed in a worker, and
        may come after the typing started)."""
        typed = self.typed()
        body = self.request.draft.body if self.request is not None else ""
        headers = (typed.to, typed.cc, typed.bcc, typed.subject, typed.newsgroups)
        return any(h.strip() for h in headers) or typed.body not in ("", body)

    def offer_postponed(self, waiting: list[PostponedMessage]) -> None:
        if not self.is_attached:
            return
        if self.started() or not self.is_active:
            # Pine asks before the composer opens. Asked now, the question would take the
            # next key typed ("y" of "yvonne@...") as its answer, and continuing the
            # postponed message would replace what was typed.
            count = len(waiting)
            waits = f"{count} postponed message{'s' if count > 1 else ''} waiting"
            self.say(f"{waits}: Compose offers to continue it next time")
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            if len(waiting) == 1:
                self.resume_postponed(waiting[0].uid)
            else:
                self.app.push_screen(PostponedPicker(waiting), picked)

        def picked(uid: int | None) -> None:
            if uid is not None:
                self.resume_postponed(uid)

        self.app.push_screen(ConfirmScreen(CONTINUE_QUESTION, default=True), answered)

    @work(thread=True, exclusive=True, group="resume")
    def resume_postponed(self, uid: int) -> None:
        try:
            request = resume(self.session, uid)
        except (PineshError, OSError, ValueError) as exc:
            self.app.call_from_thread(self.say, f"cannot continue it: {exc}")
            return
        self.app.call_from_thread(self.fill, request)
        self.app.call_from_thread(self.say, "Continuing the postponed message")

    @work(thread=True, exclusive=True, group="book")
    def load_book(self) -> None:
        self._read_book()

    def _read_book(self) -> None:
        try:
            book = load_addressbook(self.session)
        except (PineshError, OSError) as exc:
            self.app.call_from_thread(self.say, f"address book: {exc}")
            return
        self.app.call_from_thread(self._set_book, book)

    def _set_book(self, book: AddressBook) -> None:
        self.book = book
        if book.problems:
            self.say(f"address book: {book.problems[0]}")

    # -- nicknames -------------------------------------------------------------------

    @on(Input.Blurred)
    def expand_nicknames(self, event: Input.Blurred) -> None:
        """Leaving To, Cc or Bcc replaces nicknames with addresses, as Pine does."""
        field = event.input
        if not isinstance(field, HeaderInput) or not field.addresses or not self.is_attached:
            return
        expanded = self.book.expand(field.value)
        if field.field == "To" and self.field("Fcc").value == self.default_fcc:
            fcc = self.book.fcc_for(field.value) or self._fcc_by_rule(expanded)
            if fcc:  # the address book's fcc for this person, else fcc-name-rule's
                self.field("Fcc").value = safe_line(fcc)
        if expanded != field.value:
            # safe_line: an address book may hold what Pine took from a message (TakeAddr),
            # control characters and all, and an Input draws its value as it is.
            field.value = safe_line(expanded)
        unknown = self.book.unknown_nicknames(expanded)
        if unknown:
            self.say(f"{field.field}: {safe_line(unknown[0])!r} is not in the address book")

    def action_rich_headers(self) -> None:
        """^R: every header line (default-composer-hdrs may leave some out)."""
        self.query_one(HeaderFields).show_all()

    def _fcc_by_rule(self, to: str) -> str | None:
        """fcc-name-rule=by-recipient: a folder named after the first recipient."""
        if self.fcc_rule != "by-recipient":
            return None
        try:
            addresses = parse_typed_addresses(to, "To")
        except ComposeError:
            return None  # said when sending
        return offered_fcc(self.fcc_rule, addresses, "", self.default_fcc)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("next_field", "previous_field"):
            return not isinstance(self.focused, BodyArea)
        return True

    def action_next_field(self) -> None:
        self.focus_next()

    def action_previous_field(self) -> None:
        self.focus_previous()

    def action_address_book(self) -> None:
        """^T: pick from the address book into To (or the address line the cursor is on)."""
        from pinesh.ui.addressbook_screen import AddressBookScreen

        focused = self.focused
        target = focused if isinstance(focused, HeaderInput) and focused.addresses else None
        field = target or self.field("To")

        def picked(text: str | None) -> None:
            if text:  # made safe to draw, as a nickname's expansion is
                field.value = safe_line(f"{field.value.rstrip().rstrip(',')}, {text}".lstrip(", "))
            field.focus()
            self.load_book()  # entries may have been added there

        self.app.push_screen(AddressBookScreen(self.session, picking=True), picked)

    # -- attachments -----------------------------------------------------------------

    def action_attach(self) -> None:
        def answered(path: str | None) -> None:
            if path and path.strip():
                self.read_attachment(path.strip())

        self.app.push_screen(PromptScreen("File to attach:"), answered)

    @work(thread=True, group="attach")
    def read_attachment(self, text: str) -> None:
        path = Path(os.path.expanduser(text))
        try:
            if path.stat().st_size > MAX_ATTACHMENT:
                raise PineshError(f"{path} is over {MAX_ATTACHMENT // (1024 * 1024)} MB")
            data = path.read_bytes()
        except (PineshError, OSError, ValueError) as exc:  # ValueError: a NUL in the name
            message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.app.call_from_thread(self.say, f"cannot attach {text}: {message}")
            return
        self.app.call_from_thread(self._attached, OutgoingAttachment(path.name, data))

    def _attached(self, attachment: OutgoingAttachment) -> None:
        if not self.is_attached:
            return
        field = self.query_one(AttachmentField)
        field.set_attachments((*field.attachments, attachment))
        self.say(f"Attached {attachment.filename}")

    # -- the external editor ---------------------------------------------------------

    def action_editor(self) -> None:
        """^_: the text in the pinerc's editor, else $VISUAL/$EDITOR; the terminal is handed
        over meanwhile."""
        from textual.app import SuspendNotSupported

        body = self.query_one(BodyArea)
        try:
            with self.app.suspend():
                text = run_editor(body.text, os.environ, self.session.pine.editor)
        except SuspendNotSupported:
            self.say("cannot hand the terminal to an editor here")
            return
        except PineshError as exc:
            self.say(str(exc))
            return
        body.load_text(safe_text(text))  # the editor may have left control characters
        body.focus()
        self.say("Text from the editor")

    # -- send, postpone, cancel --------------------------------------------------------

    def _request(self, *, strict: bool) -> ComposeRequest | None:
        # No request yet only when the start worker has not filled one in: From alone.
        base = self.request or ComposeRequest(Draft(sender=user_address(self.session)))
        try:
            return request_from_fields(base, self.typed(), self.book, strict=strict)
        except ComposeError as exc:
            self.say(str(exc))
            return None

    def action_send(self) -> None:
        if self.busy:
            return
        request = self._request(strict=True)
        if request is None:
            return
        blank = self.session.pine.feature("warn-if-blank-subject") and not (
            request.draft.subject.strip()
        )
        # Alpine's question for the feature, with "no" the answer Enter gives.
        question = "No Subject, send anyway?" if blank else "Send message?"

        def answered(seal: Seal | None) -> None:
            if seal is not None:
                self.seal_asked = True
                self.request = replace(request, seal=seal)  # kept if it is postponed now
                self.typed_fcc = self.field("Fcc").value
                self._start_sending(self.request)

        seal = request.seal
        if not self.seal_asked:  # Alpine's S/MIME features, the config's [[seal]] rules
            rules = self.session.connections.settings.seals
            features = self.session.pine.feature
            seal = starting_seal(features, rules, request.draft.recipient_emails(), seal)
        self.app.push_screen(SendScreen(question, seal, default=not blank), answered)

    def _start_sending(self, request: ComposeRequest, passphrase: str | None = None) -> None:
        self.busy = True
        self.say("Sending...")
        self.send(request, passphrase)

    @work(thread=True, exclusive=True, group="send")
    def send(self, request: ComposeRequest, passphrase: str | None = None) -> None:
        try:
            delivery = post_and_mail(self.session, request, passphrase)
        except SealError as exc:
            self.app.call_from_thread(self._not_sealed, request, exc)
            return
        except (PineshError, OSError, ValueError) as exc:
            self.app.call_from_thread(self._failed, f"Not sent: {exc}")
            return
        self.app.call_from_thread(self._delivered, delivery)

    def _not_sealed(self, request: ComposeRequest, exc: SealError) -> None:
        """Signing or encrypting failed, and nothing was sent: ask for a locked key's
        passphrase; offer to send without encrypting when keys are missing (never
        without asking); else say why, and the message stays in the composer."""
        self.busy = False
        if exc.needs_passphrase:

            def typed(passphrase: str | None) -> None:
                if passphrase:
                    self._start_sending(request, passphrase)
                else:
                    self.say("Not sent: no passphrase given")

            prompt = f"Not sent: {exc.message}. Passphrase for your key:"
            self.app.push_screen(PromptScreen(prompt, password=True), typed)
            return
        if exc.missing:
            names = ", ".join(exc.missing)

            def answered(yes: bool | None) -> None:
                if yes:
                    self._start_sending(replace(request, seal=replace(request.seal, encrypt=False)))
                else:
                    self.say(f"Not sent: no key for {names}")

            question = f"No key for {names}: send it NOT encrypted, readable on the way"
            self.app.push_screen(ConfirmScreen(question, default=False), answered)
            return
        self.say(f"Not sent: {exc}")

    def _failed(self, message: str) -> None:
        self.busy = False
        self.say(message)

    def _delivered(self, delivery: Delivery) -> None:
        if delivery.sent:
            from pinesh.ui.app import PineshApp  # here: app.py opens this screen lazily

            if isinstance(self.app, PineshApp):
                self.app.last_fcc = self.typed_fcc
        if delivery.sent and self.on_sent is not None:
            self.on_sent()
        self._leave(delivery.summary())

    def action_postpone(self) -> None:
        if self.busy:
            return
        request = self._request(strict=False)
        if request is None:
            return
        self.busy = True
        self.say("Postponing...")
        self.keep(request)

    @work(thread=True, exclusive=True, group="send")
    def keep(self, request: ComposeRequest) -> None:
        try:
            postpone(self.session, request)
        except (PineshError, OSError, ValueError) as exc:
            self.app.call_from_thread(self._failed, f"Not postponed: {exc}")
            return
        self.app.call_from_thread(self._leave, "Composition postponed")

    def action_cancel(self) -> None:
        if self.busy:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._leave("Message cancelled")

        self.app.push_screen(ConfirmScreen(CANCEL_QUESTION), answered)

    def _leave(self, message: str) -> None:
        """Close the composer and say message on the screen underneath."""
        self.busy = False
        app = self.app
        if app.screen is not self:  # e.g. help is open: leave once it is closed
            self.leaving = message
            return
        below = app.screen_stack[-2] if len(app.screen_stack) > 1 else None
        self.dismiss()
        # markup=False: the summary quotes the mail server ("550 ... [/]"), and notify()
        # would read that as markup: a style, a link, an action, or a crash.
        app.notify(safe_line(message), timeout=4, markup=False)
        if below is not None:
            with contextlib.suppress(NoMatches):
                below.query_one("#status", Static).update(Text(safe_line(message)))

    def on_screen_resume(self) -> None:
        if self.leaving is not None:
            message, self.leaving = self.leaving, None
            self._leave(message)
