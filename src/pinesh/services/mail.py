"""A mail session: open folders by Pine's names, list collections, across every driver.

The one place that turns a mailbox name into a driver (the stores never see the config):
remote names get a channel factory from Connections, so every folder of a host shares
its ssh master.

A connection a store had to reopen is told upward: each store gets the session's
listener, the session keeps the notices (``reopened``) and hands each to the listeners
the UI or the command line added (``listen_reopened``) to show it.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from pinesh.config.pine_settings import Collection, PineSettings, pine_settings
from pinesh.config.server_spec import ServerSpec
from pinesh.config.settings import CacheSettings
from pinesh.errors import PineshError
from pinesh.paths import cache_dir, data_dir
from pinesh.services.connections import Connections, load_connections
from pinesh.stores.base import Folder, FolderInfo, Reopened, ReopenListener, Store
from pinesh.stores.names import (
    Driver,
    MailboxName,
    NameContext,
    parse_collection_name,
    parse_mailbox_name,
)
from pinesh.textsafe import safe_line
from pinesh.transport.channel import Channel
from pinesh.transport.service import Service

if TYPE_CHECKING:
    from pinesh.stores.cache.header_cache import HeaderCache

PasswordPrompt = Callable[[str], str]

KEPT_NOTICES = 100  # reopened-connection notices a session keeps


@dataclass
class MailSession:
    """Settings, connections and open stores for one run of pinesh."""

    connections: Connections
    pine: PineSettings
    ask_password: PasswordPrompt | None = None
    data_dir: Path = field(default_factory=data_dir)
    _stores: dict[tuple[Driver, str], Store] = field(default_factory=dict)
    # Workers ask for stores at once: two must not each make one for the same server.
    _stores_lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )
    # The latest notices (bounded: a flapping link must not grow memory) and their count.
    _reopened: deque[Reopened] = field(
        default_factory=lambda: deque(maxlen=KEPT_NOTICES), init=False, repr=False
    )
    reopened_count: int = field(default=0, init=False)
    # The header cache of each IMAP server (None: off, or it could not be opened; then
    # cache_problem says why, once, for the status line).
    _caches: dict[str, HeaderCache | None] = field(default_factory=dict, init=False, repr=False)
    cache_problem: str | None = field(default=None, init=False)
    _caches_lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )
    _reopen_listeners: list[ReopenListener] = field(default_factory=list, init=False, repr=False)
    _reopened_lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    # -- connections reopened ---------------------------------------------------------

    def listen_reopened(self, listener: ReopenListener) -> None:
        """Call listener with each connection reopened from now on (from the worker
        thread that reopened it: the listener must hand the notice on, not block)."""
        with self._reopened_lock:
            self._reopen_listeners.append(listener)

    @property
    def reopened(self) -> list[Reopened]:
        """The connections reopened lately (the last KEPT_NOTICES), oldest first."""
        with self._reopened_lock:
            return list(self._reopened)

    def _tell_reopened(self, notice: Reopened) -> None:
        with self._reopened_lock:
            self._reopened.append(notice)
            self.reopened_count += 1
            listeners = list(self._reopen_listeners)
        for listener in listeners:
            listener(notice)

    # -- names ------------------------------------------------------------------------

    def name_context(self) -> NameContext:
        nntp = self.pine.nntp_servers[0].server if self.pine.nntp_servers else None
        return NameContext.from_environment(
            self.pine.inbox_path, nntp, self.pine.default_collection
        )

    def parse(self, name: str) -> MailboxName:
        return parse_mailbox_name(name, self.name_context())

    def password_for(self, spec: ServerSpec, service: Service) -> Callable[[], str] | None:
        """A callable that asks for service's password on spec's server (None: no way to ask)."""
        prompt = self.ask_password
        if prompt is None:
            return None
        who = f"{spec.mailbox_user}@{spec.host}" if spec.mailbox_user else spec.host
        return lambda: prompt(f"{service.value} password for {who}: ")

    def _channel_factory(self, spec: ServerSpec, service: Service) -> Callable[[], Channel]:
        return lambda: self.connections.open(spec, service).channel

    # -- the header cache ---------------------------------------------------------------

    def header_cache(self, spec: ServerSpec) -> HeaderCache | None:
        """The header cache of an IMAP server (opened once per session; None when the
        cache is off or its file cannot be used, which cache_problem then tells)."""
        settings = self.connections.settings.cache
        if not settings.enabled:
            return None
        key = cache_key(spec)
        with self._caches_lock:  # not _stores_lock: store_for() holds that while it calls us
            if key in self._caches:
                return self._caches[key]
            from pinesh.stores.cache.header_cache import CacheUnavailable

            try:
                cache: HeaderCache | None = open_header_cache(settings, spec)
            except CacheUnavailable as exc:
                cache, self.cache_problem = None, f"header cache off: {safe_line(str(exc))}"
            self._caches[key] = cache
            return cache

    def cached_folder(self, name: str, reason: str) -> Folder | None:
        """An IMAP folder as its cache last saw it (no network; stores/cache/cache_folder),
        or None: not IMAP, the cache off, or nothing cached for it."""
        mailbox = self.parse(name)
        if mailbox.driver is not Driver.IMAP or mailbox.server is None:
            return None
        cache = self.header_cache(mailbox.server)
        if cache is None:
            return None
        box = cache.mailbox(mailbox.mailbox)
        if box.state() is None:
            return None
        from pinesh.stores.cache.cache_folder import CacheFolder

        label = f"IMAP server {{{mailbox.server.format()}}} {safe_line(mailbox.mailbox)}"
        return CacheFolder(label, box, reason)

    # -- stores -----------------------------------------------------------------------

    def store_for(self, mailbox: MailboxName) -> Store:
        """The store that holds mailbox (one per server, or per local directory).

        Safe from any thread: each store is made once (no I/O: stores connect when used).
        """
        if mailbox.server is not None:
            key = (mailbox.driver, mailbox.server.identity())
        elif mailbox.driver is Driver.MAILDIR:
            key = (mailbox.driver, str(Path(mailbox.mailbox)))  # rooted at itself
        else:
            key = (mailbox.driver, str(Path(mailbox.mailbox).parent))
        with self._stores_lock:
            store = self._stores.get(key)
            if store is None:
                store = self._new_store(mailbox)
                self._stores[key] = store
        return store

    def _new_store(self, mailbox: MailboxName) -> Store:
        if mailbox.driver is Driver.IMAP:
            from pinesh.stores.imap.store import ImapStore

            assert mailbox.server is not None
            spec = mailbox.server
            return ImapStore(
                self._channel_factory(spec, Service.IMAP),
                user=spec.mailbox_user,
                password=self.password_for(spec, Service.IMAP),
                name="{" + spec.format() + "}",
                on_reopened=self._tell_reopened,
                cache=self.header_cache(spec),
            )
        if mailbox.driver is Driver.NNTP:
            from pinesh.stores.nntp.store import NntpStore

            assert mailbox.server is not None
            spec = mailbox.server
            return NntpStore(
                self._channel_factory(spec, Service.NNTP),
                newsrc=self.pine.newsrc_path or self.name_context().home / ".newsrc",
                user=spec.mailbox_user,
                password=self.password_for(spec, Service.NNTP),
                name="{" + replace(spec, service="nntp").format() + "}",
                on_reopened=self._tell_reopened,
            )
        if mailbox.driver is Driver.MAILDIR:
            from pinesh.stores.local.maildir_store import MaildirStore

            return MaildirStore(Path(mailbox.mailbox))
        from pinesh.stores.local.mbox_store import MboxStore

        return MboxStore(Path(mailbox.mailbox).parent)

    def open_folder(self, name: str, read_only: bool = False, create: bool = False) -> Folder:
        """Open a folder by any of Pine's mailbox names.

        A folder that does not exist yet is created when create is set (an Fcc to
        sent-mail, a postponed message): a local mbox, or a folder on the server when the
        default collection is remote (one LIST to know). A local spool that is not there
        is an empty INBOX (no mail ever came).
        """
        mailbox = self.parse(name)
        store = self.store_for(mailbox)
        if mailbox.driver is Driver.MAILDIR:
            return store.open("INBOX", read_only=read_only)
        if mailbox.driver is Driver.MBOX:
            path = Path(mailbox.mailbox)
            if not path.exists() and (create or name.upper() == "INBOX"):
                path.parent.mkdir(parents=True, exist_ok=True)
                store.create(path.name)
            return store.open(path.name, read_only=read_only)
        if create and mailbox.driver is Driver.IMAP and not self.on_server(mailbox):
            store.create(mailbox.mailbox)
        return store.open(mailbox.mailbox, read_only=read_only)

    def on_server(self, mailbox: MailboxName) -> bool:
        """Whether a server's folder is there to open (one LIST): the default collection
        may be remote, and a folder named there need not have been made yet."""
        listed = self.store_for(mailbox).list_folders(mailbox.mailbox)
        return any(folder.selectable for folder in listed)

    # -- collections ------------------------------------------------------------------

    def collections(self) -> list[Collection]:
        """folder-collections then news-collections, or Pine's default ``mail/[]``."""
        found = list(self.pine.folder_collections) + list(self.pine.news_collections)
        return found or [Collection("Mail", "mail/", "")]

    def find_collection(self, label: str | None) -> Collection:
        collections = self.collections()
        if label is None:
            return collections[0]
        for collection in collections:
            if label in (collection.label, collection.name):
                return collection
        names = ", ".join(c.label for c in collections)
        raise PineshError(f"no folder collection {label!r}", hint=f"collections: {names}")

    def collection_root(self, collection: Collection) -> Path:
        """A local collection's directory: its path is relative to the home directory
        (Pine's "mail/[]" is ~/mail), unlike a folder name, which is relative to ~/mail."""
        root = Path(os.path.expanduser(collection.name.rstrip("/") or "."))
        return root if root.is_absolute() else self.name_context().home / root

    def list_folders(self, collection: Collection) -> list[FolderInfo]:
        """The folders of a collection, named so that open_folder() opens them."""
        pattern = collection.pattern or "*"
        context = self.name_context()
        remote = parse_collection_name(collection.name, context)
        if remote is not None:
            listed = self.store_for(remote).list_folders(remote.mailbox + pattern)
            return [
                FolderInfo(
                    replace(remote, mailbox=f.name).format(context),
                    f.display,
                    f.selectable,
                    f.has_children,
                )
                for f in listed
            ]
        from pinesh.stores.local.mbox_store import MboxStore

        root = self.collection_root(collection)
        store = MboxStore(root)
        return [
            FolderInfo(str(root / f.name), f.display, f.selectable, f.has_children)
            for f in store.list_folders(pattern)
        ]

    def close(self) -> None:
        with self._stores_lock:
            try:
                for store in self._stores.values():
                    store.close()
            finally:
                self._stores.clear()
                with self._caches_lock:
                    for cache in self._caches.values():
                        if cache is not None:
                            cache.close()
                    self._caches.clear()


def cache_key(spec: ServerSpec) -> str:
    """The name of an IMAP server's header cache (hashed into its file name)."""
    return f"imap:{spec.identity()}"


def open_header_cache(settings: CacheSettings, spec: ServerSpec) -> HeaderCache:
    """Open the header cache of an IMAP server (CacheUnavailable: it cannot be used)."""
    from pinesh.stores.cache.header_cache import HeaderCache

    root = settings.directory or cache_dir()
    return HeaderCache.open(root, cache_key(spec), body_limit=settings.bodies_mb * 2**20)


def header_cache_line(settings: CacheSettings, spec: ServerSpec) -> str:
    """One line for `pinesh doctor`: where an IMAP server's header cache is, or why not."""
    from pinesh.stores.cache.header_cache import CacheUnavailable

    who = safe_line(spec.identity())
    if not settings.enabled:
        return f"header cache for {who}: off ([cache] enabled = false)"
    try:
        cache = open_header_cache(settings, spec)
    except CacheUnavailable as exc:
        return f"header cache for {who}: off: {safe_line(str(exc))}"
    try:
        return f"header cache for {who}: {safe_line(str(cache.path))}"
    finally:
        cache.close()


def open_session(
    config: str | None = None, pinerc: str | None = None, ask_password: PasswordPrompt | None = None
) -> MailSession:
    """A session from pinesh's config and the pinerc (defaults when they are missing)."""
    connections = load_connections(config, pinerc)
    return MailSession(connections, pine_settings(connections.pinerc), ask_password)
