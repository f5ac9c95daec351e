"""The IMAP commands IMAPClient's own methods do not do our way, as functions of a client:
SEARCH with our own quoting (and ESEARCH), STORE in batches, IDLE with a deadline.

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
from pinesh.stores.imap.protocol.responses import esearch_result, flags_of, search_result

STORE_BATCH = 500  # UIDs per UID STORE / UID FETCH: command lines stay short


@dataclass(frozen=True)
class FlagChange:
    """Set (value True) or clear flags on uids."""

    uids: tuple[int, ...]
    flags: frozenset[Flag]
    value: bool


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
