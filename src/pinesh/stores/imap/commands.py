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
class Opening:
    """What one exchange told on opening a mailbox: SELECT's counts, and with them the
    UIDs of all messages and of the unseen ones (None: not asked, or refused)."""

    state: Selected
    uids: list[int] | None
    unseen: list[int] | None


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


def open_mailbox(client: ChannelIMAPClient, mailbox: str, *, read_only: bool) -> Opening:
    """SELECT (EXAMINE when read_only) the mailbox and, with ESEARCH, in the same write
    the searches a view needs first: all UIDs and the unseen ones (RFC 4731 RETURN (ALL):
    compact sets, told apart by their TAG correlators). One round trip in all.

    Without ESEARCH, SELECT goes alone (plain SEARCH replies of two pipelined commands
    cannot be told apart), and so do the searches that the server refuses here: the
    Opening has no UIDs then, and the view asks later. A refused SELECT raises as
    IMAPClient would ("select failed: ...").
    """
    imap = client.imap
    caps = client.capabilities()  # cached since the greeting: nothing on the wire
    verb = b"EXAMINE" if read_only else b"SELECT"
    line = verb + b" " + client._normalise_folder(mailbox)
    if b"CONDSTORE" in caps:
        line += b" (CONDSTORE)"  # HIGHESTMODSEQ with the counts, for a cache to resync
    lines = [line]
    if b"ESEARCH" in caps:
        lines += [b"UID SEARCH RETURN (ALL) ALL", b"UID SEARCH RETURN (ALL) UNSEEN"]
    imap.untagged_responses.clear()  # the greeting's and earlier ones: not this mailbox's
    answers, tags = _pipeline(client, lines)
    typ, text = answers[0]
    if typ != "OK":
        raise imaplib.IMAP4.error(f"select failed: {text!r}")
    untagged = imap.untagged_responses
    state = selected(untagged, text)
    imap.state = "SELECTED"  # what imaplib's select() would set
    imap.is_readonly = read_only or state.read_only
    uids = unseen = None
    replies = esearch_by_tag(untagged.pop("ESEARCH", []))
    if len(answers) == 3 and all(typ == "OK" for typ, _ in answers[1:]):
        # No reply for a tag: nothing matched (RFC 4731 sends one even then; be lenient).
        uids = esearch_result([replies.get(tags[1])])[0]
        unseen = esearch_result([replies.get(tags[2])])[0]
    for name in _SELECT_RESPONSES:
        untagged.pop(name, None)  # read now; anything else is for Connection._absorb
    return Opening(state, uids, unseen)


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
