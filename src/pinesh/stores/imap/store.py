"""The IMAP driver: an IMAP server as a Store, each open mailbox an ImapFolder.

Every connection is a Channel from ``open_channel`` (over ssh they all ride the host's
one master, so a connection costs a channel, not a login). The store keeps one for its
own commands (LIST, CREATE, RENAME, DELETE); each open folder has its own, since IMAP
selects one mailbox per connection. A lost connection is opened again by calling
``open_channel`` once more; see imap_link for what happens then. Threads may share a
connection (the store's, or an open folder's): each one's FolderLink has a lock held for
every whole command and reply (imap_link explains).

Built on IMAPClient (imap_client adapts it to a Channel). The pieces:

- imap_client: IMAPClient/imaplib on a Channel, with bounded reads;
- imap_session: starting a session, LOGIN only over encrypted channels;
- imap_link: reconnecting, UIDVALIDITY checks, the flag-change journal, retries;
- imap_commands: the commands a folder sends (SEARCH, FETCH, STORE, IDLE);
- imap_folder: the Folder;
- imap_convert, imap_bodystructure, imap_syntax, imap_decode, imap_local: pure
  conversions, syntax, decoders, and local sort/thread for servers without them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

from pinesh.stores.base import FolderInfo, FolderStatus, Store, StoreError
from pinesh.stores.imap.client import MAX_LITERAL
from pinesh.stores.imap.convert import ConvertError, folder_info
from pinesh.stores.imap.folder import ImapFolder
from pinesh.stores.imap.link import FolderLink
from pinesh.stores.imap.session import Session, start_session
from pinesh.textsafe import safe_line
from pinesh.transport.channel import Channel

__all__ = ["ImapFolder", "ImapStore"]

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
    ) -> None:
        if not 0 < chunk_size <= MAX_LITERAL // 2:
            raise ValueError(f"chunk_size must be between 1 and {MAX_LITERAL // 2}")
        self.open_channel = open_channel
        self.name = name
        self._user = user
        self._password = password  # a callback: asked at each login, never kept
        self._timeout = timeout
        self._chunk_size = chunk_size
        self._folders: weakref.WeakSet[ImapFolder] = weakref.WeakSet()
        self._link = FolderLink(open_channel, self.start_session, label=self.label, mailbox=None)

    @property
    def label(self) -> str:
        """The server's name as shown in messages."""
        return f"IMAP server {safe_line(self.name)}" if self.name else "the IMAP server"

    def start_session(self, channel: Channel) -> Session:
        """IMAP on a new channel of this server (logged in when needed)."""
        return start_session(
            channel,
            label=self.label,
            user=self._user,
            password=self._password,
            timeout=self._timeout,
            max_literal=MAX_LITERAL,
        )

    def list_folders(self, pattern: str = "*") -> list[FolderInfo]:
        entries = self._link.run("listing folders", lambda c: c.list_folders("", pattern))
        try:
            return [folder_info(entry) for entry in entries]
        except (ConvertError, TypeError) as exc:
            self._link.drop()
            raise StoreError(
                f"{self.label}: the folder list could not be read: {safe_line(str(exc))}"
            ) from exc

    def open(self, name: str, read_only: bool = False) -> ImapFolder:
        folder = ImapFolder(self, name, read_only=read_only, chunk_size=self._chunk_size)
        self._folders.add(folder)
        return folder

    def folder_status(self, name: str) -> FolderStatus:
        """A folder's counts without selecting it (STATUS), on the store's own connection."""
        items = [b"MESSAGES", b"RECENT", b"UNSEEN", b"UIDVALIDITY", b"UIDNEXT"]
        reply = self._link.run(
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
        self._link.run(f"creating {safe_line(name)}", lambda c: c.create_folder(name))

    def rename(self, old: str, new: str) -> None:
        self._link.run(
            f"renaming {safe_line(old)} to {safe_line(new)}", lambda c: c.rename_folder(old, new)
        )

    def delete(self, name: str) -> None:
        self._link.run(f"deleting {safe_line(name)}", lambda c: c.delete_folder(name))

    def close(self) -> None:
        """Close every folder opened here, then the store's own connection."""
        problems = []
        for folder in list(self._folders):
            try:
                folder.close()
            except StoreError as exc:
                problems.append(exc)
        self._link.close()
        if problems:
            raise problems[0]
