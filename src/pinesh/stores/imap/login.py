"""Starting IMAP on a fresh Channel: IMAPClient started, logged in unless preauthenticated.

A password is sent only over a channel that allows it (ssh or TLS), never in clear; it
is asked for (the callback) at each login and never kept.
"""

from __future__ import annotations

from collections.abc import Callable

from pinesh.stores.base import StoreError
from pinesh.stores.imap.channel_client import ChannelIMAPClient
from pinesh.stores.imap.errors import Failure, classify, server_words
from pinesh.textsafe import safe_line
from pinesh.transport.channel import Channel
from pinesh.transport.service import Service


def _capabilities(client: ChannelIMAPClient) -> frozenset[str]:
    raw = client.capabilities()
    return frozenset(
        c.decode("ascii", "replace").upper() if isinstance(c, bytes) else str(c).upper()
        for c in raw
    )


def _check_secret(what: str, value: str, label: str) -> None:
    if any(c in value for c in "\r\n\0"):
        raise StoreError(f"{label}: the {what} holds a line break or NUL; it cannot be sent")


def _login(
    client: ChannelIMAPClient,
    channel: Channel,
    label: str,
    user: str | None,
    password: Callable[[], str] | None,
) -> None:
    if not channel.allows_password:
        raise StoreError(
            f"{label}: refusing to send a password over an unencrypted connection "
            f"({safe_line(channel.describe())})",
            hint="reach the server over ssh, TLS or STARTTLS",
        )
    if user is None or password is None:
        raise StoreError(
            f"{label}: the server asks for a login, and no user or password is set",
            hint="set the user in the server name ({host/user=NAME}) or use an ssh route",
        )
    caps = _capabilities(client)
    if "LOGINDISABLED" in caps and "AUTH=PLAIN" not in caps:
        raise StoreError(f"{label}: the server allows no password login on this connection")
    _check_secret("user name", user, label)
    secret = password()
    _check_secret("password", secret, label)
    if "AUTH=PLAIN" in caps:
        # SASL PLAIN is base64: any UTF-8 password and user name go through unquoted.
        client.plain_login(user, secret)
    elif user.isascii() and secret.isascii():
        quoted = '"' + user.replace("\\", "\\\\").replace('"', '\\"') + '"'
        client.login(quoted, secret)  # imaplib quotes the password, not the user name
    else:
        raise StoreError(
            f"{label}: the server offers only LOGIN, which cannot carry non-ASCII user "
            "names or passwords"
        )
    # Capabilities may change after a login: ask again.
    client._cached_capabilities = None  # IMAPClient's (private) cache


def start_client(
    channel: Channel,
    *,
    label: str,
    user: str | None,
    password: Callable[[], str] | None,
    timeout: float | None,
    max_literal: int,
    max_untagged: int,
) -> tuple[ChannelIMAPClient, frozenset[str]]:
    """IMAP on a fresh channel, ready for SELECT, and what the server can do (its
    capabilities, upper case); raise StoreError saying what failed (the channel closed)."""
    if channel.service is not Service.IMAP:
        channel.close()
        raise StoreError(f"{label}: the channel is for {channel.service.value}, not IMAP")
    try:
        client = ChannelIMAPClient(
            channel, timeout=timeout, max_literal=max_literal, max_untagged=max_untagged
        )
    except Exception as exc:
        channel.close()
        if classify(exc) is None:
            raise
        raise StoreError(
            f"{label}: the IMAP session did not start: {server_words(exc)}",
            hint="the server's greeting or CAPABILITY reply was not usable",
        ) from exc
    try:
        if channel.preauthenticated:
            # imaplib asked CAPABILITY while connecting; reuse it rather than ask again.
            client._cached_capabilities = tuple(  # IMAPClient's (private) cache
                c.encode("ascii", "replace") for c in client.imap.capabilities
            )
        else:
            _login(client, channel, label, user, password)
        capabilities = _capabilities(client)
    except StoreError:
        channel.close()
        raise
    except Exception as exc:
        channel.close()
        kind = classify(exc)
        if kind is None:
            raise
        what = "login refused" if kind is Failure.REFUSED else "login failed"
        raise StoreError(f"{label}: {what}: {server_words(exc)}") from exc
    return client, capabilities
