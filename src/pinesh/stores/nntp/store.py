"""News through NNTP as a Store: a news server whose newsgroups are folders (folder.py).

- One connection per store (opened when first needed, reopened once if it was lost);
  folders share it and re-select their group (GROUP) when another one was used last.
  A reopened connection is told to the on_reopened listener (a Reopened notice).
- Threads: the UI's workers call the store and its folders at once (the folder list
  counts groups while the index reads one). Every exchange on the connection, and the
  GROUP that selects the group it needs, runs under the store's one lock (see run());
  ~/.newsrc's read-modify-write has a lock of its own.
- ~/.newsrc is rewritten atomically (temporary file, then rename), keeping every line
  it does not change, in order; before each write it is read again, so only the group
  written changes.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pinesh.atomic_file import replace_file
from pinesh.errors import PineshError
from pinesh.stores.base import FolderInfo, Reopened, ReopenListener, Store, StoreError
from pinesh.stores.headers import header_end, message_ids, parse_header_block
from pinesh.stores.nntp import newsrc as marks
from pinesh.stores.nntp.client import ConnectionLost, NntpClient
from pinesh.stores.nntp.folder import NntpFolder
from pinesh.stores.nntp.newsrc import Newsrc, format_newsrc, parse_newsrc
from pinesh.stores.nntp.protocol import Reply, pattern_matches, valid_group_name, wildmat
from pinesh.textsafe import safe_line
from pinesh.transport.channel import Channel
from pinesh.transport.opener import RouteError
from pinesh.transport.service import Service

T = TypeVar("T")


@dataclass(frozen=True)
class NewsgroupInfo(FolderInfo):
    """A newsgroup in a listing: whether ~/.newsrc subscribes to it, and its LIST status."""

    subscribed: bool = False
    status: str = "y"  # y: posting ok, n: no posting, m: moderated, ...


# --- ~/.newsrc on disk --------------------------------------------------------------------


def read_newsrc(path: Path) -> Newsrc:
    """The newsrc at path (missing: empty)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Newsrc()
    except OSError as exc:
        raise StoreError(
            f"cannot read {path}: {exc.strerror or exc}", hint="check its permissions"
        ) from exc
    return parse_newsrc(data.decode("utf-8", "surrogateescape"))


def write_newsrc(path: Path, newsrc: Newsrc) -> None:
    """Replace the newsrc atomically (a symlink's target is replaced, not the link)."""
    try:
        replace_file(path, format_newsrc(newsrc).encode("utf-8", "surrogateescape"))
    except OSError as exc:
        raise StoreError(
            f"cannot write {os.path.realpath(path)}: {exc.strerror or exc}",
            hint="check the directory's permissions and free space",
        ) from exc


# --- the store ----------------------------------------------------------------------------


class NntpStore(Store):
    """A news server: its groups are folders; ~/.newsrc holds subscriptions and marks.

    open_channel opens a Channel to the server (e.g. Connections.open(...).channel); a
    password (called only when the server asks, over an encrypted channel) is never sent
    over a plain one.
    """

    def __init__(
        self,
        open_channel: Callable[[], Channel],
        *,
        newsrc: Path,
        user: str | None = None,
        password: Callable[[], str] | None = None,
        name: str = "",
        timeout: float = 60.0,
        on_reopened: ReopenListener | None = None,
    ) -> None:
        self._open_channel = open_channel
        self._on_reopened = on_reopened
        self._lost_reason: str | None = None  # set while a lost connection is not reopened
        self.newsrc_path = newsrc
        self.user = user
        self._password = password
        self.name = name
        self.timeout = timeout
        self._client: NntpClient | None = None
        self._folders: weakref.WeakSet[NntpFolder] = weakref.WeakSet()
        # Held for each whole exchange on the one connection (connect, command, reply,
        # retry), by the store and every group opened from it. Reentrant: close() drops
        # the connection the same way run() does.
        self._lock = threading.RLock()
        self._newsrc_lock = threading.Lock()  # read, change, write ~/.newsrc as one step

    @property
    def channel(self) -> Channel | None:
        """The current connection's channel, None when there is none."""
        client = self._client  # read once: another thread may drop it meanwhile
        return client.channel if client is not None else None

    @property
    def label(self) -> str:
        if self.name:
            return safe_line(self.name)
        client = self._client  # read once: another thread may drop it meanwhile
        if client is not None:
            return client.label
        return "(news)"

    # connection

    def _connect(self) -> tuple[NntpClient, bool]:
        """The live client, and whether it was opened just now (call with the lock held)."""
        if self._client is not None and not self._client.broken:
            return self._client, False
        if self._client is not None and self._lost_reason is None:
            self._lost_reason = "the connection was lost"
        self._client = None
        try:
            channel = self._open_channel()
        except PineshError as exc:
            raise StoreError(
                f"cannot reach news server {self.label}: {exc.message}", hint=exc.hint
            ) from exc
        except (OSError, RouteError) as exc:
            raise StoreError(f"cannot reach news server {self.label}: {exc}") from exc
        if channel.service is not Service.NNTP:
            channel.close()
            raise StoreError(f"news server {self.label}: the channel is not for NNTP")
        client = NntpClient(
            channel,
            label=self.name or channel.server.host,
            user=self.user,
            password=self._password,
            timeout=self.timeout,
        )
        try:
            client.start()
        except BaseException:
            client.quit()
            raise
        self._client = client
        reason, self._lost_reason = self._lost_reason, None
        if reason is not None and self._on_reopened is not None:
            self._on_reopened(Reopened(channel.server.host, "news", reason))
        return client, True

    def run(self, action: Callable[[NntpClient], T]) -> T:
        """action with the live client; once again on a new connection if the old one was
        lost (actions must be safe to repeat, or say so with ConnectionLost.safe_to_retry).

        The whole of it holds the store's lock: an action's commands and their replies
        (multi-line ones read to their final '.') never interleave with another thread's,
        and an action sees the group it selected until it returns. Actions return whole
        values, never a generator reading the socket later, outside the lock.
        """
        with self._lock:
            client, fresh = self._connect()
            try:
                return action(client)
            except ConnectionLost as exc:
                self._lost_reason = exc.reason
                self._drop()
                if fresh or not exc.safe_to_retry:
                    raise
            client, _ = self._connect()
            return action(client)

    def in_group(self, group: str, action: Callable[[NntpClient], T]) -> T:
        """action with group selected."""

        def selected(client: NntpClient) -> T:
            if client.selected != group:
                client.group(group)
            return action(client)

        return self.run(selected)

    def _drop(self) -> None:
        with self._lock:  # QUIT is a command too
            if self._client is not None:
                self._client.quit()
                self._client = None

    @property
    def posting_allowed(self) -> bool:
        with self._lock:
            return self._connect()[0].posting_allowed

    # folders

    def list_folders(self, pattern: str = "*") -> list[FolderInfo]:
        """Groups matching pattern (LIST ACTIVE wildmat), subscribed ones marked."""
        active = self.run(lambda c: c.list_active(wildmat(pattern)))
        subscribed = set(read_newsrc(self.newsrc_path).subscribed())
        return [
            NewsgroupInfo(g.name, g.name, subscribed=g.name in subscribed, status=g.status)
            for g in sorted(active, key=lambda g: g.name)
            if "%" not in pattern or pattern_matches(pattern, g.name)
        ]

    def subscribed(self) -> list[str]:
        """The groups ~/.newsrc subscribes to, in its order."""
        return read_newsrc(self.newsrc_path).subscribed()

    def open(self, name: str, read_only: bool = False) -> NntpFolder:
        if not valid_group_name(name):
            raise StoreError(f"{safe_line(name)!r} is not a newsgroup name", hint="e.g. comp.mail")
        info = self.run(lambda c: c.group(name))
        folder = NntpFolder(self, name, info, read_only)
        self._folders.add(folder)
        return folder

    def _set_subscribed(self, group: str, value: bool) -> None:
        if not valid_group_name(group):
            raise StoreError(f"{safe_line(group)!r} is not a newsgroup name")
        with self._newsrc_lock:
            old = read_newsrc(self.newsrc_path)
            new = old.set_subscribed(group, value)
            if new != old:
                write_newsrc(self.newsrc_path, new)

    def subscribe(self, group: str) -> None:
        """Subscribe in ~/.newsrc (a new group goes at the end; its marks are kept)."""
        self._set_subscribed(group, True)

    def unsubscribe(self, group: str) -> None:
        """Unsubscribe in ~/.newsrc ('group!'), keeping the group's read marks."""
        self._set_subscribed(group, False)

    def save_read(self, group: str, read: marks.Ranges) -> None:
        """Write a group's read marks into ~/.newsrc (read again first: others' lines stay)."""
        with self._newsrc_lock:
            old = read_newsrc(self.newsrc_path)
            new = old.set_read(group, read)
            if new != old:
                write_newsrc(self.newsrc_path, new)

    def read_marks(self, group: str) -> marks.Ranges:
        line = read_newsrc(self.newsrc_path).group(group)
        return line.read if line is not None else ()

    # posting

    def post(self, article: bytes) -> str | None:
        """POST an article; its Message-ID (the server's, else the article's own)."""
        if b"\0" in article:
            raise StoreError("the article holds a NUL byte; no news server takes it")
        if not article.strip():
            raise StoreError("the article is empty")
        reply: Reply = self.run(lambda c: c.post(article))
        said = message_ids(reply.rest.decode("utf-8", "replace"))
        if said:
            return said[0]
        own = message_ids(str(parse_header_block(article[: header_end(article)]).get("Message-ID")))
        return own[0] if own else None

    def close(self) -> None:
        """Write the marks of folders still open, and QUIT."""
        try:
            for folder in list(self._folders):
                folder.flush()
        finally:
            self._drop()
