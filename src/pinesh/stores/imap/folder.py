"""An IMAP mailbox as a Folder: its own connection (one SELECT per connection), envelopes
cached by UID, large parts streamed in chunks, flag changes that survive reconnects.

- first_look(): what opening said: SELECT and, in the same write, UID SEARCH RETURN (ALL)
  of ALL and of UNSEEN (ESEARCH), so a view starts after one round trip;
- resync(): what changed since a cache's Known (the connection's known()), asked in that
  same write (QRESYNC, CONDSTORE or flag searches);
- status(): SELECT's counts kept current from the server's untagged EXISTS/RECENT, unseen
  by UID SEARCH UNSEEN;
- envelopes(): UID FETCH of only the UIDs asked for and not cached (MessageCache); the
  cache is cleared when UIDVALIDITY changes or messages are expunged, and updated with
  the flags the server reports after each STORE (and dropped for unsolicited flag
  updates);
- fetch_part(): BODY.PEEK[section]<offset.size> in chunks of ``chunk_size``, decoded as
  they come (base64, quoted-printable), so a 50 MB attachment is never held whole;
- check(): IDLE for up to the timeout when the server offers it, else NOOP.

With a header cache (stores/cache, one MailboxCache of this mailbox) the folder reads
through it and writes to it: each opening's UIDs, unseen set and resync (what changed
since the cache's HIGHESTMODSEQ, commands.Resync) go into it, envelopes, structures and
the text read are kept there, and a read of something kept costs no command. A new
UIDVALIDITY empties it. Flag changes made while the folder was shown from the cache alone
(CacheFolder, offline) are sent at each opening (send_kept_changes).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from pinesh.stores.base import (
    Capability,
    Envelope,
    FirstLook,
    Flag,
    Folder,
    FolderStatus,
    Part,
    SearchQuery,
    SortKey,
    Store,
    StoreError,
    ThreadNode,
)
from pinesh.stores.headers import header_end, message_ids, parse_header_block
from pinesh.stores.imap.channel_client import ChannelIMAPClient
from pinesh.stores.imap.commands import (
    STORE_BATCH,
    FlagChange,
    Known,
    Opening,
    Resync,
    idle_until,
    store_flags,
    synced,
    uid_count,
    uid_search,
)
from pinesh.stores.imap.connection import Connector
from pinesh.stores.imap.errors import Failure, ImapError, ImapSyntaxError
from pinesh.stores.imap.message_cache import MessageCache
from pinesh.stores.imap.protocol.arguments import (
    FLAG_NAMES,
    search_keys,
    search_string,
    sort_criteria,
    uid_set,
)
from pinesh.stores.imap.protocol.bodystructure import find_part, part_tree
from pinesh.stores.imap.protocol.envelope import ENVELOPE_ITEMS, envelope_of
from pinesh.stores.imap.protocol.responses import appenduid, body_section, flags_of, threads_of
from pinesh.stores.mime import IdentityDecoder, StreamDecoder, decoder_for
from pinesh.stores.ordering import internal_time, sort_uids, thread_envelopes
from pinesh.textsafe import safe_line
from pinesh.transport.channel import Channel

if TYPE_CHECKING:  # sqlite3 is imported only when a cache is opened
    from pinesh.stores.cache.header_cache import MailboxCache


KEEP_PART_MAX = 8 * 2**20  # bytes of one part copied for the header cache while streaming


class ImapFolder(Folder):
    """One selected IMAP mailbox on a connection of its own."""

    def __init__(
        self,
        name: str,
        connector: Connector,
        *,
        read_only: bool,
        chunk_size: int,
        cache: MailboxCache | None = None,
    ) -> None:
        """Open mailbox name on a new connection from connector (its server's); cache:
        this mailbox's header cache, read through and kept current."""
        self.name = name
        self._connector = connector
        self._chunk_size = chunk_size
        self._connection = connector(name, read_only=read_only)
        self._cache = MessageCache()
        self._kept = cache
        # Flags in the header cache are current as of the opening; once the server tells
        # of changes mid-session, kept envelopes get their flags asked again (_flags_fresh).
        self._flags_current = True
        self._flags_fresh: set[int] = set()
        self._connection.on_invalidated = self._invalidated
        self._connection.on_messages_changed = self._messages_changed
        self._connection.on_vanished = self._vanished
        if cache is not None:
            self._connection.known = self._known
            self._connection.on_selected = self._selected
        caps = self._connection.capabilities()
        # UIDs from here on are new to check(); without UIDNEXT, one past the last UID.
        mark = self._connection.uidnext
        if mark is None:
            opening = self._connection.opening
            known = opening.uids if opening is not None else None
            mark = max(self.uids() if known is None else known, default=0) + 1
        self._check_mark = mark
        self.capabilities = Capability.APPEND | Capability.SERVER_SEARCH | Capability.CREATE
        if not self._connection.read_only:
            self.capabilities |= Capability.EXPUNGE
        if "SORT" in caps:
            self.capabilities |= Capability.SERVER_SORT
        if "IDLE" in caps:
            self.capabilities |= Capability.IDLE
        if cache is not None and not self._connection.read_only:
            self.send_kept_changes()

    # ---- the header cache

    @property
    def cache_problem(self) -> str | None:
        """Why this folder's header cache went off while in use (safe to show), if it did."""
        return self._kept.problem if self._kept is not None else None

    def _known(self) -> Known | None:
        assert self._kept is not None
        state = self._kept.state()
        return None if state is None else Known(state.uidvalidity, state.highestmodseq)

    def _selected(self, opening: Opening) -> None:
        """Bring the header cache up to what this opening told (with the lock held)."""
        kept = self._kept
        assert kept is not None
        state, told = kept.state(), opening.state
        if state is None or state.uidvalidity != told.uidvalidity:
            kept.reset(told.uidvalidity)  # other messages now: pending changes go too
        resync = opening.resync
        if resync is not None:
            kept.apply_flag_sets(resync.flag_sets)
            kept.forget(resync.vanished)
            kept.apply_flags(resync.changed)
        if opening.uids is not None and opening.unseen is not None:
            kept.set_uids(opening.uids, opening.unseen)
        # The modseq is kept only when every change up to it is in the cache: the resync
        # told them, or nothing was cached before (each envelope comes with its flags).
        modseq = told.highestmodseq if resync is not None or state is None else None
        kept.set_state(uidnext=told.uidnext, highestmodseq=modseq)
        self._flags_current, self._flags_fresh = True, set()

    def _vanished(self, uids: frozenset[int]) -> None:
        self._cache.forget(uids)
        if self._kept is not None:
            self._kept.forget(uids)

    def _invalidated(self) -> None:
        # The header cache was emptied already, in _selected (it saw the new UIDVALIDITY).
        self._cache.clear()

    def _messages_changed(self) -> None:
        self._cache.clear()
        self._flags_current, self._flags_fresh = False, set()

    def send_kept_changes(self) -> int:
        """Send the flag changes kept in the header cache while the folder was read from
        it alone; how many. Each leaves the cache once the server has it (or refused it)."""
        if self._kept is None:
            return 0
        sent = 0
        for change in self._kept.pending():
            try:
                self.set_flags(change.uids, change.flags, change.value)
            except StoreError as exc:
                if not isinstance(exc, ImapError) or exc.failure not in (
                    Failure.REFUSED,
                    Failure.UNSUPPORTED,
                ):
                    raise  # kept: sent at the next opening
            self._kept.confirm(change.id)
            sent += 1
        return sent

    def _from_kept(self, uids: list[int]) -> dict[int, Envelope]:
        """The envelopes of uids in the header cache, with current flags (asked of the
        server, one command, when it told of changes since the opening)."""
        if self._kept is None or not uids:
            return {}
        found = self._kept.envelopes(uids)
        stale = [u for u in found if not self._flags_current and u not in self._flags_fresh]
        if stale:
            reply = self._connection.fetch("reading flags", stale, ["FLAGS"])
            try:
                now = {uid: flags_of(item.get(b"FLAGS")) for uid, item in reply.items()}
            except ImapSyntaxError as exc:
                raise self._broken("reading flags", exc) from exc
            self._kept.apply_flags(now)
            for uid in stale:
                if uid in now:
                    found[uid] = replace(found[uid], flags=now[uid])
                else:
                    del found[uid]  # gone meanwhile: the server will say so
            self._flags_fresh.update(now)
        for envelope in found.values():
            self._cache.remember(envelope)
        return found

    # ---- what callers may look at

    @property
    def read_only(self) -> bool:
        return self._connection.read_only

    @property
    def reconnects(self) -> int:
        """How many times the connection was opened again after it was lost."""
        return self._connection.reconnects

    @property
    def channel(self) -> Channel | None:
        """The current channel (for the status line: channel.describe()), None when down."""
        return self._connection.channel

    def _broken(self, what: str, exc: Exception) -> StoreError:
        return self._connection.broken(what, safe_line(str(exc)))

    # ---- reading

    def status(self) -> FolderStatus:
        def op(client: ChannelIMAPClient) -> int:
            client.noop()
            return uid_count(client, [b"UNSEEN"])

        unseen = self._connection.run("reading the folder's status", op)
        connection = self._connection
        if connection.uidnext_stale and connection.uidnext is not None:
            reply = connection.run(
                "reading UIDNEXT", lambda c: c.folder_status(self.name, ["UIDNEXT"])
            )
            found = reply.get(b"UIDNEXT") if isinstance(reply, dict) else None
            if isinstance(found, int):
                connection.uidnext = found
                connection.uidnext_stale = False
        assert connection.uidvalidity is not None
        return FolderStatus(
            name=self.name,
            count=connection.exists,
            recent=connection.recent,
            unseen=unseen,
            uidvalidity=connection.uidvalidity,
            uidnext=connection.uidnext,
            read_only=connection.read_only,
        )

    def first_look(self) -> FirstLook | None:
        """SELECT's counts and the searches sent with it (commands.open_mailbox), once;
        None after a change was seen, or without ESEARCH (the unseen were not asked)."""
        connection = self._connection
        opening, connection.opening = connection.opening, None
        if opening is None or opening.uids is None or opening.unseen is None:
            return None
        state = opening.state
        status = FolderStatus(
            name=self.name,
            count=state.exists,
            recent=state.recent,
            unseen=len(opening.unseen),
            uidvalidity=state.uidvalidity,
            uidnext=state.uidnext,
            read_only=connection.read_only,
        )
        return FirstLook(status, tuple(opening.uids), tuple(opening.unseen))

    def resync(self) -> Resync | None:
        """What changed since the connection's known() said, as the opening exchange told
        (commands.open_mailbox), once; None without a Known, after a UIDVALIDITY change
        or when the server could not tell. A reconnect brings a new one."""
        connection = self._connection
        resync, connection.resync = connection.resync, None
        return resync

    def uids(self) -> list[int]:
        return self._connection.run("listing messages", lambda c: uid_search(synced(c), [b"ALL"]))

    def envelopes(self, uids: Sequence[int]) -> list[Envelope]:
        wanted = list(dict.fromkeys(u for u in uids if isinstance(u, int) and u > 0))
        found = self._cache.envelopes(wanted)
        found.update(self._from_kept([u for u in wanted if u not in found]))
        missing = [u for u in wanted if u not in found]
        for start in range(0, len(missing), STORE_BATCH):
            batch = missing[start : start + STORE_BATCH]
            reply = self._connection.fetch("reading envelopes", batch, ENVELOPE_ITEMS)
            for uid, item in reply.items():
                try:
                    envelope = envelope_of(uid, item)
                except ImapSyntaxError as exc:
                    raise self._broken("reading envelopes", exc) from exc
                self._cache.remember(envelope)
                found[uid] = envelope
            if self._kept is not None:
                self._kept.put_envelopes(found[u] for u in batch if u in found)
                self._flags_fresh.update(batch)
        self._cache.touch(wanted)
        return [found[u] for u in wanted if u in found]

    def sort(self, key: SortKey, reverse: bool = False) -> list[int]:
        if "SORT" in self._connection.capabilities():
            criteria = sort_criteria(key, reverse)
            return self._connection.run(
                "sorting", lambda c: [int(u) for u in synced(c).sort(criteria)]
            )
        return sort_uids(self.envelopes(self.uids()), key, reverse, arrival=internal_time)

    def thread(self) -> list[ThreadNode]:
        if "THREAD=REFERENCES" in self._connection.capabilities():
            parsed = self._connection.run("threading", lambda c: synced(c).thread("REFERENCES"))
            try:
                return threads_of(parsed)
            except ImapSyntaxError as exc:
                raise self._broken("threading", exc) from exc
        return thread_envelopes(self.envelopes(self.uids()))

    def structure(self, uid: int) -> Part:
        cached = self._cache.structure(uid)
        if cached is None and self._kept is not None:
            cached = self._kept.structure(uid)
        if cached is not None:
            return cached
        reply = self._connection.fetch("reading the message structure", [uid], ["BODYSTRUCTURE"])
        item = reply.get(uid)
        if item is None:
            raise self._gone(uid)
        try:
            part = part_tree(item.get(b"BODYSTRUCTURE"))
        except ImapSyntaxError as exc:
            raise self._broken("reading the message structure", exc) from exc
        self._cache.remember_structure(uid, part)
        if self._kept is not None:
            self._kept.put_structure(uid, part)
        return part

    def _gone(self, uid: int) -> StoreError:
        return StoreError(
            f"{self._connection.where}: message UID {uid} is not there (any more)",
            hint="another client may have deleted it; the list is read again",
        )

    def _fetch_chunk(self, uid: int, section: str, offset: int) -> bytes:
        size = self._chunk_size
        item_name = f"BODY.PEEK[{section}]<{offset}.{size}>"
        reply = self._connection.fetch("reading a message", [uid], [item_name])
        item = reply.get(uid)
        if item is None:
            raise self._gone(uid)
        try:
            chunk = body_section(item, uid)
        except ImapSyntaxError as exc:
            raise self._broken("reading a message", exc) from exc
        if len(chunk) > size:
            raise self._broken("reading a message", ImapSyntaxError("a chunk larger than asked"))
        return chunk

    def _stream(self, uid: int, section: str, decoder: StreamDecoder) -> Iterator[bytes]:
        kept = self._kept
        if kept is not None:
            data = kept.part(uid, section)
            if data is not None:
                yield data
                return
        copy: bytearray | None = bytearray() if kept is not None else None
        for out in self._stream_server(uid, section, decoder):
            if copy is not None:
                copy += out
                if len(copy) > KEEP_PART_MAX:
                    copy = None  # too big to keep: header_cache would refuse it anyway
            yield out
        if kept is not None and copy is not None:
            kept.put_part(uid, section, bytes(copy))

    def _stream_server(self, uid: int, section: str, decoder: StreamDecoder) -> Iterator[bytes]:
        # Each chunk is one whole UID FETCH under the connection's lock (_fetch_chunk: run());
        # the lock is free while this generator waits for its reader between chunks, so
        # a slow reader holds no connection, and other threads' commands go in between.
        offset = 0
        validity = self._connection.uidvalidity
        while True:
            chunk = self._fetch_chunk(uid, section, offset)
            if self._connection.uidvalidity != validity:
                raise StoreError(f"{self._connection.where} changed on the server while reading")
            offset += len(chunk)
            out = decoder.feed(chunk)
            if out:
                yield out
            if len(chunk) < self._chunk_size:
                break
        tail = decoder.finish()
        if tail:
            yield tail

    def fetch_part(self, uid: int, part_id: str) -> Iterator[bytes]:
        if part_id == "":
            return self._stream(uid, "", IdentityDecoder())
        part = find_part(self.structure(uid), part_id)
        if part is None:
            raise StoreError(
                f"{self._connection.where}: message UID {uid} has no part {safe_line(part_id)}"
            )
        leaf = not part.children and not part.content_type.startswith("multipart/")
        decoder = decoder_for(part.encoding) if leaf else IdentityDecoder()
        return self._stream(uid, part_id, decoder)

    def fetch_message(self, uid: int) -> bytes:
        return b"".join(self._stream(uid, "", IdentityDecoder()))

    def search(self, query: SearchQuery) -> list[int]:
        keys = search_keys(query)
        return self._connection.run("searching", lambda c: uid_search(synced(c), keys))

    # ---- changing

    def _writable(self, what: str) -> None:
        if self._connection.read_only:
            raise StoreError(
                f"{self._connection.where} is open read-only: cannot {what}",
                hint="open it again without read-only",
            )

    def set_flags(self, uids: Sequence[int], flags: frozenset[Flag], value: bool) -> None:
        targets = tuple(dict.fromkeys(u for u in uids if u > 0))
        if not targets or not flags:
            return
        self._writable("change flags")
        change = FlagChange(targets, frozenset(flags), value)
        connection = self._connection
        connection.journal.add(change)
        # Show the change at once; the server's answer corrects it.
        self._cache.change_flags(targets, flags, value)
        try:
            confirmed = connection.run("changing flags", lambda c: store_flags(c, change))
        except StoreError as exc:
            failure = exc.failure if isinstance(exc, ImapError) else Failure.LOST
            if failure in (Failure.REFUSED, Failure.UNSUPPORTED):
                connection.journal.confirm(change)  # it will never succeed: do not replay it
                raise
            raise StoreError(
                exc.message, hint="the change is kept and sent when the connection is back"
            ) from exc
        connection.journal.confirm(change)
        self._cache.set_flags(confirmed)
        if self._kept is not None:
            self._kept.apply_flags(confirmed)

    def append(
        self, message: bytes, flags: frozenset[Flag] = frozenset(), date: datetime | None = None
    ) -> int | None:
        if b"\0" in message:
            raise StoreError(
                f"{self._connection.where}: the message holds a NUL byte; IMAP cannot take it"
            )
        names = [FLAG_NAMES[f].decode() for f in sorted(flags, key=lambda f: f.value)]
        floor = self._connection.uidnext or 1

        def op(client: ChannelIMAPClient) -> object:
            return client.append(self.name, message, names, date)

        try:
            reply = self._connection.run("saving a message", op, retry=False)
        except ImapError as exc:
            if exc.failure is not Failure.LOST:
                raise
            # Did the server take it before the connection went? Look for it, so that a
            # retry does not save it twice.
            ids = message_ids(
                str(parse_header_block(message[: header_end(message)]).get("Message-ID") or "")
            )
            if not ids:
                raise StoreError(
                    f"{exc.message}; the message may or may not have been saved",
                    hint="check the folder before saving it again",
                ) from exc
            keys = [b"UID", f"{floor}:*".encode(), b"HEADER", b"Message-ID", search_string(ids[0])]
            landed = [
                u
                for u in self._connection.run(
                    "looking for the saved message", lambda c: uid_search(c, keys)
                )
                if u >= floor
            ]
            if landed:
                return max(landed)
            reply = self._connection.run("saving a message", op, retry=False)
        found = appenduid(reply)
        if found is None or found[0] != self._connection.uidvalidity:
            return None
        # Later appends look for their Message-ID only above this one (see above).
        self._connection.uidnext = max(self._connection.uidnext or 0, found[1] + 1)
        return found[1]

    def _expunge_uids(self, client: ChannelIMAPClient, uids: list[int]) -> None:
        if "UIDPLUS" in self._connection.capabilities():
            client.uid_expunge(uid_set(uids))
        else:
            client.expunge()  # without UIDPLUS, every \\Deleted message goes

    def expunge(self) -> list[int]:
        self._writable("expunge")

        searched: list[int] = []  # what each try found flagged, over both tries

        def op(client: ChannelIMAPClient) -> list[int]:
            deleted = uid_search(client, [b"DELETED"])
            searched.extend(deleted)
            if deleted:
                self._expunge_uids(client, deleted)
            return deleted

        gone = set(self._connection.run("expunging", op))
        # A first try may have expunged before its reply was lost: the retry then finds
        # those no more. They went too: ask which of them are still there.
        earlier = set(searched) - gone
        if earlier:
            keys = [b"UID", uid_set(earlier).encode()]
            still = self._connection.run("expunging", lambda c: uid_search(c, keys))
            gone |= earlier - set(still)
        removed = sorted(gone)
        self._vanished(frozenset(removed))
        return removed

    def _same_server(self, dest: Folder) -> bool:
        return isinstance(dest, ImapFolder) and dest._connector is self._connector

    def copy_to(self, uids: Sequence[int], dest: Folder) -> None:
        wanted = [u for u in uids if u > 0]
        if not wanted:
            return
        if not self._same_server(dest):
            super().copy_to(wanted, dest)
            return
        target = dest.name
        self._connection.run("copying messages", lambda c: c.copy(uid_set(wanted), target))

    def copy_into(self, uids: Sequence[int], store: Store, name: str) -> bool:
        """UID COPY to mailbox name of the same server, without a connection (and SELECT)
        of its own; a mailbox not there yet ([TRYCREATE], RFC 3501 6.4.7) is created."""
        if getattr(store, "connector", None) is not self._connector:
            return False
        wanted = [u for u in uids if u > 0]
        if not wanted:
            return True

        def copy(client: ChannelIMAPClient) -> object:
            return client.copy(uid_set(wanted), name)

        try:
            self._connection.run("copying messages", copy)
        except ImapError as exc:
            if exc.failure is not Failure.REFUSED or "TRYCREATE" not in exc.message.upper():
                raise
            store.create(name)
            self._connection.run("copying messages", copy)
        return True

    def move_to(self, uids: Sequence[int], dest: Folder) -> None:
        wanted = [u for u in uids if u > 0]
        if not wanted:
            return
        self._writable("move messages out")
        if self._same_server(dest) and "MOVE" in self._connection.capabilities():
            target = dest.name
            # Safe to repeat: messages already moved are no longer here to move again.
            self._connection.run("moving messages", lambda c: c.move(uid_set(wanted), target))
        else:
            self.copy_to(wanted, dest)
            self.set_flags(wanted, frozenset({Flag.DELETED}), True)
            self._connection.run("expunging", lambda c: self._expunge_uids(c, wanted))
        self._vanished(frozenset(wanted))

    # ---- new mail

    def check(self, timeout: float = 0.0) -> bool:
        connection = self._connection
        if timeout > 0 and "IDLE" in self._connection.capabilities():
            # One deadline for both tries: a reconnect does not start the wait again.
            deadline = time.monotonic() + timeout
            connection.run("waiting for new mail", lambda c: idle_until(c, deadline))
        else:
            connection.run("checking for new mail", lambda c: c.noop())
        if not connection.changed:
            return False
        connection.changed = False
        mark = self._check_mark
        keys = [b"UID", f"{mark}:*".encode()]
        found = connection.run("checking for new mail", lambda c: uid_search(c, keys))
        fresh = [u for u in found if u >= mark]
        if not fresh:
            return False
        self._check_mark = max(fresh) + 1
        return True

    def close(self) -> None:
        connection = self._connection
        pending = len(connection.journal.pending())
        problem: StoreError | None = None
        if pending:
            try:
                connection.run("saving flag changes", lambda c: None)
            except StoreError as exc:
                problem = exc
        connection.close()
        if problem is not None and connection.journal.pending():
            raise StoreError(
                f"{connection.where}: {pending} flag change(s) could not be saved: "
                f"{problem.message}",
                hint="open the folder again and redo them",
            )
