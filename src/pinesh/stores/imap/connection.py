"""One IMAP connection that comes back: (re)connect, SELECT, check UIDVALIDITY, replay
flag changes, and run each command with one retry after the connection was lost.

A Connector holds how to reach one server (its open_channel, login and limits); calling
it gives the Connection of one mailbox (or, with mailbox None, of the store's own
commands). Opening a connection takes a new Channel, starts IMAPClient on it
(channel_client) and logs in unless preauthenticated (login).

Flag changes go through a journal: each is recorded before it is sent and removed only
when the server has confirmed it, so a change made while the connection is down (or lost
in flight) is sent again after the reconnect. If UIDVALIDITY changed meanwhile, the
UIDs in the journal name other messages: they are dropped, and the caller is told.

A reconnect is not silent: the Connector's on_reopened listener gets a Reopened notice
(the host, the mailbox, why the connection dropped) each time a connection that was up
is opened again.

Threads: a connection may be used by the UI's workers at once (the folder list asks
STATUS on the store's connection while another worker lists folders). Each has a lock,
held for the whole of ensure() (connect, SELECT, replay), of run() (the command, its
reply, the retry after a reconnect, the untagged responses taken in) and of drop() and
close(). The lock is reentrant: run() calls ensure() and failed() calls drop().
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from pinesh.errors import PineshError
from pinesh.stores.base import Reopened, ReopenListener, StoreError
from pinesh.stores.imap.channel_client import MAX_LITERAL, MAX_UNTAGGED, ChannelIMAPClient
from pinesh.stores.imap.commands import (
    FlagChange,
    Known,
    Opening,
    Resync,
    open_mailbox,
    store_flags,
)
from pinesh.stores.imap.errors import (
    Failure,
    ImapError,
    ImapSyntaxError,
    ImapUnsupported,
    ReplyTooLarge,
    classify,
    server_words,
)
from pinesh.stores.imap.login import start_client
from pinesh.stores.imap.protocol.resync import vanished
from pinesh.textsafe import safe_line, safe_text
from pinesh.transport.channel import Channel
from pinesh.transport.opener import RouteError

T = TypeVar("T")

LOGOUT_TIMEOUT = 2.0  # seconds: closing must not hang on a dead server


class Connector:
    """How to reach one IMAP server; called, it gives the Connection of one mailbox.

    Folders of one server share their Connector, so it also tells whether two folders
    are on the same server (a COPY between them stays on the server).
    """

    def __init__(
        self,
        open_channel: Callable[[], Channel],
        *,
        label: str,
        user: str | None,
        password: Callable[[], str] | None,
        timeout: float | None,
        max_literal: int = MAX_LITERAL,
        max_untagged: int = MAX_UNTAGGED,
        on_reopened: ReopenListener | None = None,
    ) -> None:
        self.open_channel = open_channel  # called again to reconnect
        self.on_reopened = on_reopened
        self.label = label  # the server's name as shown in messages
        self._user = user
        self._password = password  # a callback: asked at each login, never kept
        self._timeout = timeout
        self._max_literal = max_literal
        self._max_untagged = max_untagged

    def __call__(self, mailbox: str | None, *, read_only: bool = False) -> Connection:
        """The (not yet opened) connection of mailbox; None: for commands outside one."""
        return Connection(self, mailbox=mailbox, read_only=read_only)

    def start(self, channel: Channel) -> tuple[ChannelIMAPClient, frozenset[str]]:
        """IMAP on a new channel of this server (logged in when needed); its capabilities."""
        return start_client(
            channel,
            label=self.label,
            user=self._user,
            password=self._password,
            timeout=self._timeout,
            max_literal=self._max_literal,
            max_untagged=self._max_untagged,
        )


class FlagJournal:
    """Flag changes not yet confirmed by the server, oldest first.

    Its own lock: set_flags adds an entry before it takes the connection's lock, so an add
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


class Connection:
    """The connection of one mailbox (or, with mailbox None, of a store's own commands)."""

    def __init__(self, connector: Connector, *, mailbox: str | None, read_only: bool) -> None:
        self._connector = connector
        self.label = connector.label
        self.mailbox = mailbox
        self.read_only = read_only
        self.channel: Channel | None = None  # these three are None while it is down
        self._client: ChannelIMAPClient | None = None
        self._capabilities: frozenset[str] | None = None
        self.journal = FlagJournal()
        self.uidvalidity: int | None = None
        self.uidnext: int | None = None
        self.highestmodseq: int | None = None  # with CONDSTORE
        # What the last SELECT's exchange told (all UIDs, the unseen): taken once by
        # ImapFolder.first_look(), dropped when the server tells of a change (_absorb).
        self.opening: Opening | None = None
        # What changed since known() said, as the last SELECT's exchange told: taken once
        # by ImapFolder.resync(). Kept apart from opening, which news drops: what it
        # tells stays true, and news comes on top of it.
        self.resync: Resync | None = None
        self.exists = 0
        self.recent = 0
        self.reconnects = 0
        self._lost_reason = "closed"  # why the connection was last dropped, for the notice
        self.closed = False
        self._connected_before = False
        self.changed = False  # EXISTS/EXPUNGE seen: the message list may differ now
        self.uidnext_stale = False  # EXISTS seen since UIDNEXT was read
        self.on_invalidated: Callable[[], None] = lambda: None  # UIDVALIDITY changed
        self.on_messages_changed: Callable[[], None] = lambda: None  # expunges, flags
        # Each (re)selection's Opening, before any other command (the header cache
        # takes it in); called with the lock held, it must not run commands.
        self.on_selected: Callable[[Opening], None] = lambda opening: None
        # What a cache holds of the mailbox, asked at each (re)select: the opening then
        # also learns what changed since (commands.open_mailbox), a reconnect too.
        self.known: Callable[[], Known | None] = lambda: None
        # The UIDs of "* VANISHED" (expunges once QRESYNC is on), before on_messages_changed.
        self.on_vanished: Callable[[frozenset[int]], None] = lambda uids: None
        self._lock = threading.RLock()  # one command/reply exchange at a time (see above)

    @property
    def where(self) -> str:
        if self.mailbox is None:
            return self.label
        return f"{self.label} {safe_line(self.mailbox)}"

    # ---- connection

    def _open(self) -> tuple[Channel, ChannelIMAPClient, frozenset[str]]:
        try:
            channel = self._connector.open_channel()
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
        client, capabilities = self._connector.start(channel)
        return channel, client, capabilities

    def ensure(self) -> ChannelIMAPClient:
        """The live client: reconnect, reselect and replay flag changes if needed."""
        with self._lock:
            return self._ensure()

    def capabilities(self) -> frozenset[str]:
        """What the server can do (upper case), connecting first if the connection is down."""
        with self._lock:
            self._ensure()
            assert self._capabilities is not None
            return self._capabilities

    def _ensure(self) -> ChannelIMAPClient:
        if self._client is not None:
            return self._client
        if self.closed:
            raise ImapError(f"{self.where} is closed", Failure.REFUSED, hint="open it again")
        channel, client, capabilities = self._open()
        refused: list[ImapError] = []
        try:
            invalidated = self.mailbox is not None and self._select(client)
            if not invalidated:
                refused = self._replay(client)
        except BaseException:
            # No LOGOUT: after a broken reply the stream may be out of step, and a silent
            # server would hold us for the LOGOUT timeout. The server sees EOF instead.
            channel.close()
            raise
        self.channel, self._client, self._capabilities = channel, client, capabilities
        if self._connected_before:
            self.reconnects += 1
            self.changed = True  # mail may have come while we were away
            self._tell_reopened(channel)
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
        return client

    def _tell_reopened(self, channel: Channel) -> None:
        listener = self._connector.on_reopened
        if listener is None:
            return
        what = "IMAP" if self.mailbox is None else f"IMAP {self.mailbox}"
        listener(Reopened(channel.server.host, what, self._lost_reason))

    def _select(self, client: ChannelIMAPClient) -> bool:
        """SELECT (or EXAMINE) the mailbox, with the searches that open it in the same
        write (commands.open_mailbox); whether its UIDVALIDITY differs from before."""
        assert self.mailbox is not None
        known = self.known()  # outside the try: a cache's error is not the server's
        try:
            opening = open_mailbox(client, self.mailbox, read_only=self.read_only, known=known)
        except Exception as exc:
            if classify(exc) is None:
                raise
            raise self.failed("opening", exc) from exc
        state = opening.state
        # A server that lets us only read it says so ([READ-ONLY]): open read-only, as Pine.
        self.read_only = self.read_only or state.read_only
        self.exists, self.recent = state.exists, state.recent
        self.uidnext = state.uidnext
        self.highestmodseq = state.highestmodseq
        self.uidnext_stale = False
        self.opening = opening
        self.resync = opening.resync
        changed = self.uidvalidity is not None and state.uidvalidity != self.uidvalidity
        self.uidvalidity = state.uidvalidity
        self.on_selected(opening)
        return changed

    def _replay(self, client: ChannelIMAPClient) -> list[ImapError]:
        """Send the journal's changes; those the server refuses are dropped and returned."""
        refused = []
        pending = self.journal.pending()
        if pending:
            self.opening = None  # its unseen UIDs are about to change
        for change in pending:
            try:
                self._attempt(
                    client, "saving flag changes", functools.partial(store_flags, change=change)
                )
            except ImapError as exc:
                if exc.failure not in (Failure.REFUSED, Failure.UNSUPPORTED):
                    raise
                refused.append(exc)
            self.journal.confirm(change)
        return refused

    def drop(self, reason: str = "closed after an unreadable reply") -> None:
        """Forget the connection (it is broken, reason says how, safe to show); the next
        command reconnects."""
        with self._lock:
            channel = self.channel
            if channel is not None:
                self._lost_reason = reason
            self.channel = self._client = self._capabilities = None
            if channel is not None:
                channel.close()

    def close(self) -> None:
        """LOGOUT (never CLOSE, which would expunge) and close the channel, for good."""
        with self._lock:  # waits for a command in flight; LOGOUT is a command too
            self.closed = True
            channel, client = self.channel, self._client
            self.channel = self._client = self._capabilities = None
            if channel is not None and client is not None:
                with contextlib.suppress(Exception):
                    channel.sock.settimeout(LOGOUT_TIMEOUT)
                    client.logout()
                channel.close()

    # ---- commands

    def failed(self, what: str, exc: BaseException) -> ImapError:
        """The ImapError for an IMAP failure; the connection is dropped unless the server
        merely said NO (or lacks the capability)."""
        kind = classify(exc) or Failure.BROKEN
        words = server_words(exc)
        if kind is Failure.LOST:
            self.drop(words)
            return ImapError(
                f"{self.where}: the connection was lost while {what}: {words}",
                kind,
                hint="pinesh reconnects at the next command; if it keeps failing, check the "
                "network and the ssh route (`pinesh doctor`)",
            )
        if isinstance(exc, ReplyTooLarge):
            self.drop(f"cut off: {words}")
            return ImapError(
                f"{self.where}: cut off while {what}: the server sent {words}",
                Failure.BROKEN,
                hint="pinesh reads no more than that from a server; if it happens again, "
                "the server is broken or hostile",
            )
        if kind is Failure.BROKEN:
            return self.broken(what, words)
        if kind is Failure.UNSUPPORTED:
            return ImapUnsupported(f"{self.where}: the server cannot do this ({what}): {words}")
        return ImapError(f"{self.where}: the server refused {what}: {words}", kind)

    def broken(self, what: str, words: str) -> ImapError:
        """The ImapError for a reply that could not be read (words: why, safe to show);
        the connection is dropped, since the stream may be out of step."""
        self.drop(f"unreadable reply: {words}")
        return ImapError(
            f"{self.where}: the server's reply while {what} could not be read: {words}",
            Failure.BROKEN,
            hint="the connection was closed; if this happens again, the server is broken",
        )

    def _attempt(
        self, client: ChannelIMAPClient, what: str, op: Callable[[ChannelIMAPClient], T]
    ) -> T:
        try:
            return op(client)
        except StoreError:
            raise
        except Exception as exc:
            if classify(exc) is None:
                self.drop(f"closed after an error: {safe_line(type(exc).__name__)}")
                raise  # a bug of ours, not the server's: show it as it is
            raise self.failed(what, exc) from exc
        except BaseException:
            self.drop("interrupted mid-command")  # the stream is out of step
            raise

    def run(self, what: str, op: Callable[[ChannelIMAPClient], T], *, retry: bool = True) -> T:
        """op on the live connection; after a lost connection, reconnect and run it once more.

        what names the work for messages ("reading envelopes"); op must be safe to repeat
        when retry is True. The lock is held throughout, so op must do its whole
        exchange before it returns (a part is streamed as one run() per bounded chunk,
        never as a generator reading the socket outside the lock).
        """
        with self._lock:
            client = self.ensure()
            try:
                result = self._attempt(client, what, op)
            except ImapError as error:
                if error.failure is not Failure.LOST or not retry:
                    raise
                client = self.ensure()
                result = self._attempt(client, what, op)
            try:
                self._absorb(client)
            except ImapSyntaxError as exc:
                raise self.broken(what, safe_line(str(exc))) from exc
            return result

    def fetch(
        self, what: str, uids: Sequence[int], items: Sequence[str]
    ) -> dict[int, dict[bytes, object]]:
        """UID FETCH of items, by UID; only the UIDs asked for (IMAPClient drops
        unsolicited ones). Safe to repeat, so retried once after a lost connection."""
        reply = self.run(what, lambda client: client.fetch(list(uids), list(items)))
        return {uid: item for uid, item in reply.items() if isinstance(uid, int)}

    def _absorb(self, client: ChannelIMAPClient) -> None:
        """Take in what the server said on the side: new counts, expunges, flag changes
        (with the lock held, as run() does); the rest is dropped."""
        untagged = client.imap.untagged_responses
        exists = _last_int(untagged.pop("EXISTS", ()))
        recent = _last_int(untagged.pop("RECENT", ()))
        expunged = untagged.pop("EXPUNGE", None)
        # Once QRESYNC is on, expunges come as "* VANISHED <uids>" instead (RFC 7162
        # 3.2.10); a VANISHED (EARLIER) names messages gone before: no count changes.
        told = vanished(untagged.pop("VANISHED", ()))
        fetched = untagged.pop("FETCH", None)
        validity = _last_int(untagged.pop("UIDVALIDITY", ()))
        # Nothing reads the others later, and kept they would count against the next
        # command's allowance (channel_client). READ-ONLY stays: imaplib refuses the
        # next command of a read-write session with it, as it should.
        read_only = untagged.get("READ-ONLY")
        untagged.clear()
        if read_only:
            untagged["READ-ONLY"] = read_only[-1:]
        if exists is not None:
            self.exists = exists
            self.changed = self.uidnext_stale = True
        if recent is not None:
            self.recent = recent
        gone = len(expunged or ()) + len(told.now)
        if gone:
            self.changed = True
            if exists is None:
                self.exists = max(0, self.exists - gone)
        if exists is not None or gone or fetched:
            self.opening = None  # what opening said holds no more
        if told.now or told.earlier:
            self.on_vanished(told.now | told.earlier)
        if gone or fetched:
            self.on_messages_changed()
        if validity is not None and self.uidvalidity is not None and validity != self.uidvalidity:
            # Mid-session UIDVALIDITY change: reconnecting makes _select report it.
            self.drop("the server changed the mailbox's UIDVALIDITY")


def _last_int(values: Sequence[object]) -> int | None:
    for value in reversed(values):
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
        if text.strip().isdigit():
            return int(text.strip())
    return None
