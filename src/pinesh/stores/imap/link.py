"""A folder's connection that comes back: (re)connect, SELECT, check UIDVALIDITY, replay
flag changes, and run each command with one retry after the connection was lost.

Flag changes go through a journal: each is recorded before it is sent and removed only
when the server has confirmed it, so a change made while the connection is down (or lost
in flight) is sent again after the reconnect. If UIDVALIDITY changed meanwhile, the
UIDs in the journal name other messages: they are dropped, and the caller is told.

Threads: a link is one connection, and the UI's workers may use it at once (the folder
list asks STATUS on the store's link while another worker lists folders). Each link has
a lock, held for the whole of ensure() (connect, SELECT, replay), of run() (the command,
its reply, the retry after a reconnect, the untagged responses taken in) and of drop()
and close(). The lock is reentrant: run() calls ensure() and failed() calls drop().
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from pinesh.errors import PineshError
from pinesh.stores.base import StoreError, Unsupported
from pinesh.stores.imap.client import ChannelIMAPClient
from pinesh.stores.imap.commands import FlagChange, store_flags
from pinesh.stores.imap.errors import Failure, classify, server_words
from pinesh.stores.imap.session import Session
from pinesh.textsafe import safe_line, safe_text
from pinesh.transport.channel import Channel
from pinesh.transport.opener import RouteError

T = TypeVar("T")


class ImapError(StoreError):
    """A StoreError from an IMAP command, saying what kind of failure it was."""

    def __init__(self, message: str, failure: Failure, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.failure = failure


class FlagJournal:
    """Flag changes not yet confirmed by the server, oldest first.

    Its own lock: set_flags adds an entry before it takes the link's lock, so an add
    must not be lost to a confirm() rebuilding the list in another thread."""

    def __init__(self) -> None:
        self._entries: list[FlagChange] = []
        self._lock = threading.Lock()

    def add(self, change: FlagChange) -> None:
        with self._lock:
            self._entries.append(change)

    def confirm(self, change: FlagChange) -> None:
        """Forget this entry (this very object: an equal later change stays)."""
        with self._lock:
            self._entries = [entry for entry in self._entries if entry is not change]

    def pending(self) -> list[FlagChange]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> int:
        with self._lock:
            count, self._entries = len(self._entries), []
        return count


class FolderLink:
    """The connection of one folder (or, with mailbox None, of a store's own commands)."""

    def __init__(
        self,
        connect: Callable[[], Channel],
        start: Callable[[Channel], Session],
        *,
        label: str,
        mailbox: str | None,
        read_only: bool = False,
    ) -> None:
        self._connect = connect
        self._start = start
        self.label = label
        self.mailbox = mailbox
        self.read_only = read_only
        self.session: Session | None = None
        self.journal = FlagJournal()
        self.uidvalidity: int | None = None
        self.uidnext: int | None = None
        self.exists = 0
        self.recent = 0
        self.reconnects = 0
        self.closed = False
        self._connected_before = False
        self.changed = False  # EXISTS/EXPUNGE seen: the message list may differ now
        self.uidnext_stale = False  # EXISTS seen since UIDNEXT was read
        self.on_invalidated: Callable[[], None] = lambda: None  # UIDVALIDITY changed
        self.on_messages_changed: Callable[[], None] = lambda: None  # expunges, flags
        self._lock = threading.RLock()  # one command/reply exchange at a time (see above)

    @property
    def where(self) -> str:
        if self.mailbox is None:
            return self.label
        return f"{self.label} {safe_line(self.mailbox)}"

    # ---- connection

    def _open(self) -> Session:
        try:
            channel = self._connect()
        except PineshError as exc:
            raise ImapError(
                f"cannot reach {self.where}: {safe_text(exc.message)}", Failure.LOST, hint=exc.hint
            ) from exc
        except (OSError, RouteError) as exc:
            raise ImapError(
                f"cannot reach {self.where}: {safe_line(str(exc))}",
                Failure.LOST,
                hint="check the network and the ssh route (`pinesh doctor`)",
            ) from exc
        return self._start(channel)

    def ensure(self) -> Session:
        """The live session: reconnect, reselect and replay flag changes if needed."""
        with self._lock:
            return self._ensure()

    def _ensure(self) -> Session:
        if self.session is not None:
            return self.session
        if self.closed:
            raise ImapError(f"{self.where} is closed", Failure.REFUSED, hint="open it again")
        session = self._open()
        refused: list[ImapError] = []
        try:
            invalidated = self.mailbox is not None and self._select(session)
            if not invalidated:
                refused = self._replay(session)
        except BaseException:
            # No LOGOUT: after a broken reply the stream may be out of step, and a silent
            # server would hold us for the LOGOUT timeout. The server sees EOF instead.
            session.channel.close()
            raise
        self.session = session
        if self._connected_before:
            self.reconnects += 1
            self.changed = True  # mail may have come while we were away
        self._connected_before = True
        if invalidated:
            lost = self.journal.clear()
            self.on_invalidated()
            note = f"; {lost} flag change(s) not yet saved were dropped" if lost else ""
            raise ImapError(
                f"{self.where} changed on the server (its UIDVALIDITY is new){note}",
                Failure.REFUSED,
                hint="the message list is read again from the server; check it",
            )
        if refused:
            raise ImapError(
                f"{refused[0].message} ({len(refused)} earlier flag change(s) not saved)",
                Failure.REFUSED,
            )
        return session

    def _select(self, session: Session) -> bool:
        """SELECT (or EXAMINE) the mailbox; whether its UIDVALIDITY differs from before."""
        assert self.mailbox is not None
        client = session.client
        try:
            try:
                info = client.select_folder(self.mailbox, readonly=self.read_only)
            except client.ReadOnlyError:
                # The server lets us only read it: open it read-only, as Pine does.
                self.read_only = True
                info = client.select_folder(self.mailbox, readonly=True)
            validity = int(info[b"UIDVALIDITY"])
            exists = int(info.get(b"EXISTS", 0))
            recent = int(info.get(b"RECENT", 0))
            uidnext = info.get(b"UIDNEXT")
        except Exception as exc:
            if classify(exc) is None:
                raise
            raise self.failed("opening", exc) from exc
        client.imap.untagged_responses.clear()  # what SELECT said is read now
        self.exists, self.recent = exists, recent
        self.uidnext = uidnext if isinstance(uidnext, int) else None
        self.uidnext_stale = False
        changed = self.uidvalidity is not None and validity != self.uidvalidity
        self.uidvalidity = validity
        return changed

    def _replay(self, session: Session) -> list[ImapError]:
        """Send the journal's changes; those the server refuses are dropped and returned."""
        refused = []
        for change in self.journal.pending():
            try:
                self._attempt(
                    session, "saving flag changes", functools.partial(store_flags, change=change)
                )
            except ImapError as exc:
                if exc.failure not in (Failure.REFUSED, Failure.UNSUPPORTED):
                    raise
                refused.append(exc)
            self.journal.confirm(change)
        return refused

    def drop(self) -> None:
        """Forget the connection (it is broken); the next command reconnects."""
        with self._lock:
            session, self.session = self.session, None
            if session is not None:
                session.channel.close()

    def close(self) -> None:
        with self._lock:  # waits for a command in flight; LOGOUT is a command too
            self.closed = True
            session, self.session = self.session, None
            if session is not None:
                session.close()

    # ---- commands

    def failed(self, what: str, exc: BaseException) -> ImapError:
        """The StoreError for an IMAP failure; the connection is dropped unless the server
        merely said NO (or lacks the capability)."""
        kind = classify(exc) or Failure.BROKEN
        words = server_words(exc)
        if kind is Failure.LOST:
            self.drop()
            return ImapError(
                f"{self.where}: the connection was lost while {what}: {words}",
                kind,
                hint="pinesh reconnects at the next command; if it keeps failing, check the "
                "network and the ssh route (`pinesh doctor`)",
            )
        if kind is Failure.BROKEN:
            self.drop()
            return ImapError(
                f"{self.where}: the server's reply while {what} could not be read: {words}",
                kind,
                hint="the connection was closed; if this happens again, the server is broken",
            )
        if kind is Failure.UNSUPPORTED:
            return _UnsupportedError(f"{self.where}: the server cannot do this ({what}): {words}")
        return ImapError(f"{self.where}: the server refused {what}: {words}", kind)

    def _attempt(self, session: Session, what: str, op: Callable[[ChannelIMAPClient], T]) -> T:
        try:
            return op(session.client)
        except StoreError:
            raise
        except Exception as exc:
            if classify(exc) is None:
                self.drop()  # a bug of ours, not the server's: show it as it is
                raise
            raise self.failed(what, exc) from exc
        except BaseException:
            self.drop()  # interrupted mid-command: the stream is out of step
            raise

    def run(self, what: str, op: Callable[[ChannelIMAPClient], T], *, retry: bool = True) -> T:
        """op on the live connection; after a lost connection, reconnect and run it once more.

        what names the work for messages ("reading envelopes"); op must be safe to repeat
        when retry is True. The link's lock is held throughout, so op must do its whole
        exchange before it returns (a part is streamed as one run() per bounded chunk,
        never as a generator reading the socket outside the lock).
        """
        with self._lock:
            session = self.ensure()
            try:
                result = self._attempt(session, what, op)
            except ImapError as error:
                if error.failure is not Failure.LOST or not retry:
                    raise
                session = self.ensure()
                result = self._attempt(session, what, op)
            self.absorb(session)
            return result

    def absorb(self, session: Session) -> None:
        """Take in what the server said on the side: new counts, expunges, flag changes
        (call with the lock held, as run() does)."""
        untagged = session.client.imap.untagged_responses
        exists = _last_int(untagged.pop("EXISTS", ()))
        recent = _last_int(untagged.pop("RECENT", ()))
        expunged = untagged.pop("EXPUNGE", None)
        fetched = untagged.pop("FETCH", None)
        validity = _last_int(untagged.pop("UIDVALIDITY", ()))
        if exists is not None:
            self.exists = exists
            self.changed = self.uidnext_stale = True
        if recent is not None:
            self.recent = recent
        if expunged:
            self.changed = True
            if exists is None:
                self.exists = max(0, self.exists - len(expunged))
        if expunged or fetched:
            self.on_messages_changed()
        if validity is not None and self.uidvalidity is not None and validity != self.uidvalidity:
            # Mid-session UIDVALIDITY change: reconnecting makes _select report it.
            self.drop()


class _UnsupportedError(ImapError, Unsupported):
    def __init__(self, message: str) -> None:
        ImapError.__init__(self, message, Failure.UNSUPPORTED)


def _last_int(values: Sequence[object]) -> int | None:
    for value in reversed(values):
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
        if text.strip().isdigit():
            return int(text.strip())
    return None
