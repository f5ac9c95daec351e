"""The header cache's SQLite file: its schema, its connection's settings, transactions,
and which errors mean the file itself has gone bad."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

SCHEMA_VERSION = 1  # PRAGMA user_version; a file with another is moved aside
BUSY_TIMEOUT_MS = 2000
SQLITE_BUSY = 5
SQLITE_CORRUPT = 11
SQLITE_NOTADB = 26

# Names are BLOBs of UTF-8 (surrogatepass): exact for any str a server's name decodes to,
# NUL and lone surrogates included. They never become part of a path.
# Envelopes, structures and parts are rowid tables: their rows are too big for WITHOUT
# ROWID (whose interior pages would hold whole rows). Envelopes always have a messages
# row (put_envelopes makes one); structures and parts may not.
# connect() splits this at every ";" (executescript would commit its transaction): no
# ";" inside a statement or a comment.
SCHEMA = f"""
CREATE TABLE mailboxes (
    id INTEGER PRIMARY KEY,
    name BLOB NOT NULL UNIQUE,
    uidvalidity INTEGER NOT NULL,
    uidnext INTEGER,
    highestmodseq INTEGER
);
CREATE TABLE messages (
    mailbox INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    flags INTEGER NOT NULL,
    PRIMARY KEY (mailbox, uid)
) WITHOUT ROWID;
-- "flags & 1 = 0" (1: SEEN_BIT) exactly as the queries say it, or SQLite will not use it,
-- and flags in it too, or SQLite looks each row up in the table to test that again
CREATE INDEX messages_unseen ON messages (mailbox, uid, flags) WHERE flags & 1 = 0;
CREATE TABLE envelopes (
    mailbox INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (mailbox, uid)
);
CREATE TABLE structures (
    mailbox INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (mailbox, uid)
);
CREATE TABLE parts (
    id INTEGER PRIMARY KEY,
    mailbox INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    section TEXT NOT NULL,
    size INTEGER NOT NULL,
    used INTEGER NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (mailbox, uid, section)
);
CREATE INDEX parts_used ON parts (used, size);
CREATE TABLE pending (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    mailbox INTEGER NOT NULL,
    uids TEXT NOT NULL,
    flags INTEGER NOT NULL,
    value INTEGER NOT NULL
);
PRAGMA user_version = {SCHEMA_VERSION};
"""


class ForeignFileError(Exception):
    """The file is SQLite but not a pinesh cache of this schema version."""


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    # IMMEDIATE: take the write lock at BEGIN, where busy_timeout waits for it; a deferred
    # transaction that upgrades later fails at once with SQLITE_BUSY in WAL mode.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def connect(uri: str) -> sqlite3.Connection:
    """A connection to the checked file at uri, its schema made or verified.

    Raises ForeignFileError, or sqlite3.Error (DatabaseError: the file is no database).
    """
    conn = sqlite3.connect(
        uri,
        uri=True,
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,  # autocommit; writes use _transaction
        check_same_thread=False,  # HeaderCache's lock serialises every use
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # NOTADB shows here
        if version not in (0, SCHEMA_VERSION):
            raise ForeignFileError(f"schema version {version}, not {SCHEMA_VERSION}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA journal_size_limit = 33554432")  # a WAL shrinks back to 32 MiB
        if version == 0:
            with transaction(conn):  # another process may be making it too: ask again
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                objects = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
                if version == 0 and objects == 0:
                    for statement in SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                elif version != SCHEMA_VERSION:
                    raise ForeignFileError("tables of another program")
        conn.execute("SELECT count(*) FROM mailboxes").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def is_corruption(exc: sqlite3.Error) -> bool:
    """Whether exc says the file is damaged or no database (not: busy, full, read-only)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return True
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError)
