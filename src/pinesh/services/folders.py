"""What the folder list does, apart from drawing: collections, their folders, counts,
and creating, renaming and deleting folders (or subscribing to newsgroups).

Names within a collection are relative to it: "saved" in ``Mail mail/[]`` is the full
mailbox name ``~/mail/saved``, in ``Work {host}mail/[]`` it is ``{host}mail/saved``.
Every method may be called from a worker thread; calls that use one store are taken one
at a time, since a store keeps one connection.
"""

from __future__ import annotations

import enum
import os
import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, runtime_checkable

from pinesh.config.pine_settings import Collection
from pinesh.config.server_spec import ServerSpec
from pinesh.errors import PineshError
from pinesh.services.mail import MailSession
from pinesh.stores.base import FolderStatus, Store
from pinesh.stores.local.mbox_store import MboxStore
from pinesh.stores.names import Driver, MailboxName, parse_collection_name
from pinesh.stores.nntp.protocol import pattern_matches
from pinesh.stores.nntp.store import NntpStore
from pinesh.textsafe import safe_line

INBOX = "INBOX"


class Kind(enum.Enum):
    """Where a collection's folders live."""

    LOCAL = "local"  # a directory of mbox files and Maildirs
    IMAP = "imap"
    NEWS = "news"  # newsgroups: the subscribed ones, from ~/.newsrc


@runtime_checkable
class StatusStore(Protocol):
    """A store that can count a folder's messages without opening it (IMAP STATUS)."""

    def folder_status(self, name: str) -> FolderStatus: ...


@dataclass(frozen=True)
class FolderEntry:
    """One line of the folder list."""

    name: str  # the full mailbox name: what open_folder and the index take
    display: str  # the name within its collection (as it came: safe_line it to draw)
    selectable: bool = True  # False: a directory of folders
    is_inbox: bool = False


@dataclass(frozen=True)
class Listing:
    """A collection's folders, or why they could not be listed."""

    collection: Collection
    kind: Kind | None  # None: the collection's name could not be read
    entries: tuple[FolderEntry, ...] = ()
    error: str | None = None
    note: str | None = None  # e.g. "no newsgroups subscribed"


@dataclass(frozen=True)
class FolderCounts:
    count: int
    unseen: int


@dataclass(frozen=True)
class Place:
    """A collection's store, and how names within the collection map to full and store names."""

    kind: Kind
    store: Store
    full_prefix: str  # full name = full_prefix + name within the collection
    store_prefix: str  # store name = store_prefix + name within the collection
    list_pattern: str  # what to list in the store

    def full_name(self, relative: str) -> str:
        return self.full_prefix + relative

    def relative(self, full: str) -> str:
        return full.removeprefix(self.full_prefix)

    def store_name(self, full: str) -> str:
        return self.store_prefix + self.relative(full)


def collection_kind(session: MailSession, collection: Collection) -> Kind:
    """LOCAL, IMAP or NEWS, from the collection's name (PineshError when it does not parse)."""
    remote = parse_collection_name(collection.name, session.name_context())
    if remote is None:
        return Kind.LOCAL
    return Kind.NEWS if remote.driver is Driver.NNTP else Kind.IMAP


def check_name(kind: Kind, text: str) -> str:
    """A folder name typed by the user, or PineshError saying why it cannot be one."""
    name = text.strip()
    if not name:
        raise PineshError("no folder name given")
    if not name.isprintable():
        raise PineshError(
            f"the folder name {safe_line(name)!r} holds control characters",
            hint="use printable characters only",
        )
    if kind is Kind.LOCAL:
        parts = name.rstrip("/").split("/")
        if name.startswith(("/", "~")) or any(p in ("", ".", "..") for p in parts):
            raise PineshError(
                f"{name!r} is not a name within the collection",
                hint="a folder name here is relative to the collection, without '..'",
            )
        if any(p.startswith("-") for p in parts):
            raise PineshError(f"{name!r}: a folder name may not start with '-'")
    elif name.startswith("-"):
        raise PineshError(f"{name!r}: a folder name may not start with '-'")
    return name


def _same_mailbox(a: MailboxName, b: MailboxName) -> bool:
    def key(m: MailboxName) -> tuple[str, str]:
        box = m.mailbox.upper() if m.mailbox.upper() == INBOX else m.mailbox
        if m.server is None:
            return ("", os.path.normpath(box))
        return (m.server.identity(), box)

    return a.driver is b.driver and key(a) == key(b)


class FolderService:
    """The folder list's operations over one session's collections."""

    def __init__(self, session: MailSession) -> None:
        self.session = session
        self._lock = threading.Lock()  # the session's store table
        self._store_locks: weakref.WeakKeyDictionary[Store, threading.Lock] = (
            weakref.WeakKeyDictionary()
        )

    # -- collections ------------------------------------------------------------------

    def collections(self) -> list[Collection]:
        """The session's collections; with an nntp-server and no news collection,
        Pine's "News on SERVER" (the groups ~/.newsrc subscribes to) at the end."""
        found = self.session.collections()
        servers = self.session.pine.nntp_servers
        if not servers or any(self.is_news(c) for c in found):
            return found
        server = servers[0].server
        # A setting that did not parse is shown as written; opening it says what is wrong.
        host = server.host if isinstance(server, ServerSpec) else servers[0].text
        return [*found, Collection(f"News on {safe_line(host)}", "#news.", "")]

    def is_news(self, collection: Collection) -> bool:
        """Whether collection holds newsgroups (False when its name does not parse)."""
        try:
            return collection_kind(self.session, collection) is Kind.NEWS
        except PineshError:
            return False

    def place(self, collection: Collection) -> Place:
        """Where collection's folders are (no I/O: stores connect when first used)."""
        context = self.session.name_context()
        pattern = collection.pattern or "*"
        remote = parse_collection_name(collection.name, context)
        if remote is None:
            root = self.session.collection_root(collection)
            return Place(Kind.LOCAL, MboxStore(root), str(root).rstrip("/") + "/", "", pattern)
        store = self._store(remote)
        if remote.driver is Driver.NNTP:
            # Newsgroups keep their whole name within the collection: "comp.lang", not "lang".
            groups = replace(remote, mailbox="").format(context)
            return Place(Kind.NEWS, store, groups, "", remote.mailbox + pattern)
        prefix = remote.format(context)
        return Place(Kind.IMAP, store, prefix, remote.mailbox, remote.mailbox + pattern)

    def _store(self, mailbox: MailboxName) -> Store:
        with self._lock:
            return self.session.store_for(mailbox)

    @contextmanager
    def _using(self, store: Store) -> Iterator[None]:
        """Hold store for one operation (its connection is not shared between threads)."""
        with self._lock:
            lock = self._store_locks.setdefault(store, threading.Lock())
        with lock:
            yield

    # -- listing ----------------------------------------------------------------------

    def listing(self, collection: Collection) -> Listing:
        """collection's folders, INBOX first in the first collection (as Pine lists them).

        A collection that cannot be listed gives its error in the Listing, not an exception.
        """
        first = self.collections()[0] == collection
        inbox = (FolderEntry(INBOX, INBOX, is_inbox=True),) if first else ()
        try:
            kind = collection_kind(self.session, collection)
        except PineshError as exc:
            return Listing(collection, None, inbox, error=str(exc))
        try:
            place = self.place(collection)
            entries = self._news(place) if kind is Kind.NEWS else self._folders(collection, place)
        except (PineshError, OSError) as exc:
            return Listing(collection, kind, inbox, error=str(exc))
        if first:
            entries = [e for e in entries if not self.is_inbox(e.name)]
        note = None
        if kind is Kind.NEWS and not entries:
            note = "no newsgroups subscribed (A subscribes to one)"
        elif not entries and not inbox:
            note = "no folders yet (A adds one)"
        return Listing(collection, kind, inbox + tuple(entries), note=note)

    def _folders(self, collection: Collection, place: Place) -> list[FolderEntry]:
        if place.kind is Kind.LOCAL:
            root = self.session.collection_root(collection)
            if not root.is_dir():
                raise PineshError(
                    f"the collection's directory {root} does not exist",
                    hint="adding a folder (A) creates it",
                )
        with self._using(place.store):
            found = self.session.list_folders(collection)
        parents = listed_parents(f.name for f in found)
        return [
            FolderEntry(
                f.name, place.relative(f.name) + ("" if f.selectable else "/"), f.selectable
            )
            for f in found
            # A parent that cannot be opened and whose folders are listed anyway (a server
            # with "." between levels lists "Projekte" beside "Projekte.Entwürfe") would be
            # a phantom "Projekte/" entry, with the wrong separator: left out.
            if f.selectable or f.name not in parents
        ]

    def _news(self, place: Place) -> list[FolderEntry]:
        store = place.store
        if not isinstance(store, NntpStore):
            raise PineshError("this news collection is not on a news server")
        # ~/.newsrc, not LIST ACTIVE: Pine lists the subscribed groups, and a server's
        # full list can hold 100,000 of them.
        groups = [g for g in store.subscribed() if pattern_matches(place.list_pattern, g)]
        return [FolderEntry(place.full_name(g), g) for g in groups]

    def is_inbox(self, name: str) -> bool:
        """Whether name is the INBOX (by any of its names)."""
        if name.upper() == INBOX:
            return True
        try:
            return _same_mailbox(self.session.parse(name), self.session.parse(INBOX))
        except PineshError:
            return False

    # -- counts -----------------------------------------------------------------------

    def counts(self, name: str) -> FolderCounts:
        """How many messages a folder holds, and how many are unseen.

        IMAP stores that offer it answer by STATUS; other folders are opened read-only.
        """
        mailbox = self.session.parse(name)
        store = self._store(mailbox)
        with self._using(store):
            if mailbox.driver is Driver.IMAP and isinstance(store, StatusStore):
                status = store.folder_status(mailbox.mailbox)
            elif mailbox.driver is Driver.MBOX and not Path(mailbox.mailbox).exists():
                return FolderCounts(0, 0)  # a spool INBOX before any mail came
            else:
                with self.session.open_folder(name, read_only=True) as folder:
                    status = folder.status()
        return FolderCounts(status.count, status.unseen)

    # -- changes ----------------------------------------------------------------------

    def create(self, collection: Collection, typed: str) -> FolderEntry:
        """Create a folder named typed within collection (a name ending in "/" makes a
        directory, in local collections); a missing collection directory is made first."""
        place = self.place(collection)
        if place.kind is Kind.NEWS:
            raise PineshError("newsgroups are not created here", hint="A subscribes to one")
        relative = check_name(place.kind, typed)
        if place.kind is Kind.LOCAL:
            try:
                self.session.collection_root(collection).mkdir(
                    mode=0o700, parents=True, exist_ok=True
                )
            except OSError as exc:
                raise PineshError(f"cannot create the collection's directory: {exc}") from exc
        full = place.full_name(relative)
        with self._using(place.store):
            place.store.create(place.store_name(full))
        return FolderEntry(full, relative, selectable=not relative.endswith("/"))

    def rename(self, collection: Collection, entry: FolderEntry, typed: str) -> FolderEntry:
        """Rename entry (a folder of collection) to typed, a name within the collection."""
        place = self.place(collection)
        if place.kind is Kind.NEWS:
            raise PineshError("newsgroups cannot be renamed")
        if entry.is_inbox or self.is_inbox(entry.name):
            raise PineshError("INBOX cannot be renamed")
        relative = check_name(place.kind, typed)
        full = place.full_name(relative)
        with self._using(place.store):
            place.store.rename(place.store_name(entry.name), place.store_name(full))
        return FolderEntry(full, relative, entry.selectable)

    def delete(self, collection: Collection, entry: FolderEntry) -> None:
        """Delete entry (a folder of collection, with its messages)."""
        place = self.place(collection)
        if place.kind is Kind.NEWS:
            raise PineshError("newsgroups are not deleted here", hint="D unsubscribes")
        if entry.is_inbox or self.is_inbox(entry.name):
            raise PineshError("INBOX cannot be deleted")
        with self._using(place.store):
            place.store.delete(place.store_name(entry.name))

    def subscribe(self, collection: Collection, typed: str) -> FolderEntry:
        """Subscribe to the newsgroup typed (in ~/.newsrc) within a news collection."""
        store = self._news_store(collection)
        group = check_name(Kind.NEWS, typed)
        store.subscribe(group)
        return FolderEntry(self.place(collection).full_name(group), group)

    def unsubscribe(self, collection: Collection, entry: FolderEntry) -> None:
        """Unsubscribe from entry's newsgroup (its read marks stay in ~/.newsrc)."""
        self._news_store(collection).unsubscribe(entry.display)

    def _news_store(self, collection: Collection) -> NntpStore:
        store = self.place(collection).store
        if not isinstance(store, NntpStore):
            raise PineshError(f"{safe_line(collection.label)} is not a news collection")
        return store


def listed_parents(names: Iterable[str]) -> set[str]:
    """Every name that is the start of another listed name up to a ".": the parents, on a
    server with "." between levels, whose children are in the listing. (With "/", as in
    local collections, an unselectable parent is a directory and is shown as one.)"""
    parents: set[str] = set()
    for name in names:
        for at, char in enumerate(name):
            if char == "." and at:
                parents.add(name[:at])
    return parents
