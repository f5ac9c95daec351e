"""Open the start-up folder early, while the terminal UI is still loading.

`pinesh` starts this before it imports Textual: the ssh login (or a channel on a warm
master), the server's greeting and the folder's SELECT run in a thread while the UI is
imported and built, and the index's first open of that folder takes the folder opened
early instead of opening its own. The first index thus appears as soon as the slower
of the two is done. An early failure is not shown at once: that first open raises it
and the index says why (the route is not tried twice for one failure). Pine, too, opens
INBOX when it starts, whichever screen it shows first.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from pinesh.config.pine_settings import pine_settings
from pinesh.errors import PineshError
from pinesh.services.connections import load_connections
from pinesh.services.mail import MailSession, PasswordPrompt
from pinesh.stores.base import Folder


class EarlyFolder:
    """One folder being opened read-write in a thread; taken once, or closed at exit."""

    def __init__(self, name: str, open_now: Callable[[], Folder]) -> None:
        self.name = name
        self._open_now = open_now
        self._folder: Folder | None = None
        self._error: BaseException | None = None
        self._abandoned = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="early-open", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            folder = self._open_now()
        except BaseException as exc:  # handed to the first open, which reports it
            with self._lock:
                self._error = exc
            return
        with self._lock:
            if not self._abandoned:
                self._folder = folder
                return
        _close_quietly(folder)

    def take(self) -> Folder | None:
        """The folder once its open is done (None if it was discarded); the open's error,
        raised, if it failed."""
        self._thread.join()
        with self._lock:
            folder, error = self._folder, self._error
            self._folder, self._error = None, None
        if error is not None:
            raise error
        return folder

    def discard(self) -> None:
        """Close the folder if nobody took it (now, or when its open finishes)."""
        with self._lock:
            self._abandoned = True
            folder, self._folder, self._error = self._folder, None, None
        if folder is not None:
            _close_quietly(folder)


def _close_quietly(folder: Folder) -> None:
    with contextlib.suppress(PineshError, OSError):
        folder.close()


@dataclass
class EarlySession(MailSession):
    """A MailSession whose first read-write open of the early folder takes it."""

    early: EarlyFolder | None = None
    _claim: threading.Lock = field(default_factory=threading.Lock)

    def open_folder(self, name: str, read_only: bool = False, create: bool = False) -> Folder:
        with self._claim:
            early = self.early
            if early is not None and early.name == name and not read_only and not create:
                self.early = None
            else:
                early = None
        taken = early.take() if early is not None else None
        if taken is not None:
            return taken
        return super().open_folder(name, read_only=read_only, create=create)

    def open_early(self, name: str) -> EarlyFolder | None:
        """Start opening name in a thread when it is a remote folder; None for a local one.

        A name that does not parse starts nothing: the index reports it when it opens.
        """
        try:
            remote = self.parse(name).is_remote
        except (PineshError, ValueError):
            return None
        if not remote:
            return None  # a local folder opens in no time; nothing to overlap
        self.connections.masters()  # made here, not raced for by two threads
        early = EarlyFolder(name, lambda: MailSession.open_folder(self, name))
        self.early = early
        early.start()
        return early


def early_session(
    config: str | None, pinerc: str | None, ask_password: PasswordPrompt | None = None
) -> EarlySession:
    """A session (as open_session) that can open its start-up folder early."""
    connections = load_connections(config, pinerc)
    return EarlySession(connections, pine_settings(connections.pinerc), ask_password)


def discard_early(early: EarlyFolder | None) -> None:
    """At exit: close the early folder if nobody used it."""
    if early is not None:
        early.discard()
