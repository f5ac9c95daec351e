"""The persistent header cache of one IMAP server: UIDs, flags, envelopes, structures,
parts read, and flag changes not yet confirmed, per mailbox and UIDVALIDITY.

One SQLite file per server (files.py says where and how it is opened). SQLite because it
is in the standard library, every change is a transaction that survives a crash, and in
WAL mode two pinesh processes can share the file (LMDB would need a package and a fixed
map size). The cache is an accelerator, never a dependency: after any sqlite3.Error
(disk full, locked beyond the busy timeout, a file gone bad) the HeaderCache turns itself
off for the rest of the process, reads answer empty or None, writes do nothing, and
``problem`` says why in words safe to show.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pinesh.stores.base import Envelope, Flag, Part
from pinesh.stores.cache.codec import (
    SEEN_BIT,
    bits_to_flags,
    decode_envelope,
    decode_part,
    encode_envelope,
    encode_part,
    flags_to_bits,
)
from pinesh.stores.cache.database import (
    SQLITE_BUSY,
    ForeignFileError,
    connect,
    is_corruption,
    transaction,
)
from pinesh.stores.cache.files import CacheUnavailable, cache_file, move_aside, prepare_file
from pinesh.stores.cache.uidsets import (
    ascending,
    decode_uid_set,
    encode_uid_set,
    gaps_of,
    json_ints,
    runs_of,
)
from pinesh.textsafe import safe_line

__all__ = ["CacheUnavailable", "CachedState", "HeaderCache", "MailboxCache", "PendingChange"]

_CHUNK = 500  # UIDs per "IN (...)" query
# More runs of consecutive UIDs than this and set_uids compares row by row instead.
RUNS_LIMIT = 20_000

T = TypeVar("T")


@dataclass(frozen=True)
class CachedState:
    """What the cache knew of a mailbox when it was last open."""

    uidvalidity: int  # 0: rows were written before any reset() told it
    uidnext: int | None
    highestmodseq: int | None


@dataclass(frozen=True)
class PendingChange:
    """A flag change made while offline or not yet confirmed by the server."""

    id: int
    uids: tuple[int, ...]
    flags: frozenset[Flag]
    value: bool


def _chunks(uids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(uids), _CHUNK):
        yield uids[start : start + _CHUNK]


def _int_list(conn: sqlite3.Connection, query: str, *args: object) -> list[int]:
    """The ints of the one JSON array query answers (json_group_array): a million come
    back as one string, four times faster than as rows."""
    row = conn.execute(query, args).fetchone()
    values = json.loads(row[0]) if row and row[0] else []
    if not isinstance(values, list) or not set(map(type, values)) <= {int}:
        return []  # not what json_group_array of an INTEGER column gives
    return values


def _placeholders(count: int) -> str:
    return ",".join("?" * count)


class HeaderCache:
    """One server's cache file; thread-safe (one lock around its sqlite3 connection,
    check_same_thread=False)."""

    def __init__(self, path: Path, conn: sqlite3.Connection, body_limit: int) -> None:
        """Use open()."""
        self.path = path
        self.body_limit = body_limit
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.RLock()
        self._problem: str | None = None

    @classmethod
    def open(cls, root: Path, server_key: str, *, body_limit: int = 64 * 2**20) -> HeaderCache:
        """The cache of the server named server_key (chosen by the caller, e.g.
        "imap://user@host:port") in root/imap/.

        A file that is not a pinesh cache of this version is moved aside to
        NAME.corrupt-<unix time> and a new one made. Raises CacheUnavailable (its message
        names the path and what to do) when the directory or file is not safely ours or
        cannot be opened; the caller then runs without a cache.
        """
        path = cache_file(root, server_key)
        uri = prepare_file(path)
        try:
            try:
                conn = connect(uri)
            except (ForeignFileError, sqlite3.Error) as exc:
                if isinstance(exc, sqlite3.Error) and not is_corruption(exc):
                    raise
                move_aside(path)
                conn = connect(prepare_file(path))
        except (ForeignFileError, sqlite3.Error, OSError) as exc:
            raise CacheUnavailable(
                f"cannot use the header cache {safe_line(str(path))}: {safe_line(str(exc))}"
                " (pinesh works without it; remove the file if this persists)"
            ) from exc
        return cls(path, conn, body_limit)

    @property
    def problem(self) -> str | None:
        """Why the cache was turned off, safe to show; None while it works."""
        return self._problem

    @property
    def available(self) -> bool:
        """Whether the cache is open and working."""
        return self._conn is not None

    def mailbox(self, name: str) -> MailboxCache:
        """The cache of the mailbox name (any str: it stays inside the database)."""
        return MailboxCache(self, name)

    def close(self) -> None:
        """Close the file; later calls answer as a cache turned off."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA optimize")
                with contextlib.suppress(sqlite3.Error):
                    conn.close()

    def _run(self, default: T, work: Callable[[sqlite3.Connection], T]) -> T:
        """work(connection) under the lock; default when off, or after an error (which
        turns the cache off)."""
        with self._lock:
            conn = self._conn
            if conn is None:
                return default
            try:
                return work(conn)
            except sqlite3.Error as exc:
                self._disable(exc)
                return default
            except UnicodeEncodeError:
                return default  # a section SQLite cannot store (a lone surrogate): not kept

    def _disable(self, exc: sqlite3.Error) -> None:
        self._problem = safe_line(f"the header cache {self.path} is off for this session: {exc}")
        self.close()
        if is_corruption(exc):
            # Moved aside now, so the next start makes a new one instead of failing again.
            with contextlib.suppress(OSError):
                move_aside(self.path)


class MailboxCache:
    """The cache of one mailbox in a HeaderCache. Every method is safe to call when the
    cache is off (or turns off on an error): reads answer empty or None, writes do nothing.

    Writes to a mailbox reset() never named create it with uidvalidity 0, which no server
    sends: the caller's check of state() against the server then resets it.
    """

    def __init__(self, cache: HeaderCache, name: str) -> None:
        self.name = name
        self._cache = cache
        self._key = name.encode("utf-8", "surrogatepass")
        self._id: int | None = None

    @property
    def problem(self) -> str | None:
        """Why the cache was turned off (the HeaderCache's problem)."""
        return self._cache.problem

    def _find(self, conn: sqlite3.Connection) -> int | None:
        if self._id is None:
            row = conn.execute("SELECT id FROM mailboxes WHERE name = ?", (self._key,)).fetchone()
            self._id = None if row is None else int(row[0])
        return self._id

    def _make(self, conn: sqlite3.Connection) -> int:
        """The mailbox's id, created (uidvalidity 0) when missing; inside a transaction."""
        found = self._find(conn)
        if found is not None:
            return found
        cursor = conn.execute(
            "INSERT INTO mailboxes (name, uidvalidity) VALUES (?, 0)", (self._key,)
        )
        self._id = int(cursor.lastrowid or 0)
        return self._id

    # -- state --------------------------------------------------------------------------

    def state(self) -> CachedState | None:
        """UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ as last kept; None: nothing cached."""

        def work(conn: sqlite3.Connection) -> CachedState | None:
            row = conn.execute(
                "SELECT uidvalidity, uidnext, highestmodseq FROM mailboxes WHERE name = ?",
                (self._key,),
            ).fetchone()
            return None if row is None else CachedState(row[0], row[1], row[2])

        return self._cache._run(None, work)

    def reset(self, uidvalidity: int) -> int:
        """Drop everything of this mailbox (a new UIDVALIDITY): messages, envelopes,
        structures, parts and pending changes; the state becomes (uidvalidity, None, None).
        Returns how many pending changes were dropped."""

        def work(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                mailbox = self._make(conn)
                for table in ("messages", "envelopes", "structures", "parts"):
                    conn.execute(f"DELETE FROM {table} WHERE mailbox = ?", (mailbox,))  # noqa: S608 - fixed names
                dropped = conn.execute("DELETE FROM pending WHERE mailbox = ?", (mailbox,))
                conn.execute(
                    "UPDATE mailboxes SET uidvalidity = ?, uidnext = NULL, highestmodseq = NULL"
                    " WHERE id = ?",
                    (uidvalidity, mailbox),
                )
                return dropped.rowcount

        return self._cache._run(0, work)

    def set_state(self, *, uidnext: int | None, highestmodseq: int | None) -> None:
        """Keep UIDNEXT and HIGHESTMODSEQ (after the cache caught up with the server)."""

        def work(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    "UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?",
                    (uidnext, highestmodseq, self._make(conn)),
                )

        self._cache._run(None, work)

    # -- UIDs and flags -------------------------------------------------------------------

    def uids(self) -> list[int]:
        """Every cached UID, ascending."""

        def work(conn: sqlite3.Connection) -> list[int]:
            mailbox = self._find(conn)
            if mailbox is None:
                return []
            return _int_list(
                conn,
                "SELECT json_group_array(uid) FROM"
                " (SELECT uid FROM messages WHERE mailbox = ? ORDER BY uid)",
                mailbox,
            )

        return self._cache._run([], work)

    def set_uids(self, uids: Sequence[int], unseen: Iterable[int]) -> None:
        """The server's full UID list: rows of UIDs not in it go (with their envelopes,
        structures, parts). New UIDs get flags {} or {SEEN} by unseen; known rows keep
        their flags but SEEN, which is set or cleared by unseen. One transaction."""
        listed = ascending(uids)
        runs = runs_of(listed, RUNS_LIMIT)
        not_seen = set(ascending(unseen))

        def work(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                mailbox = self._make(conn)
                if runs is None:
                    self._set_uids_by_rows(conn, mailbox, listed)
                else:
                    self._set_uids_by_runs(conn, mailbox, runs, len(listed))
                self._set_seen(conn, mailbox, not_seen)

        self._cache._run(None, work)

    def _set_uids_by_runs(
        self, conn: sqlite3.Connection, mailbox: int, runs: list[tuple[int, int]], count: int
    ) -> None:
        """set_uids' rows, for a list of few runs: range deletes, range counts, and range
        inserts only where a run is not all there (new rows SEEN, _set_seen corrects)."""
        gaps = [(mailbox, first, last) for first, last in gaps_of(runs)]
        for table in ("messages", "envelopes", "structures", "parts"):
            conn.executemany(
                f"DELETE FROM {table} WHERE mailbox = ? AND uid BETWEEN ? AND ?",  # noqa: S608 - fixed names
                gaps,
            )
        if len(runs) > 64:  # one count may spare thousands
            cached = conn.execute(
                "SELECT count(*) FROM messages WHERE mailbox = ?", (mailbox,)
            ).fetchone()[0]
            if cached == count:
                return  # every row left is in a run, and there are as many as listed
        for first, last in runs:
            present, top = conn.execute(
                "SELECT count(*), max(uid) FROM messages WHERE mailbox = ? AND uid BETWEEN ? AND ?",
                (mailbox, first, last),
            ).fetchone()
            if present == last - first + 1:
                continue
            if present and top - first + 1 == present:
                first = top + 1  # the rows are the run's start (new mail came after)
            conn.execute(
                "WITH RECURSIVE series(uid) AS"
                " (SELECT ? UNION ALL SELECT uid + 1 FROM series WHERE uid < ?)"
                " INSERT OR IGNORE INTO messages (mailbox, uid, flags)"
                " SELECT ?, uid, ? FROM series",
                (first, last, mailbox, SEEN_BIT),
            )

    def _set_uids_by_rows(self, conn: sqlite3.Connection, mailbox: int, listed: list[int]) -> None:
        """set_uids' rows, for a list of many runs: through a temporary table of the UIDs
        (one JSON array through json_each: executemany costs three times as much)."""
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS listed (uid INTEGER PRIMARY KEY)")
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS gone (uid INTEGER PRIMARY KEY)")
        conn.execute("DELETE FROM temp.listed")
        conn.execute("DELETE FROM temp.gone")
        conn.execute("INSERT INTO temp.listed SELECT value FROM json_each(?)", (json_ints(listed),))
        conn.execute(
            "INSERT INTO temp.gone SELECT uid FROM messages m WHERE mailbox = ?"
            " AND NOT EXISTS (SELECT 1 FROM temp.listed l WHERE l.uid = m.uid)",
            (mailbox,),
        )
        for table in ("messages", "envelopes"):
            conn.execute(
                f"DELETE FROM {table} WHERE mailbox = ?"  # noqa: S608 - fixed names
                " AND uid IN (SELECT uid FROM temp.gone)",
                (mailbox,),
            )
        for table in ("structures", "parts"):  # may have rows without a message
            conn.execute(
                f"DELETE FROM {table} WHERE mailbox = ?"  # noqa: S608 - fixed names
                " AND uid NOT IN (SELECT uid FROM temp.listed)",
                (mailbox,),
            )
        conn.execute(
            "INSERT INTO messages (mailbox, uid, flags)"
            " SELECT ?, uid, ? FROM temp.listed l WHERE NOT EXISTS"
            " (SELECT 1 FROM messages m WHERE m.mailbox = ? AND m.uid = l.uid)",
            (mailbox, SEEN_BIT, mailbox),
        )
        conn.execute("DELETE FROM temp.listed")
        conn.execute("DELETE FROM temp.gone")

    def _set_seen(self, conn: sqlite3.Connection, mailbox: int, not_seen: set[int]) -> None:
        """Make exactly the rows in not_seen lack SEEN: touches only the rows that differ
        (the cached unseen ones come from the partial index, not from a million rows)."""
        cached = set(
            _int_list(
                conn,
                "SELECT json_group_array(uid) FROM messages INDEXED BY messages_unseen"
                " WHERE mailbox = ? AND flags & 1 = 0",
                mailbox,
            )
        )
        for uids, statement in (
            (
                not_seen - cached,
                "UPDATE messages SET flags = flags & ~? WHERE mailbox = ?"
                " AND uid IN (SELECT value FROM json_each(?))",
            ),
            (
                cached - not_seen,
                "UPDATE messages SET flags = flags | ? WHERE mailbox = ?"
                " AND uid IN (SELECT value FROM json_each(?))",
            ),
        ):
            if uids:
                conn.execute(
                    statement,
                    (SEEN_BIT, mailbox, json_ints(sorted(uids))),
                )

    def flags(self, uids: Sequence[int]) -> dict[int, frozenset[Flag]]:
        """The flags of those of uids that are cached."""

        def work(conn: sqlite3.Connection) -> dict[int, frozenset[Flag]]:
            mailbox = self._find(conn)
            out: dict[int, frozenset[Flag]] = {}
            if mailbox is None:
                return out
            for chunk in _chunks(uids):
                cursor = conn.execute(
                    "SELECT uid, flags FROM messages WHERE mailbox = ?"  # noqa: S608 - only "?"
                    f" AND uid IN ({_placeholders(len(chunk))})",
                    (mailbox, *chunk),
                )
                out.update((uid, bits_to_flags(bits)) for uid, bits in cursor)
            return out

        return self._cache._run({}, work)

    def unseen_count(self) -> int:
        """How many cached messages are not SEEN."""

        def work(conn: sqlite3.Connection) -> int:
            mailbox = self._find(conn)
            if mailbox is None:
                return 0
            row = conn.execute(
                "SELECT count(*) FROM messages INDEXED BY messages_unseen"
                " WHERE mailbox = ? AND flags & 1 = 0",
                (mailbox,),
            ).fetchone()
            return int(row[0])

        return self._cache._run(0, work)

    def unseen(self) -> list[int]:
        """The cached UIDs not SEEN, ascending."""

        def work(conn: sqlite3.Connection) -> list[int]:
            mailbox = self._find(conn)
            if mailbox is None:
                return []
            cursor = conn.execute(
                "SELECT uid FROM messages WHERE mailbox = ? AND flags & 1 = 0 ORDER BY uid",
                (mailbox,),
            )
            return [row[0] for row in cursor]

        return self._cache._run([], work)

    def apply_flags(self, changed: Mapping[int, frozenset[Flag]]) -> None:
        """Full new flag sets (FETCH FLAGS); rows are made for UIDs not cached yet."""

        def work(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                mailbox = self._make(conn)
                conn.executemany(
                    "INSERT INTO messages (mailbox, uid, flags) VALUES (?, ?, ?)"
                    " ON CONFLICT (mailbox, uid) DO UPDATE SET flags = excluded.flags",
                    ((mailbox, uid, flags_to_bits(flags)) for uid, flags in changed.items()),
                )

        self._cache._run(None, work)

    def apply_flag_sets(self, sets: Mapping[Flag, Iterable[int]]) -> None:
        """For each flag given, exactly these cached UIDs have it (SEARCH FLAGGED...); other
        flags are untouched, and no rows are made for UIDs not cached."""

        def work(conn: sqlite3.Connection) -> None:
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS flagged (uid INTEGER PRIMARY KEY)")
            with transaction(conn):
                mailbox = self._make(conn)
                for flag, uids in sets.items():
                    bit = flags_to_bits((flag,))
                    conn.execute("DELETE FROM temp.flagged")
                    conn.execute(
                        "INSERT OR IGNORE INTO temp.flagged SELECT value FROM json_each(?)",
                        (json_ints(uids),),
                    )
                    conn.execute(
                        "UPDATE messages SET flags = flags & ~? WHERE mailbox = ?"
                        " AND flags & ? AND uid NOT IN (SELECT uid FROM temp.flagged)",
                        (bit, mailbox, bit),
                    )
                    conn.execute(
                        "UPDATE messages SET flags = flags | ? WHERE mailbox = ?"
                        " AND NOT flags & ? AND uid IN (SELECT uid FROM temp.flagged)",
                        (bit, mailbox, bit),
                    )
                conn.execute("DELETE FROM temp.flagged")

        self._cache._run(None, work)

    def _change(
        self, conn: sqlite3.Connection, mailbox: int, uids: Iterable[int], bits: int, value: bool
    ) -> None:
        statement = (
            "UPDATE messages SET flags = flags | ? WHERE mailbox = ? AND uid = ?"
            if value
            else "UPDATE messages SET flags = flags & ~? WHERE mailbox = ? AND uid = ?"
        )
        conn.executemany(statement, ((bits, mailbox, uid) for uid in uids))

    def change_flags(self, uids: Iterable[int], flags: frozenset[Flag], value: bool) -> None:
        """Set (value True) or clear flags on the cached rows of uids."""

        def work(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                self._change(conn, self._make(conn), uids, flags_to_bits(flags), value)

        self._cache._run(None, work)

    def forget(self, uids: Iterable[int]) -> None:
        """Drop messages expunged or vanished, with everything kept of them."""

        def work(conn: sqlite3.Connection) -> None:
            gone = [(uid,) for uid in uids]
            with transaction(conn):
                mailbox = self._make(conn)
                for table in ("messages", "envelopes", "structures", "parts"):
                    conn.executemany(
                        f"DELETE FROM {table} WHERE mailbox = {mailbox} AND uid = ?",  # noqa: S608 - ints
                        gone,
                    )

        self._cache._run(None, work)

    # -- envelopes and structures -------------------------------------------------------

    def envelopes(self, uids: Sequence[int]) -> dict[int, Envelope]:
        """The cached envelopes of uids, with their rows' current flags. A blob that does
        not decode counts as not cached."""

        def work(conn: sqlite3.Connection) -> dict[int, Envelope]:
            mailbox = self._find(conn)
            out: dict[int, Envelope] = {}
            if mailbox is None:
                return out
            for chunk in _chunks(uids):
                cursor = conn.execute(
                    "SELECT e.uid, e.data, m.flags FROM envelopes e JOIN messages m"  # noqa: S608
                    " ON m.mailbox = e.mailbox AND m.uid = e.uid WHERE e.mailbox = ?"
                    f" AND e.uid IN ({_placeholders(len(chunk))})",
                    (mailbox, *chunk),
                )
                for uid, data, bits in cursor:
                    envelope = decode_envelope(data, uid=uid, flags=bits_to_flags(bits))
                    if envelope is not None:
                        out[uid] = envelope
            return out

        return self._cache._run({}, work)

    def put_envelopes(self, envelopes: Iterable[Envelope]) -> None:
        """Keep envelopes; each row's flags become envelope.flags."""

        def work(conn: sqlite3.Connection) -> None:
            rows = [(e.uid, flags_to_bits(e.flags), encode_envelope(e)) for e in envelopes]
            with transaction(conn):
                mailbox = self._make(conn)
                conn.executemany(
                    "INSERT INTO messages (mailbox, uid, flags) VALUES (?, ?, ?)"
                    " ON CONFLICT (mailbox, uid) DO UPDATE SET flags = excluded.flags",
                    ((mailbox, uid, bits) for uid, bits, _ in rows),
                )
                conn.executemany(
                    "INSERT OR REPLACE INTO envelopes (mailbox, uid, data) VALUES (?, ?, ?)",
                    ((mailbox, uid, data) for uid, _, data in rows),
                )

        self._cache._run(None, work)

    def structure(self, uid: int) -> Part | None:
        """The cached MIME structure of uid; None when not cached (or undecodable)."""

        def work(conn: sqlite3.Connection) -> Part | None:
            mailbox = self._find(conn)
            if mailbox is None:
                return None
            row = conn.execute(
                "SELECT data FROM structures WHERE mailbox = ? AND uid = ?", (mailbox, uid)
            ).fetchone()
            return None if row is None else decode_part(row[0])

        return self._cache._run(None, work)

    def put_structure(self, uid: int, part: Part) -> None:
        """Keep the MIME structure of uid (a tree too deep to decode again is not kept)."""
        try:
            data = encode_part(part)
        except (ValueError, RecursionError):
            return

        def work(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    "INSERT OR REPLACE INTO structures (mailbox, uid, data) VALUES (?, ?, ?)",
                    (self._make(conn), uid, data),
                )

        self._cache._run(None, work)

    # -- parts ----------------------------------------------------------------------------

    def part(self, uid: int, section: str) -> bytes | None:
        """A decoded part kept from reading it ("" = the whole message); None if not kept.
        Counts as a use for the eviction order."""

        def work(conn: sqlite3.Connection) -> bytes | None:
            mailbox = self._find(conn)
            if mailbox is None:
                return None
            row = conn.execute(
                "SELECT id, data FROM parts WHERE mailbox = ? AND uid = ? AND section = ?",
                (mailbox, uid, section),
            ).fetchone()
            if row is None:
                return None
            try:
                with transaction(conn):
                    conn.execute(
                        "UPDATE parts SET used = (SELECT coalesce(max(used), 0) + 1 FROM parts)"
                        " WHERE id = ?",
                        (row[0],),
                    )
            except sqlite3.OperationalError as exc:
                # Another process writing for long: the part is read all the same, only its
                # place in the eviction order is not refreshed.
                if getattr(exc, "sqlite_errorcode", 0) & 0xFF != SQLITE_BUSY:
                    raise
            return bytes(row[1])

        return self._cache._run(None, work)

    def put_part(self, uid: int, section: str, data: bytes) -> None:
        """Keep a decoded part. One larger than body_limit // 8 is not kept; the parts of
        the whole file stay within body_limit, the least recently read going first."""
        limit = self._cache.body_limit
        if len(data) > limit // 8:
            return

        def work(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    "INSERT INTO parts (mailbox, uid, section, size, used, data)"
                    " VALUES (?, ?, ?, ?, (SELECT coalesce(max(used), 0) + 1 FROM parts), ?)"
                    " ON CONFLICT (mailbox, uid, section) DO UPDATE SET"
                    " size = excluded.size, used = excluded.used, data = excluded.data",
                    (self._make(conn), uid, section, len(data), bytes(data)),
                )
                total = conn.execute("SELECT total(size) FROM parts").fetchone()[0]
                if total <= limit:
                    return
                victims: list[tuple[int]] = []
                for part_id, size in conn.execute("SELECT id, size FROM parts ORDER BY used"):
                    if total <= limit:
                        break
                    victims.append((part_id,))
                    total -= size
                conn.executemany("DELETE FROM parts WHERE id = ?", victims)

        self._cache._run(None, work)

    # -- pending flag changes -------------------------------------------------------------

    def add_pending(self, uids: Sequence[int], flags: frozenset[Flag], value: bool) -> int:
        """Keep a flag change the server has not confirmed, and apply it to the rows.
        Returns its id for confirm(); 0 when it could not be kept (cache off)."""

        listed = list(uids)  # used twice below

        def work(conn: sqlite3.Connection) -> int:
            bits = flags_to_bits(flags)
            with transaction(conn):
                mailbox = self._make(conn)
                cursor = conn.execute(
                    "INSERT INTO pending (mailbox, uids, flags, value) VALUES (?, ?, ?, ?)",
                    (mailbox, encode_uid_set(listed), bits, int(value)),
                )
                self._change(conn, mailbox, listed, bits, value)
                return int(cursor.lastrowid or 0)

        return self._cache._run(0, work)

    def pending(self) -> list[PendingChange]:
        """The changes not confirmed yet, oldest first (undecodable ones left out)."""

        def work(conn: sqlite3.Connection) -> list[PendingChange]:
            mailbox = self._find(conn)
            if mailbox is None:
                return []
            out = []
            cursor = conn.execute(
                "SELECT id, uids, flags, value FROM pending WHERE mailbox = ? ORDER BY id",
                (mailbox,),
            )
            for change_id, text, bits, value in cursor:
                uids = decode_uid_set(text) if isinstance(text, str) else None
                if uids is not None and isinstance(bits, int):
                    out.append(PendingChange(change_id, uids, bits_to_flags(bits), bool(value)))
            return out

        return self._cache._run([], work)

    def confirm(self, change_id: int) -> None:
        """The server took the change change_id: forget it."""

        def work(conn: sqlite3.Connection) -> None:
            mailbox = self._find(conn)
            if mailbox is not None:
                with transaction(conn):
                    conn.execute(
                        "DELETE FROM pending WHERE id = ? AND mailbox = ?", (change_id, mailbox)
                    )

        self._cache._run(None, work)
