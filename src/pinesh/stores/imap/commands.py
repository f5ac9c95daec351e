"""The IMAP commands IMAPClient's own methods do not do our way, as functions of a client:
SELECT pipelined with the searches that open a mailbox, SEARCH with our own quoting (and
ESEARCH), STORE in batches, IDLE with a deadline.

Each runs on one connection and raises what IMAPClient/imaplib raise; the caller
(Connection.run) turns that into an ImapError, reconnecting when the connection was lost.
"""

from __future__ import annotations

import imaplib
import select
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pinesh.stores.base import Flag
from pinesh.stores.imap.channel_client import ChannelIMAPClient
from pinesh.stores.imap.protocol.arguments import FLAG_NAMES, needs_utf8
from pinesh.stores.imap.protocol.responses import (
    Selected,
    esearch_by_tag,
    esearch_result,
    flags_of,
    search_result,
    selected,
)
from pinesh.stores.imap.protocol.resync import (
    MAX_MODSEQ,
    VanishedTooLarge,
    changed_flags,
    is_earlier,
    vanished,
)

STORE_BATCH = 500  # UIDs per UID STORE / UID FETCH: command lines stay short
# What SELECT answers with (imaplib files response codes under their names).
_SELECT_RESPONSES = (
    "OK",
    "FLAGS",
    "EXISTS",
    "RECENT",
    "UIDVALIDITY",
    "UIDNEXT",
    "HIGHESTMODSEQ",
    "PERMANENTFLAGS",
    "READ-WRITE",
    "READ-ONLY",
)


@dataclass(frozen=True)
class FlagChange:
    """Set (value True) or clear flags on uids."""

    uids: tuple[int, ...]
    flags: frozenset[Flag]
    value: bool


@dataclass(frozen=True)
class Known:
    """What a cache holds of a mailbox, sent with the opening to learn only what changed."""

    uidvalidity: int
    highestmodseq: int | None  # None: the cache has none (server without CONDSTORE, or first time)

    def __post_init__(self) -> None:
        # Written into the command line: only numbers IMAP can carry get there.
        if type(self.uidvalidity) is not int or not 0 < self.uidvalidity < 1 << 32:
            raise ValueError(f"not a UIDVALIDITY: {self.uidvalidity!r}")
        modseq = self.highestmodseq
        if modseq is not None and (type(modseq) is not int or not 0 <= modseq <= MAX_MODSEQ):
            raise ValueError(f"not a mod-sequence: {modseq!r}")


@dataclass(frozen=True)
class Resync:
    """What changed since Known, as the opening exchange told. Apply in this order:
    flag_sets, then changed."""

    method: str  # "qresync", "condstore" or "flag-searches"
    # Full new flags of messages changed since highestmodseq (new ones too).
    changed: dict[int, frozenset[Flag]]
    # For each flag listed: exactly these UIDs carry it (flag-searches method); {} otherwise.
    flag_sets: dict[Flag, frozenset[int]]
    # UIDs the server said are gone (QRESYNC VANISHED (EARLIER)); may be a superset of
    # what was cached.
    vanished: frozenset[int]
    highestmodseq: int | None  # to remember for next time


@dataclass(frozen=True)
class Opening:
    """What one exchange told on opening a mailbox: SELECT's counts, and with them the
    UIDs of all messages and of the unseen ones (None: not asked, or refused), and what
    changed since a cache's Known (None: no Known given, another UIDVALIDITY, or the
    server could not tell)."""

    state: Selected
    uids: list[int] | None
    unseen: list[int] | None
    resync: Resync | None = None


def _pipeline(
    client: ChannelIMAPClient, lines: list[bytes]
) -> tuple[list[tuple[str, bytes]], list[bytes]]:
    """Send command lines (no literals) in one write, then read every tagged answer:
    (OK/NO/BAD, its text) of each in order, and the tags. One wait for the server."""
    imap = client.imap
    tags = [imap._new_tag() for _ in lines]  # imaplib's primitives, as idle_until
    burst = b"".join(tag + b" " + line + b"\r\n" for tag, line in zip(tags, lines, strict=True))
    imap.send(burst)
    out = []
    for tag in tags:  # every one read, even after a refusal: the stream stays in step
        typ, data = imap._get_tagged_response(tag)
        text = data[-1] if data and isinstance(data[-1], bytes) else b""
        out.append((str(typ), text))
    return out, tags


def resync_method(caps: frozenset[bytes], known: Known | None) -> str | None:
    """How the opening learns what changed since known, with these capabilities: "qresync",
    "condstore", "flag-searches", or None (no Known, or nothing better than a cold open)."""
    if known is None:
        return None
    modseq = known.highestmodseq is not None and known.highestmodseq > 0
    if modseq and b"QRESYNC" in caps and b"ENABLE" in caps:
        return "qresync"
    if modseq and (b"CONDSTORE" in caps or b"QRESYNC" in caps):  # QRESYNC implies it
        return "condstore"
    if b"ESEARCH" in caps:
        return "flag-searches"
    return None


# The flags whose holders the flag-searches method asks for (\Seen: UNSEEN says).
FLAG_SEARCHES = (Flag.FLAGGED, Flag.DELETED, Flag.ANSWERED)


def open_mailbox(
    client: ChannelIMAPClient, mailbox: str, *, read_only: bool, known: Known | None = None
) -> Opening:
    """SELECT (EXAMINE when read_only) the mailbox and, with ESEARCH, in the same write
    the searches a view needs first: all UIDs and the unseen ones (RFC 4731 RETURN (ALL):
    compact sets, told apart by their TAG correlators). One round trip in all.

    With known (what a cache holds), the same write also asks what changed since
    (resync_method): QRESYNC's SELECT parameter (with ENABLE QRESYNC first, once per
    connection), CONDSTORE's UID FETCH CHANGEDSINCE, or searches for each flag; the
    Opening's resync says what they told. Still one round trip.

    Without ESEARCH, SELECT goes alone (plain SEARCH replies of two pipelined commands
    cannot be told apart), and so do the searches that the server refuses here: the
    Opening has no UIDs then, and the view asks later. A refused SELECT raises as
    IMAPClient would ("select failed: ...").
    """
    caps = frozenset(client.capabilities())  # cached since the greeting: nothing on the wire
    if client.qresync_refused:
        caps -= {b"QRESYNC"}
    try:
        return _open(client, mailbox, read_only, caps, known, resync_method(caps, known))
    except _QresyncRefused:
        # ENABLE QRESYNC did not take (a server that offers it but refuses it): SELECT
        # with its parameter was refused too. Once more without; a second round trip.
        client.qresync_refused = True
        caps -= {b"QRESYNC"}
        return _open(client, mailbox, read_only, caps, known, resync_method(caps, known))


class _QresyncRefused(Exception):  # noqa: N818 - a signal, not an error shown
    """SELECT (QRESYNC ...) refused after ENABLE QRESYNC did not enable it."""


def _open(
    client: ChannelIMAPClient,
    mailbox: str,
    read_only: bool,
    caps: frozenset[bytes],
    known: Known | None,
    method: str | None,
) -> Opening:
    imap = client.imap
    verb = b"EXAMINE" if read_only else b"SELECT"
    select = verb + b" " + client._normalise_folder(mailbox)
    lines: list[bytes] = []
    if method == "qresync":
        assert known is not None and known.highestmodseq is not None
        if not client.qresync_enabled:
            lines.append(b"ENABLE QRESYNC")
        select += b" (QRESYNC (%d %d))" % (known.uidvalidity, known.highestmodseq)
    elif b"CONDSTORE" in caps or method == "condstore":
        select += b" (CONDSTORE)"  # HIGHESTMODSEQ with the counts, for a cache to resync
    at = {"select": len(lines)}
    lines.append(select)
    if method == "condstore":
        assert known is not None and known.highestmodseq is not None
        at["changed"] = len(lines)
        lines.append(b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % known.highestmodseq)
    if b"ESEARCH" in caps:
        at["all"] = len(lines)
        lines += [b"UID SEARCH RETURN (ALL) ALL", b"UID SEARCH RETURN (ALL) UNSEEN"]
    if method == "flag-searches":
        at["flags"] = len(lines)
        lines += [b"UID SEARCH RETURN (ALL) " + FLAG_NAMES[f][1:].upper() for f in FLAG_SEARCHES]
    imap.untagged_responses.clear()  # the greeting's and earlier ones: not this mailbox's
    answers, tags = _pipeline(client, lines)
    untagged = imap.untagged_responses
    if lines[0] == b"ENABLE QRESYNC":
        enabled = b" ".join(d for d in untagged.pop("ENABLED", []) if isinstance(d, bytes))
        client.qresync_enabled = answers[0][0] == "OK" and b"QRESYNC" in enabled.upper().split()
    typ, text = answers[at["select"]]
    if typ != "OK":
        if method == "qresync" and not client.qresync_enabled:
            raise _QresyncRefused()
        raise imaplib.IMAP4.error(f"select failed: {text!r}")
    if method == "qresync":
        client.qresync_enabled = True  # its SELECT parameter taken: it is on
    # VANISHED (EARLIER) answers the SELECT; a plain VANISHED is an expunge during the
    # exchange (another session's), left for Connection._absorb as an EXPUNGE would be.
    told_vanished = untagged.pop("VANISHED", [])
    later = [item for item in told_vanished if not is_earlier(item)]
    if later:
        untagged["VANISHED"] = later
    state = selected(untagged, text)
    imap.state = "SELECTED"  # what imaplib's select() would set
    imap.is_readonly = read_only or state.read_only
    uids = unseen = None
    replies = esearch_by_tag(untagged.pop("ESEARCH", []))

    def searched(index: int) -> list[int] | None:
        if answers[index][0] != "OK":
            return None
        # No reply for a tag: nothing matched (RFC 4731 sends one even then; be lenient).
        return esearch_result([replies.get(tags[index])])[0]

    if "all" in at:
        uids, unseen = searched(at["all"]), searched(at["all"] + 1)
        if uids is None or unseen is None:
            uids = unseen = None
    resync = None
    if method is not None and known is not None:
        earlier = [item for item in told_vanished if is_earlier(item)]
        resync = _resync(untagged, earlier, answers, at, searched, state, known, method)
    for name in _SELECT_RESPONSES:
        untagged.pop(name, None)  # read now; anything else is for Connection._absorb
    if method in ("qresync", "condstore"):
        untagged.pop("FETCH", None)  # the changes, read by _resync
    return Opening(state, uids, unseen, resync)


def _resync(
    untagged: Mapping[str, Sequence[object]],
    earlier: Sequence[object],
    answers: list[tuple[str, bytes]],
    at: dict[str, int],
    searched: Callable[[int], list[int] | None],
    state: Selected,
    known: Known,
    method: str,
) -> Resync | None:
    """What the opening exchange told of the changes since known (see Resync)."""
    if state.uidvalidity != known.uidvalidity:
        return None  # the cache names other messages; the server ignored QRESYNC's data
    modseq = state.highestmodseq
    if method == "flag-searches":
        found = {flag: searched(at["flags"] + i) for i, flag in enumerate(FLAG_SEARCHES)}
        sets = {flag: frozenset(uids) for flag, uids in found.items() if uids is not None}
        if len(sets) != len(FLAG_SEARCHES):
            return None  # a search refused: the caller reads the flags itself
        return Resync(method, {}, sets, frozenset(), modseq)
    if modseq is None:
        return None  # [NOMODSEQ]: the mailbox keeps none, the changes cannot be told
    if method == "condstore" and answers[at["changed"]][0] != "OK":
        return None
    try:
        gone = vanished(earlier, below=state.uidnext)
    except VanishedTooLarge:
        return None  # more than a cache is worth: the caller reads the mailbox afresh
    changed = changed_flags(untagged.get("FETCH", []))
    return Resync(method, changed, {}, gone.earlier, modseq)


def synced(client: ChannelIMAPClient) -> ChannelIMAPClient:
    """client after a NOOP: SEARCH, SORT and THREAD see only the messages the server has
    told this session about, and servers (Dovecot) tell of new ones at a NOOP."""
    client.noop()
    return client


def _has_esearch(client: ChannelIMAPClient) -> bool:
    return b"ESEARCH" in client.capabilities()


def uid_search(client: ChannelIMAPClient, keys: list[bytes]) -> list[int]:
    """UID SEARCH with keys quoted by protocol.arguments.search_keys; the UIDs, ascending.

    With ESEARCH (RFC 4731) the server answers with a compact set ("1:100000"), which
    keeps opening a large mailbox cheap.
    """
    args = [b"CHARSET", b"UTF-8", *keys] if needs_utf8(keys) else keys
    # IMAPClient's search() would quote each key again; its raw command sends ours as
    # they are (8-bit ones as literals).
    if _has_esearch(client):
        data = client._raw_command_untagged(
            b"SEARCH", [b"RETURN", b"(ALL)", *args], response_name="ESEARCH"
        )
        return esearch_result(data)[0]
    data = client._raw_command_untagged(b"SEARCH", args)
    return search_result(data)


def uid_count(client: ChannelIMAPClient, keys: list[bytes]) -> int:
    """How many messages match keys (RETURN (COUNT) with ESEARCH: no UIDs sent)."""
    if _has_esearch(client):
        data = client._raw_command_untagged(
            b"SEARCH", [b"RETURN", b"(COUNT)", *keys], response_name="ESEARCH"
        )
        count = esearch_result(data)[1]
        return count if count is not None else 0
    return len(uid_search(client, keys))


def store_flags(client: ChannelIMAPClient, change: FlagChange) -> dict[int, frozenset[Flag]]:
    """UID STORE +FLAGS/-FLAGS; the flags the server reports afterwards, by UID."""
    names = [FLAG_NAMES[f] for f in sorted(change.flags, key=lambda f: f.value)]
    out: dict[int, frozenset[Flag]] = {}
    uids = list(change.uids)
    for start in range(0, len(uids), STORE_BATCH):
        batch = uids[start : start + STORE_BATCH]
        if change.value:
            reply = client.add_flags(batch, names)
        else:
            reply = client.remove_flags(batch, names)
        for uid, flags in (reply or {}).items():
            if isinstance(uid, int):
                out[uid] = flags_of(flags)
    return out


def idle_until(client: ChannelIMAPClient, deadline: float) -> None:
    """IDLE until the server reports a new message count, says BYE, or the deadline
    (time.monotonic()) passes; what it said stays with imaplib's untagged responses.

    Written on imaplib's primitives rather than IMAPClient.idle(), which fails when the
    server sends untagged responses before its "+" (RFC 2177 allows that).
    """
    imap = client.imap
    tag = imap._command("IDLE")  # imaplib's primitives (private, stable for decades)
    while imap._get_response() is not None:  # until the "+"
        if imap.tagged_commands.get(tag):
            raise imaplib.IMAP4.error(f"IDLE failed: {imap.tagged_commands.pop(tag)!r}")
    untagged = imap.untagged_responses
    while "EXISTS" not in untagged and "BYE" not in untagged:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        if not imap.reader.has_data():
            ready, _, _ = select.select([imap.sock], [], [], remaining)
            if not ready:
                break
        imap._get_response()  # one response, kept with the untagged ones
    imap.send(b"DONE\r\n")
    typ, data = imap._get_tagged_response(tag)
    if typ != "OK":
        raise imaplib.IMAP4.error(f"IDLE failed: {typ} {data!r}")
