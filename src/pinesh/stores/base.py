"""The Folder and Store interface every driver implements, and the values they return.

Messages are named by UID: stable within a folder while ``uidvalidity`` stays the same.
Local drivers make UIDs of their own (see each driver). Operations a driver cannot do
raise Unsupported; callers can ask first with ``capabilities``.
"""

from __future__ import annotations

import abc
import enum
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pinesh.errors import PineshError
from pinesh.textsafe import safe_line


class StoreError(PineshError):
    """A store operation failed; the message names the folder and what to do."""


class Unsupported(StoreError):  # noqa: N818 - reads better at call sites than UnsupportedError
    """The driver cannot do this (e.g. append to a newsgroup)."""


@dataclass(frozen=True)
class Reopened:
    """A server connection that was lost and has been opened again, to tell the user.

    A store repairs a dropped connection by itself (and replays what was in flight);
    this is how it says so, through the listener its maker passed in (ReopenListener).
    """

    server: str  # the host, as the channel names it
    what: str  # the store's side of it: "IMAP INBOX", "news"
    reason: str  # why it dropped: the error's words, possibly a server's

    def describe(self) -> str:
        """One line for a status line or stderr, safe to show."""
        return (
            f"Connection to {safe_line(self.server)} ({safe_line(self.what)}) dropped "
            f"({safe_line(self.reason)}); reopened"
        )


# Called from the thread that reopened the connection, with its lock held: it must not
# block or call back into the store (hand the notice on, e.g. post a message).
ReopenListener = Callable[[Reopened], None]


class Flag(enum.Enum):
    """The system flags pinesh shows and sets."""

    SEEN = "seen"
    ANSWERED = "answered"
    FLAGGED = "flagged"
    DELETED = "deleted"
    DRAFT = "draft"


class Capability(enum.Flag):
    """What a folder can do, to ask before trying (like c-client's DR_* flags)."""

    NONE = 0
    APPEND = enum.auto()
    EXPUNGE = enum.auto()
    SERVER_SORT = enum.auto()
    SERVER_SEARCH = enum.auto()
    IDLE = enum.auto()
    POST = enum.auto()
    CREATE = enum.auto()


@dataclass(frozen=True)
class Address:
    """One mailbox of an address header, decoded (RFC 2047) to text."""

    name: str
    email: str

    def display(self) -> str:
        return self.name or self.email


@dataclass(frozen=True)
class Envelope:
    """What the index shows of one message; decoded text, never raw header bytes."""

    uid: int
    date: datetime | None  # the Date header (aware), None if missing or broken
    sender: tuple[Address, ...]  # From
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    subject: str
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    size: int  # bytes (RFC822.SIZE)
    flags: frozenset[Flag]
    internal_date: datetime | None = None  # arrival time, for sorting by arrival
    newsgroups: tuple[str, ...] = ()


@dataclass(frozen=True)
class FolderStatus:
    """What opening a folder tells."""

    name: str
    count: int
    recent: int
    unseen: int
    uidvalidity: int
    uidnext: int | None = None
    read_only: bool = False


@dataclass(frozen=True)
class FirstLook:
    """What a driver learnt while opening a folder, in the same exchange: its status,
    every UID in arrival order and the unseen ones (so a view starts without asking)."""

    status: FolderStatus
    uids: Sequence[int]  # a tuple, or (a large cached mailbox) an array('I')
    unseen: Sequence[int]


@dataclass(frozen=True)
class FolderInfo:
    """One entry of a folder listing."""

    name: str  # full mailbox name, as it would be opened
    display: str  # the name within its collection, for people
    selectable: bool = True
    has_children: bool = False
    subscribed: bool | None = None  # news: ':' in ~/.newsrc; None where it means nothing


@dataclass(frozen=True)
class Part:
    """One MIME part of a message structure (lazy: no content)."""

    # IMAP section number: "1", "1.2"; "" for a multipart message's root. A single-part
    # message's body is "1" (IMAP's BODY[1]); fetch_part(uid, "") is the whole source.
    part_id: str
    content_type: str  # lowercase "text/plain"
    params: dict[str, str] = field(default_factory=dict)  # charset, name, boundary...
    encoding: str = "7bit"  # Content-Transfer-Encoding, lowercase
    size: int = 0  # encoded bytes
    filename: str | None = None  # decoded (RFC 2231 / 2047)
    disposition: str | None = None  # "inline", "attachment"
    description: str | None = None
    children: tuple[Part, ...] = ()

    @property
    def charset(self) -> str | None:
        return self.params.get("charset")

    def walk(self) -> Iterator[Part]:
        yield self
        for child in self.children:
            yield from child.walk()


class SortKey(enum.Enum):
    ARRIVAL = "arrival"
    DATE = "date"
    FROM = "from"
    SUBJECT = "subject"
    SIZE = "size"
    TO = "to"


@dataclass(frozen=True)
class ThreadNode:
    """A message in a thread tree (uid None: a missing parent that has children)."""

    uid: int | None
    children: tuple[ThreadNode, ...] = ()


@dataclass(frozen=True)
class SearchQuery:
    """What to look for; empty fields match everything. Text matches are substrings."""

    text: str | None = None  # anywhere in headers or body
    subject: str | None = None
    sender: str | None = None
    to: str | None = None
    body: str | None = None
    flags: frozenset[Flag] = frozenset()  # must all be set
    not_flags: frozenset[Flag] = frozenset()  # must all be unset
    since: datetime | None = None
    before: datetime | None = None


class Folder(abc.ABC):
    """An open mailbox. Not thread-safe: one worker uses it at a time."""

    name: str
    capabilities: Capability = Capability.NONE

    @abc.abstractmethod
    def status(self) -> FolderStatus:
        """Counts and UIDVALIDITY as of now."""

    @abc.abstractmethod
    def uids(self) -> list[int]:
        """Every message's UID, in arrival order."""

    def first_look(self) -> FirstLook | None:
        """What opening told, given once and only while nothing has changed since; None
        when the driver learnt nothing while opening (then ask status() and uids())."""
        return None

    @abc.abstractmethod
    def envelopes(self, uids: Sequence[int]) -> list[Envelope]:
        """The envelopes of these messages only (the visible window), in the order asked.

        UIDs that no longer exist are left out. Drivers cache by UID.
        """

    @abc.abstractmethod
    def sort(self, key: SortKey, reverse: bool = False) -> list[int]:
        """All UIDs sorted by key (server SORT where offered, else locally)."""

    @abc.abstractmethod
    def thread(self) -> list[ThreadNode]:
        """Threads by References/In-Reply-To (server THREAD where offered)."""

    @abc.abstractmethod
    def structure(self, uid: int) -> Part:
        """The MIME structure, without content."""

    @abc.abstractmethod
    def fetch_part(self, uid: int, part_id: str) -> Iterator[bytes]:
        """A part's content, transfer-encoding decoded, in chunks (streams large parts).

        part_id "" is the whole message source, undecoded.
        """

    @abc.abstractmethod
    def fetch_message(self, uid: int) -> bytes:
        """The whole raw message."""

    @abc.abstractmethod
    def set_flags(self, uids: Sequence[int], flags: frozenset[Flag], value: bool) -> None:
        """Set (value True) or clear flags on messages."""

    @abc.abstractmethod
    def append(
        self, message: bytes, flags: frozenset[Flag] = frozenset(), date: datetime | None = None
    ) -> int | None:
        """Add a message; return its UID when the driver knows it."""

    @abc.abstractmethod
    def expunge(self) -> list[int]:
        """Remove messages flagged DELETED; return their UIDs."""

    @abc.abstractmethod
    def search(self, query: SearchQuery) -> list[int]:
        """UIDs matching query (server SEARCH where offered), in arrival order."""

    @abc.abstractmethod
    def check(self, timeout: float = 0.0) -> bool:
        """Whether new mail arrived; wait up to timeout (IDLE where offered)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the folder (locks, connections)."""

    # Shared behaviour, written once in terms of the above; drivers may do better.

    def copy_to(self, uids: Sequence[int], dest: Folder) -> None:
        """Copy messages into dest (any driver), keeping flags and dates."""
        for envelope in self.envelopes(uids):
            dest.append(
                self.fetch_message(envelope.uid),
                envelope.flags,
                envelope.internal_date or envelope.date,
            )

    def copy_into(self, uids: Sequence[int], store: Store, name: str) -> bool:
        """Copy messages into folder name of store without opening it (c-client's
        mail_copy takes a name too), when the driver can: a server copying between its
        own mailboxes. False when it cannot; then open the folder and copy_to() it."""
        return False

    def move_to(self, uids: Sequence[int], dest: Folder) -> None:
        """Copy to dest, then flag DELETED and expunge here."""
        self.copy_to(uids, dest)
        self.set_flags(uids, frozenset({Flag.DELETED}), True)
        self.expunge()

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Store(abc.ABC):
    """A place that holds folders: an IMAP server, a directory, a news server."""

    @abc.abstractmethod
    def list_folders(self, pattern: str = "*") -> list[FolderInfo]:
        """Folders matching a pattern ('*' any depth, '%' one level)."""

    @abc.abstractmethod
    def open(self, name: str, read_only: bool = False) -> Folder:
        """Open a folder by its name within this store."""

    def create(self, name: str) -> None:
        raise Unsupported(f"cannot create folders here ({name})")

    def rename(self, old: str, new: str) -> None:
        raise Unsupported(f"cannot rename folders here ({old})")

    def delete(self, name: str) -> None:
        raise Unsupported(f"cannot delete folders here ({name})")

    def close(self) -> None:  # noqa: B027 - optional: stores without connections keep it
        """Release connections."""


def poll(probe: Callable[[], bool], timeout: float, every: float) -> bool:
    """probe() until it says True, every `every` seconds up to timeout (at least once):
    check() for drivers that cannot be told of new mail."""
    deadline = time.monotonic() + timeout
    while True:
        if probe():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(every, remaining))
