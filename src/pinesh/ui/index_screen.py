"""MESSAGE INDEX: a folder's messages, a line each, with Pine's commands.

The folder stays open (a FolderView) while the screen lives; opening, reading envelopes
and every command run in workers. Only the rows on screen are read (see index_list).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from pinesh.errors import PineshError
from pinesh.services.folder_view import FolderView, counted
from pinesh.services.identity import user_address
from pinesh.services.mail import MailSession
from pinesh.stores.base import Flag, SortKey
from pinesh.textsafe import safe_line
from pinesh.ui.app import NOTICE_SECONDS
from pinesh.ui.attachment_screen import failure_text
from pinesh.ui.index_list import IndexList
from pinesh.ui.key_menu import KeyMenu
from pinesh.ui.message_commands import (
    COMMAND_BINDINGS,
    DELETED,
    HELP_BINDING,
    CommandScreen,
    Memory,
)
from pinesh.ui.message_screen import MessageScreen
from pinesh.ui.prompts import ChoiceScreen, ConfirmScreen, PromptScreen

CACHED = "cached, not yet confirmed by the server"  # the status of a view from the cache

SORTS = {
    "a": SortKey.ARRIVAL,
    "d": SortKey.DATE,
    "f": SortKey.FROM,
    "s": SortKey.SUBJECT,
    "z": SortKey.SIZE,
    "t": SortKey.TO,
}
SORT_CHOICES = [
    ("a", "Arrival"),
    ("d", "Date"),
    ("f", "From"),
    ("s", "Subject"),
    ("z", "siZe"),
    ("t", "To"),
    ("h", "tHread"),
    ("r", "Reverse"),
]


def my_addresses(session: MailSession) -> set[str]:
    """The user's own addresses (for '+' and 'To:' in the index): From's, and alt-addresses."""
    return {user_address(session).email.lower()} | session.pine.alt_addresses


class IndexScreen(CommandScreen):
    """MESSAGE INDEX: status, number, date, from, size, subject; only the visible rows read."""

    BINDINGS: ClassVar[list[BindingType]] = [
        HELP_BINDING,
        Binding("less_than_sign,l,L", "folder_list", "FldrList"),
        Binding("greater_than_sign,v,V,enter", "view_message", "ViewMsg"),
        Binding("p,P,up", "move(-1)", "PrevMsg"),
        Binding("n,N,down", "move(1)", "NextMsg"),
        Binding("minus,pageup", "page(-1)", "PrevPage", key_display="-"),
        Binding("space,pagedown", "page(1)", "NextPage"),
        Binding("home", "move(-1000000000)", "First", show=False),
        Binding("end", "move(1000000000)", "Last", show=False),
        *COMMAND_BINDINGS,
        Binding("x,X", "expunge", "Expunge"),
        Binding("w,W,ctrl+w", "whereis", "WhereIs"),
        Binding("j,J", "jump", "Jump"),
        Binding("dollar_sign", "sort", "SortIndex", key_display="$"),
        Binding("ctrl+t", "thread", "Thread"),
        Binding("colon", "select_current", "SelectCur", key_display=":"),
        Binding("semicolon", "select", "Select", key_display=";"),
        Binding("a,A", "apply", "Apply"),
    ]
    HELP: ClassVar[str] = (
        "The messages of the open folder, one a line: a selection mark (X), the status "
        "(+ sent to you, - copied to you; N new, D deleted, A answered; * flagged), the "
        "number, date, sender (or 'To:' the recipient, for your own messages), size and "
        "subject. Only the lines on screen are read from the server, so a large folder "
        "opens as quickly as a small one.\n\n"
        "Up/Down, N and P move; Space or PageDown and - or PageUp move a page; Home and "
        "End go to the first and last message. J jumps to a message number.\n\n"
        "> (or Enter, V) shows the message.  < goes to the folder list, M to the main menu.\n\n"
        "D marks the message deleted, U undeletes it; X expunges (removes) the deleted "
        "messages, after asking.\n\n"
        "S saves to a folder (Pine's default 'saved-messages'; the message is then marked "
        "deleted unless the pinerc feature save-will-not-delete is set); E exports the raw "
        "message to a file.\n\n"
        "R replies, F forwards, C composes a new message (in a newsgroup: R offers a "
        "follow-up to the group or a reply by email, C posts to the group).\n\n"
        "W (WhereIs) looks for a word in the subjects, senders and texts and moves to the "
        "next message that has it.\n\n"
        "$ sorts: by arrival, date, sender, subject, size, recipient, or by thread; R in "
        "that menu reverses the order. Ctrl-T switches the thread view on and off "
        "(newsgroups open in it).\n\n"
        ": selects the current message (or unselects it); ; selects all, by text, or "
        "unselects all. A applies a command (delete, undelete, save, flag) to every "
        "selected message.  * flags the message.  Q quits pinesh, after asking.\n\n"
        "Tab (NextNew) moves to the next new (unseen) message below this one.  G (Goto) "
        "asks for a folder and opens it in place of this one: a bare name is a folder in "
        "~/mail, INBOX the inbox, {host}name a folder on a server; if it cannot be opened, "
        "this folder stays open."
    )

    def __init__(
        self,
        session: MailSession,
        folder: str,
        view: FolderView | None = None,
        *,
        start_number: int | None = None,
    ) -> None:
        """The index of folder; view: the folder opened already (Goto opens it first);
        start_number: the message to start on (Alpine's -n), else Pine's choice."""
        super().__init__(session, Memory())
        self.folder_name = folder
        self._given = view
        self._moved = False  # the user moved the cursor: the first unseen must not jump
        self._start_number = start_number

    def compose(self) -> ComposeResult:
        yield Static(Text(f"  MESSAGE INDEX   Folder: {safe_line(self.folder_name)}"), id="title")
        pine = self.session.pine
        yield IndexList(
            my_addresses(self.session),
            pine.index_format,
            thread_style=pine.threading_display_style,
            local_dates=pine.feature("convert-dates-to-localtime"),
            id="index",
        )
        yield Static(Text("Opening..."), id="status")
        yield KeyMenu()

    @property
    def index(self) -> IndexList:
        return self.query_one(IndexList)

    def on_mount(self) -> None:
        self.open_folder()
        interval = self.session.pine.mail_check_interval
        if interval > 0:  # 0: the pinerc's mail-check-interval turns checking off
            self.set_interval(interval, self.check_mail)

    # -- opening and closing

    @work(thread=True, exclusive=True, group="open", exit_on_error=False)
    def open_folder(self) -> None:
        """Open the folder and list its messages (I/O: never on the UI thread)."""
        cached = None
        try:
            if self._given is not None:
                view, self._given = self._given, None
            else:
                # The server is asked at once, in its own thread; the cache is drawn only
                # if that answer has not come by the time the cache is read (with the
                # master up and the early open done, the live index needs no head start).
                live = LiveOpen(self.session, self.folder_name)
                cached = self._paint_from_cache(unless=live.done)
                view = live.result()
            view.set_opening_order()  # news by thread, as in Pine; else the sort-key
            summary = view.summary()
            start = self._ruled_start(view)
        except (PineshError, OSError, ValueError) as exc:
            if cached is not None:  # the cache stays readable: say why it is all there is
                self._back(functools.partial(self._offline, cached), failure_text(exc))
                return
            self._back(self._failed, failure_text(exc))
            return
        # Known from opening: the window fetched first is the one shown.
        self._back_or_close(view, summary, start)
        if start is not None:
            return
        try:
            first = view.first_unseen()
        except (PineshError, OSError, ValueError):
            return  # only a starting place: the index is there already
        if first is not None:
            self._back(self._start_at, first)

    def _ruled_start(self, view: FolderView) -> int | None:
        """Where the index starts by the pinerc's incoming-startup-rule: the first or the
        last message, or (first-unseen) where opening told it (None: search for it)."""
        rule = self.session.pine.startup_rule
        if rule == "first" and view.count:
            self._moved = True  # the first unseen, found later, must not move it
            return 0
        if rule == "last" and view.count:
            self._moved = True
            return view.count - 1
        return view.opening_start()

    def _paint_from_cache(self, unless: Callable[[], bool]) -> FolderView | None:
        """Show the folder as the header cache last saw it while the server is asked
        (I/O on the local disk only), unless the server's answer is there by then; the
        view shown, or None."""
        try:
            cached = FolderView.from_cache(self.session, self.folder_name, CACHED)
            if cached is None:
                return None
            summary = cached.summary()
            start = self._ruled_start(cached)
        except (PineshError, OSError, ValueError):
            return None  # only a head start: the server's answer follows
        if unless():
            cached.close()
            return None
        self._back_or_close(cached, summary, start)
        return cached

    def _offline(self, cached: FolderView, error: str) -> None:
        folder = cached.folder
        if hasattr(folder, "reason"):
            folder.reason = "offline"
        if self.view is cached:
            self.set_status(f"Offline: showing what was read before. {error}")
            self.index.refresh_rows()

    def _back_or_close(self, view: FolderView, summary: str, start: int | None) -> None:
        def opened() -> None:
            if self.is_attached:
                self._opened(view, summary, start)
            else:
                close_later(view)

        try:
            self.app.call_from_thread(opened)
        except RuntimeError:
            view.close()  # the app has ended meanwhile

    def _failed(self, error: str) -> None:
        self.open_error = error
        self.set_status(error)

    def _opened(self, view: FolderView, summary: str, start: int | None) -> None:
        shown = self.view
        if shown is not None and shown.provisional and not view.provisional:
            # The server's answer replaces the cache's: same place if the user moved.
            uid = self.current_uid() if self._moved else None
            self.view = view
            # The cached view is not closed: a message screen opened on it meanwhile still
            # reads from it (it holds no connection; CacheFolder.close does nothing).
            moved_to = view.index_of(uid) if uid is not None else None
            if moved_to is not None:
                start = moved_to
            self.index.attach(view, view.count - 1 if start is None else start)
            self.set_status(summary)
            # Changes made on the cached view went to the cache: send them now.
            self.background(view.send_kept_changes, self._sent_kept)
            return
        self.view = view
        if self._start_number is not None and view.count:
            start, summary = self._numbered_start(view.count, summary)
        # Pine starts on the first unseen, else on the newest: where opening told it, at
        # once; else on the newest, then (_start_at) on the first unseen once searched.
        self.index.attach(view, view.count - 1 if start is None else start)
        self.set_status(summary)

    def _numbered_start(self, count: int, summary: str) -> tuple[int, str]:
        """Where -n's number puts the cursor (the last message when the folder has fewer),
        and what the status line says; the first unseen does not move it after."""
        number, self._start_number = self._start_number or 1, None
        self._moved = True  # as if the user had gone there: kept when the server answers
        if number > count:
            return count - 1, f"No message {number:,}: the folder has {count:,}. {summary}"
        return number - 1, summary

    def _sent_kept(self, count: int) -> None:
        if count:
            self.index.refresh_rows()
            self.set_status(f"{count} flag change(s) made offline saved on the server")

    def _start_at(self, position: int) -> None:
        if not self._moved:  # ...or the first unseen, unless the user has moved since
            self.index.move_cursor(position)

    def on_unmount(self) -> None:
        if self.view is not None:
            app = self.app
            # notify() is safe from any thread; after the app ends it changes nothing.
            close_later(
                self.view,
                self._read_message_folder(),
                lambda text: app.notify(safe_line(text), timeout=NOTICE_SECONDS, markup=False),
            )
            self.view = None

    def _read_message_folder(self) -> str | None:
        """Where INBOX's read messages go when it closes: the pinerc's read-message-folder,
        with the feature auto-move-read-msgs (Pine asks without it; pinesh does not move)."""
        pine = self.session.pine
        if self.folder_name.upper() != "INBOX" or not pine.read_message_folder:
            return None
        return pine.read_message_folder if pine.feature("auto-move-read-msgs") else None

    def check_mail(self) -> None:
        view = self.view
        if view is not None and view.provisional:
            self.reconnect()  # offline: try the server again
        elif view is not None:
            self.background(view.refresh, self._refreshed)

    @work(thread=True, exclusive=True, group="open", exit_on_error=False)
    def reconnect(self) -> None:
        """Open the folder on the server again after it could not be reached; on success
        the live view replaces the cached one and the changes kept meanwhile are sent."""
        try:
            view = FolderView.open(self.session, self.folder_name)
            summary = view.summary()
            start = view.opening_start()
        except (PineshError, OSError, ValueError):
            return  # still offline: the status line says so already
        self._back_or_close(view, summary, start)

    def _refreshed(self, changed: bool) -> None:
        if changed and self.view is not None:
            uid = self.current_uid()
            self.index.refresh_rows()
            self._keep_cursor_on(uid)
            self.set_status(f"New mail in {safe_line(self.folder_name)}")

    # -- what the commands act on

    def current_uid(self) -> int | None:
        return self.index.current_uid()

    def rows_changed(self) -> None:
        self.index.refresh_rows()

    def after_delete(self) -> None:
        self.index.move_cursor(self.next_after_delete(self.index.cursor))

    def current_position(self) -> int:
        return self.index.cursor

    def go_to(self, position: int) -> None:
        self._follow(position)

    def _keep_cursor_on(self, uid: int | None) -> None:
        position = self.view.index_of(uid) if self.view and uid is not None else None
        self.index.move_cursor(position if position is not None else self.index.cursor)

    def on_index_list_cursor_moved(self, event: IndexList.CursorMoved) -> None:
        total = self.view.count if self.view else 0
        # Pine's thousands separators: "Message 1,024 of 100,000".
        where = f"Message {event.position + 1:,} of {total:,}" if total else "No messages"
        self.query_one("#title", Static).update(
            Text(f"  MESSAGE INDEX   Folder: {safe_line(self.folder_name)}   {where}")
        )

    def on_index_list_load_failed(self, event: IndexList.LoadFailed) -> None:
        self.set_status(event.error)

    def on_screen_resume(self) -> None:
        if self.view is not None:
            self.index.refresh_rows()  # flags changed in the message view (seen, deleted)

    # -- moving

    def action_move(self, delta: int) -> None:
        self._moved = True
        self.index.move_cursor(self.index.cursor + delta)

    def action_page(self, pages: int) -> None:
        self._moved = True
        self.index.page(pages)

    def action_jump(self) -> None:
        def answered(text: str | None) -> None:
            if not text or not text.strip():
                return
            try:
                number = int(text.strip())
            except ValueError:
                number = 0
            if not 1 <= number <= self.index.count:
                self.set_status(f"No message number {safe_line(text.strip())}")
                return
            self._moved = True
            self.index.move_cursor(number - 1)

        self.app.push_screen(PromptScreen("Message number to jump to:"), answered)

    def action_view_message(self) -> None:
        if self.ready() is None or self.view is None:
            return
        self.app.push_screen(
            MessageScreen(self.view, self.index.cursor, self.memory, follow=self._follow)
        )

    def _follow(self, position: int) -> None:
        self._moved = True
        self.index.move_cursor(position)

    def action_folder_list(self) -> None:
        self.app.pop_screen()
        # Back to the folder list this index was opened from, else a new one.
        if type(self.app.screen).__name__ != "FolderListScreen":
            opener = getattr(self.app, "open_folder_list", None)
            if callable(opener):
                opener()

    # -- order

    def action_sort(self) -> None:
        def chosen(key: str | None) -> None:
            view = self.view
            if key is None or view is None:
                return
            order = view.order
            if key == "h":
                self.reorder(view.set_threaded, "Threaded")
            elif key == "r":
                self.reorder(lambda: view.set_sort(order.key, not order.reverse), "Reversed")
            else:
                sort = SORTS[key]
                self.reorder(lambda: view.set_sort(sort), f"Sorted by {sort.value}")

        self.app.push_screen(ChoiceScreen("Sort by", SORT_CHOICES), chosen)

    def action_thread(self) -> None:
        view = self.view
        if view is None:
            return
        if view.threaded:
            order = view.order
            self.reorder(lambda: view.set_sort(order.key, order.reverse), "Thread view off")
        else:
            self.reorder(view.set_threaded, "Thread view")

    def reorder(self, job: Callable[[], None], said: str) -> None:
        """Change the order in a worker, the cursor staying on its message."""
        uid = self.current_uid()

        def done(_: None) -> None:
            self.index.refresh_rows()
            self._keep_cursor_on(uid)
            self.set_status(said)

        self.background(job, done, busy="Sorting...")

    # -- expunge and whereis

    def action_expunge(self) -> None:
        view = self.view
        if view is None or not self._writable(view):
            return

        def ask(count: int) -> None:
            if not self.is_active:
                return  # X pressed twice: the first count's question is up already
            if not count:
                self.set_status("No messages are marked deleted")
                return
            if self.session.pine.feature("expunge-without-confirm"):
                self.expunge()  # the pinerc's feature: X expunges at once, as in Pine
                return
            question = (
                f"Expunge the {counted(count, 'deleted message')} "
                f"from {safe_line(self.folder_name)}?"
            )
            self.app.push_screen(
                ConfirmScreen(question), lambda yes: self.expunge() if yes else None
            )

        self.background(view.deleted_count, ask, busy="Counting deleted messages...")

    def expunge(self) -> None:
        view = self.view
        assert view is not None
        uids, cursor = view.order.uids, self.index.cursor

        def done(removed: list[int]) -> None:
            gone = set(removed)
            self.index.selected -= gone
            self.index.refresh_rows()
            # The cursor stays on its message or, if that went, the next one left (the
            # position alone would skip as many as went above it).
            after = [u for u in uids[cursor:] if u not in gone]
            before = [u for u in uids[:cursor] if u not in gone]
            self._keep_cursor_on(after[0] if after else before[-1] if before else None)
            count = len(removed)
            self.set_status(f"{counted(count, 'message')} expunged")

        self.background(view.expunge, done, busy="Expunging...")

    def action_whereis(self) -> None:
        view = self.view
        if view is None:
            return

        def answered(text: str | None) -> None:
            if not text or not text.strip():
                return
            word = self.memory.last_search = text.strip()

            def found(matches: list[int]) -> None:
                position = view.next_match(matches, self.index.cursor)
                if position is None:
                    self.set_status(f'"{safe_line(word)}" not found')
                    return
                self._moved = True
                self.index.move_cursor(position)
                self.set_status(
                    f'"{safe_line(word)}" found in message {position + 1} '
                    f"({len(matches)} match{'es' if len(matches) != 1 else ''})"
                )

            self.background(lambda: view.search(word), found, busy="Searching...")

        prompt = PromptScreen("Word to search for:", initial=self.memory.last_search)
        self.app.push_screen(prompt, answered)

    # -- selection

    def action_select_current(self) -> None:
        uid = self.current_uid()
        if uid is None:
            return
        selected = self.index.selected
        selected.symmetric_difference_update({uid})
        self.set_status(f"{len(selected)} selected")
        self.index.move_cursor(self.index.cursor + 1)

    def action_select(self) -> None:
        view = self.view
        if view is None:
            return
        choices = [("a", "all"), ("c", "current"), ("t", "text"), ("u", "unselect all")]

        def chosen(key: str | None) -> None:
            if key == "a":
                self._select(set(view.order.uids))
            elif key == "c":
                self.action_select_current()
            elif key == "u":
                self._select(set(), replace=True)
            elif key == "t":
                self.app.push_screen(PromptScreen("Select messages containing:"), by_text)

        def by_text(text: str | None) -> None:
            if text and text.strip():
                word = text.strip()
                self.background(
                    lambda: view.search(word),
                    lambda uids: self._select(set(uids)),
                    busy="Searching...",
                )

        self.app.push_screen(ChoiceScreen("Select", choices), chosen)

    def _select(self, uids: set[int], *, replace: bool = False) -> None:
        index = self.index
        index.selected = uids if replace else index.selected | uids
        index.refresh()
        self.set_status(f"{len(index.selected)} selected")

    def action_apply(self) -> None:
        view = self.view
        selected = self.index.selected
        if view is None or not selected:
            self.set_status("No messages selected: select with : or ; first")
            return
        uids = sorted(selected, key=lambda u: view.index_of(u) or 0)
        choices = [("d", "delete"), ("u", "undelete"), ("s", "save"), ("*", "flag")]

        def chosen(key: str | None) -> None:
            if key == "d":
                self.mark(uids, DELETED, True, "deleted")
            elif key == "u":
                self.mark(uids, DELETED, False, "undeleted")
            elif key == "s":
                self.ask_save(uids)
            elif key == "*":
                self.mark(uids, frozenset({Flag.FLAGGED}), True, "flagged")

        self.app.push_screen(ChoiceScreen(f"APPLY to {len(uids)} selected:", choices), chosen)


class LiveOpen:
    """FolderView.open of a folder in a thread of its own, so that the header cache is
    read meanwhile (IndexScreen.open_folder)."""

    def __init__(self, session: MailSession, name: str) -> None:
        self._view: FolderView | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(session, name), name="open-live", daemon=True
        )
        self._thread.start()

    def _run(self, session: MailSession, name: str) -> None:
        try:
            self._view = FolderView.open(session, name)
        except BaseException as exc:  # raised again by result(), in the worker
            self._error = exc

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> FolderView:
        """The open folder once opened; the open's error, raised, if it failed."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._view is not None
        return self._view


def close_later(
    view: FolderView,
    move_read_to: str | None = None,
    tell: Callable[[str], None] | None = None,
) -> None:
    """Close a view off the UI thread: closing may write flags or talk to a server. Not a
    daemon thread: the process waits for it at exit, so flag changes are not lost.
    move_read_to: first move the read messages there (Pine's read-message-folder), and
    tell what was done, or why it was not (tell is called from the closing thread)."""

    def close() -> None:
        if move_read_to:
            try:
                moved = view.move_read_to(move_read_to)
            except (PineshError, OSError) as exc:
                moved = f"Read messages not moved to {move_read_to}: {exc}"
            if moved and tell is not None:
                tell(moved)
        with contextlib.suppress(PineshError, OSError):  # nobody is left to tell
            view.close()

    threading.Thread(target=close, name="pinesh-close-folder").start()
