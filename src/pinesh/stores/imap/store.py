"""The IMAP driver: an IMAP server as a Store, each open mailbox an ImapFolder.

Every connection is a Channel from ``open_channel`` (over ssh they all ride the host's
one master, so a connection costs a channel, not a login). The store keeps one for its
own commands (LIST, CREATE, RENAME, DELETE); each open folder has its own, since IMAP
selects one mailbox per connection. A lost connection is opened again by calling
``open_channel`` once more; connection.py says what happens then, and how threads share
a connection (each has a lock held for every whole command and reply).

Built on IMAPClient. Where things are:

- connection: the Connection of one mailbox (reconnects, UIDVALIDITY checks, the
  flag-change journal, retries) and the Connector that makes them for one server;
- login: starting IMAP on a channel, LOGIN only over encrypted channels;
- channel_client: IMAPClient/imaplib on a Channel, with bounded reads;
- commands: the commands IMAPClient does not do our way (SEARCH, STORE, IDLE);
- protocol: pure syntax, what we write (arguments) and read (responses, envelope,
  bodystructure);
- errors: ImapError and the other errors, and what an imaplib/IMAPClient exception means;
- folder: the Folder; decode, local: streaming decoders, and local sort/thread for
  servers without them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from pinesh.stores.base import FolderInfo, FolderStatus, ReopenListener, Store, StoreError
from pinesh.stores.imap.channel_client import MAX_LITERAL
from pinesh.stores.imap.connection import Connector
from pinesh.stores.imap.errors import ImapSyntaxError
from pinesh.stores.imap.folder import ImapFolder
from pinesh.stores.imap.protocol.responses import folder_info
from pinesh.textsafe import safe_line
from pinesh.transport.channel import Channel

if TYPE_CHECKING:  # sqlite3 is imported only when a cache is opened
    from pinesh.stores.cache.header_cache import HeaderCache


CHUNK_SIZE = 1024 * 1024  # bytes of a part fetched per command
TIMEOUT = 60.0  # seconds a reply may take before the connection counts as lost


class ImapStore(Store):
    """An IMAP server reached through open_channel (called again to reconnect)."""

    def __init__(
        self,
        open_channel: Callable[[], Channel],
        *,
        user: str | None = None,
        password: Callable[[], str] | None = None,
        name: str = "",
        timeout: float = TIMEOUT,
        chunk_size: int = CHUNK_SIZE,
        on_reopened: ReopenListener | None = None,
        cache: HeaderCache | None = None,
    ) -> None:
        """on_reopened hears of each connection opened again after it was lost; cache:
        the server's header cache, which its folders read through (stores/cache)."""
        if not 0 < chunk_size <= MAX_LITERAL // 2:
            raise ValueError(f"chunk_size must be between 1 and {MAX_LITERAL // 2}")
        self.name = name
        self._chunk_size = chunk_size
        self._header_cache = cache
        self._folders: weakref.WeakSet[ImapFolder] = weakref.WeakSet()
        self._connector = Connector(
            open_channel,
            label=self.label,
            user=user,
            password=password,
            timeout=timeout,
            max_literal=MAX_LITERAL,
            on_reopened=on_reopened,
        )
        self._connection = self._connector(None)

    @property
    def connector(self) -> Connector:
        """How this server is reached: folders opened here share it (same server)."""
        return self._connector

    @property
    def label(self) -> str:
        """The server's name as shown in messages."""
        return f"IMAP server {safe_line(self.name)}" if self.name else "the IMAP server"

    def list_folders(self, pattern: str = "*") -> list[FolderInfo]:
        entries = self._connection.run("listing folders", lambda c: c.list_folders("", pattern))
        try:
            return [folder_info(entry) for entry in entries]
        except (ImapSyntaxError, TypeError) as exc:
            self._connection.drop()
            raise StoreError(
                f"{self.label}: the folder list could not be read: {safe_line(str(exc))}"
            ) from exc

    def open(self, name: str, read_only: bool = False) -> ImapFolder:
        kept = self._header_cache.mailbox(name) if self._header_cache is not None else None
        folder = ImapFolder(
            name, self._connector, read_only=read_only, chunk_size=self._chunk_size, cache=kept
        )
        self._folders.add(folder)
        return folder

    def folder_status(self, name: str) -> FolderStatus:
        """A folder's counts without selecting it (STATUS), on the store's own connection."""
        items = [b"MESSAGES", b"RECENT", b"UNSEEN", b"UIDVALIDITY", b"UIDNEXT"]
        reply = self._connection.run(
            f"reading the status of {safe_line(name)}", lambda c: c.folder_status(name, items)
        )

        def number(key: bytes) -> int:
            value = reply.get(key) if isinstance(reply, dict) else None
            return value if isinstance(value, int) else 0

        return FolderStatus(
            name,
            count=number(b"MESSAGES"),
            recent=number(b"RECENT"),
            unseen=number(b"UNSEEN"),
            uidvalidity=number(b"UIDVALIDITY"),
            uidnext=number(b"UIDNEXT") or None,
            read_only=True,
        )

    def create(self, name: str) -> None:
        self._connection.run(f"creating {safe_line(name)}", lambda c: c.create_folder(name))

    def rename(self, old: str, new: str) -> None:
        self._connection.run(
            f"renaming {safe_line(old)} to {safe_line(new)}", lambda c: c.rename_folder(old, new)
        )

    def delete(self, name: str) -> None:
        self._connection.run(f"deleting {safe_line(name)}", lambda c: c.delete_folder(name))

    def close(self) -> None:
        """Close every folder opened here, then the store's own connection."""
        problems = []
        for folder in list(self._folders):
            try:
                folder.close()
            except StoreError as exc:
                problems.append(exc)
        self._connection.close()
        if problems:
            raise problems[0]
