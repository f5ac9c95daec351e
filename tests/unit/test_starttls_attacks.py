"""STARTTLS and PREAUTH against an attacker on the path, for IMAP, SMTP and NNTP.

The test classes of Poddebniak et al., "Why TLS is better without STARTTLS" (USENIX
Security 2021), each against an attacker server (starttls_fakes) on loopback, reached
through pinesh's real connection code: open_route over a direct STARTTLS route, or over
an ssh channel whose last hop is cleartext (a relay stands in for ssh -W), then the
protocol's own client (IMAP start_client, SmtpSender, NntpClient) logging in as jane.

Every case either aborts naming the cause, or goes on over TLS with nothing from before
TLS kept; in no case does the password cross in cleartext.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import cast

import pytest

from pinesh.config.server_spec import ServerSpec
from pinesh.senders.base import Outgoing, SendError, SmtpEnvelope
from pinesh.senders.smtp import SmtpSender
from pinesh.stores.base import StoreError
from pinesh.stores.imap.channel_client import MAX_LITERAL, MAX_UNTAGGED
from pinesh.stores.imap.login import start_client
from pinesh.stores.nntp.client import NntpClient
from pinesh.transport.channel import Channel
from pinesh.transport.masters import MasterPool
from pinesh.transport.opener import RouteError, open_route
from pinesh.transport.routes import (
    DirectRoute,
    Route,
    Security,
    SshChannelRoute,
    SshTarget,
    TlsPolicy,
)
from pinesh.transport.service import Service

from .starttls_fakes import (
    ALERT_TEXT,
    SECRET,
    TLS_NAME,
    USER,
    FakeServer,
    fake_server,
    make_certificate,
    password_forms,
    relay_masters,
)

PROTOCOLS = ("imap", "smtp", "nntp")
ROUTES = ("direct", "ssh-channel")
# The ssh channel of a server named with Pine's /tls: STARTTLS over the last hop required.
REQUIRED = "ssh-channel-tls"
MESSAGE = Outgoing(
    SmtpEnvelope("jane@example.org", ("friend@example.net",)),
    b"From: jane@example.org\r\nSubject: hi\r\n\r\nhello\r\n",
)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@dataclass
class Outcome:
    """What pinesh did against one attacker."""

    server: FakeServer
    error: str | None = None  # the error pinesh raised, as the user reads it
    asked: int = 0  # times the password was asked for (it is asked just before sending)
    channel: Channel | None = None
    capabilities: frozenset[str] = frozenset()  # IMAP, after login
    untagged: dict[str, object] = field(default_factory=dict)  # IMAP, after login
    posting_allowed: bool | None = None  # NNTP, after MODE READER

    def password_in_cleartext(self) -> bool:
        said = self.server.cleartext()
        return any(form in said for form in password_forms())


Opener = Callable[[], Channel]
Asker = Callable[[], str]


def _route(kind: str, port: int, ca_file: Path) -> Route:
    policy = TlsPolicy(ca_file=str(ca_file))
    if kind == "direct":
        return DirectRoute("127.0.0.1", port, Security.STARTTLS, policy)
    # The relay ignores the name: TLS_NAME is what the certificate is checked against.
    route = SshChannelRoute(SshTarget("shell.example.org"), TLS_NAME, port, tls=policy)
    return replace(route, require_tls=True) if kind == REQUIRED else route


def _opener(kind: str, service: Service, server: FakeServer, cert: Path) -> Callable[[], Channel]:
    route = _route(kind, server.port, cert)

    def open_channel() -> Channel:
        return open_route(
            route,
            service,
            server=ServerSpec(TLS_NAME),
            deadline=time.monotonic() + 5,
            masters=cast(MasterPool, relay_masters(server.port)),
        )

    return open_channel


def _run_imap(outcome: Outcome, open_channel: Opener, ask: Asker) -> None:
    channel = outcome.channel = open_channel()
    client, outcome.capabilities = start_client(
        channel,
        label=TLS_NAME,
        user=USER,
        password=ask,
        timeout=5,
        max_literal=MAX_LITERAL,
        max_untagged=MAX_UNTAGGED,
    )
    outcome.untagged = dict(client.imap.untagged_responses)
    client.logout()


def _run_smtp(outcome: Outcome, open_channel: Opener, ask: Asker) -> None:
    def keep() -> Channel:
        channel = outcome.channel = open_channel()
        return channel

    SmtpSender(keep, user=USER, password=ask, helo="client.example.org", timeout=5).send(MESSAGE)


def _run_nntp(outcome: Outcome, open_channel: Opener, ask: Asker) -> None:
    channel = outcome.channel = open_channel()
    client = NntpClient(channel, label=TLS_NAME, user=USER, password=ask, timeout=5)
    try:
        client.start()
        outcome.posting_allowed = client.posting_allowed
        client.command("QUIT", login=False)
    finally:
        channel.close()


RUNNERS = {"imap": _run_imap, "smtp": _run_smtp, "nntp": _run_nntp}
SERVICES = {"imap": Service.IMAP, "smtp": Service.SMTP, "nntp": Service.NNTP}


@pytest.fixture
def attack(certificate: tuple[Path, Path]) -> Iterator[Callable[[str, str, str], Outcome]]:
    """attack(protocol, route kind, class): run pinesh against that attacker."""
    servers: list[FakeServer] = []

    def run(protocol: str, kind: str, letter: str) -> Outcome:
        cert, key = certificate
        with fake_server(protocol, letter, cert, key) as server:
            servers.append(server)
            outcome = Outcome(server)

            def ask() -> str:
                outcome.asked += 1
                return SECRET

            open_channel = _opener(kind, SERVICES[protocol], server, cert)
            try:
                RUNNERS[protocol](outcome, open_channel, ask)
            except (RouteError, StoreError, SendError) as exc:
                outcome.error = str(exc)
            finally:
                if outcome.channel is not None:
                    outcome.channel.close()
        return outcome

    yield run


def _aborted_before_any_password(outcome: Outcome) -> str:
    assert outcome.error is not None, "pinesh went on"
    assert outcome.asked == 0
    assert not outcome.password_in_cleartext()
    return outcome.error


# --- B: data after the STARTTLS reply -------------------------------------------------------


@pytest.mark.parametrize("kind", ROUTES)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_data_after_the_starttls_reply_aborts(
    attack: Callable[[str, str, str], Outcome], protocol: str, kind: str
) -> None:
    outcome = attack(protocol, kind, "B")
    error = _aborted_before_any_password(outcome)
    assert "data after the STARTTLS reply" in error
    assert "injected" in error.lower()  # the bytes, sanitized: the user sees what came
    assert outcome.server.over_tls() == b""


@pytest.mark.parametrize("kind", ROUTES)
def test_smtp_a_starttls_reply_sent_before_the_command_aborts(
    attack: Callable[[str, str, str], Outcome], kind: str
) -> None:
    outcome = attack("smtp", kind, "B-early")
    error = _aborted_before_any_password(outcome)
    assert "after its EHLO reply, before STARTTLS was asked" in error
    assert b"STARTTLS" not in outcome.server.cleartext()  # it was never asked


# --- D: STARTTLS hidden or refused as unknown -----------------------------------------------


@pytest.mark.parametrize("kind", ROUTES)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_starttls_stripped_sends_no_password(
    attack: Callable[[str, str, str], Outcome], protocol: str, kind: str
) -> None:
    error = _aborted_before_any_password(attack(protocol, kind, "D"))
    if kind == "direct":
        # A direct STARTTLS route requires TLS: the route fails at STARTTLS.
        assert "STARTTLS" in error
    else:
        # Over an ssh channel STARTTLS is asked where offered; without it, no login.
        assert "encrypted" in error and "password" in error


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("letter", ["D", "O-bad", "O-no"])
def test_starttls_refused_on_a_channel_named_tls_fails_the_route(
    attack: Callable[[str, str, str], Outcome], protocol: str, letter: str
) -> None:
    # With /tls the user asked for TLS: no cleartext session at all, login or not.
    error = _aborted_before_any_password(attack(protocol, REQUIRED, letter))
    assert "STARTTLS" in error and "(/tls)" in error


# --- O: BAD, NO or garbage in reply to STARTTLS ---------------------------------------------


@pytest.mark.parametrize("kind", ROUTES)
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("letter", ["O-bad", "O-no"])
def test_a_refused_starttls_sends_no_password(
    attack: Callable[[str, str, str], Outcome], protocol: str, kind: str, letter: str
) -> None:
    error = _aborted_before_any_password(attack(protocol, kind, letter))
    if kind == "direct":
        assert "refused STARTTLS" in error
    else:
        assert "encrypted" in error and "password" in error


@pytest.mark.parametrize("kind", ROUTES)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_garbage_in_reply_to_starttls_aborts(
    attack: Callable[[str, str, str], Outcome], protocol: str, kind: str
) -> None:
    error = _aborted_before_any_password(attack(protocol, kind, "O-garbage"))
    assert "reply to STARTTLS" in error and "HTTP/1.1 400 Bad Request" in error


# --- P: PREAUTH (or "authenticated") in place of TLS ----------------------------------------


@pytest.mark.parametrize("kind", ROUTES)
def test_imap_preauth_in_place_of_starttls_aborts(
    attack: Callable[[str, str, str], Outcome], kind: str
) -> None:
    error = _aborted_before_any_password(attack("imap", kind, "P"))
    assert "refusing PREAUTH" in error


@pytest.mark.parametrize("kind", ROUTES)
@pytest.mark.parametrize("protocol", ["smtp", "nntp"])
def test_an_authenticated_reply_in_place_of_starttls_aborts(
    attack: Callable[[str, str, str], Outcome], protocol: str, kind: str
) -> None:
    # SMTP and NNTP have no PREAUTH; the analogue is a reply to STARTTLS that claims the
    # session is authenticated (SMTP 235, NNTP 281) so that TLS is skipped.
    error = _aborted_before_any_password(attack(protocol, kind, "P"))
    assert "reply to STARTTLS" in error
    assert ("235 " if protocol == "smtp" else "281 ") in error


# --- T: state sent before TLS ----------------------------------------------------------------


def _went_on_over_tls(outcome: Outcome, *, logged_in: bool = True) -> None:
    assert outcome.error is None, outcome.error
    assert outcome.channel is not None and outcome.channel.starttls_done
    assert not outcome.password_in_cleartext()
    if logged_in:
        assert outcome.asked == 1
        assert any(form in outcome.server.over_tls() for form in password_forms())


@pytest.mark.parametrize("kind", ROUTES)
def test_imap_state_sent_before_tls_is_not_used_after_it(
    attack: Callable[[str, str, str], Outcome], kind: str
) -> None:
    outcome = attack("imap", kind, "T")
    _went_on_over_tls(outcome)
    assert outcome.capabilities == {"IMAP4REV1", "AUTH=PLAIN", "X-AFTER-TLS"}
    for kept in ("EXISTS", "LIST", "STATUS", "FETCH", "CAPABILITY"):
        assert kept not in outcome.untagged
    # What imaplib replays (and `pinesh connect` relays) as the greeting.
    assert outcome.channel is not None
    assert b"X-BEFORE-TLS" not in outcome.channel.greeting.raw


@pytest.mark.parametrize("kind", ROUTES)
def test_smtp_extensions_from_before_tls_are_not_used_after_it(
    attack: Callable[[str, str, str], Outcome], kind: str
) -> None:
    outcome = attack("smtp", kind, "T")
    _went_on_over_tls(outcome)
    # Before TLS the server offered AUTH PLAIN, after it only AUTH LOGIN.
    assert b"AUTH LOGIN\r\n" in outcome.server.over_tls()
    assert b"AUTH PLAIN" not in outcome.server.over_tls()


@pytest.mark.parametrize("kind", ROUTES)
def test_nntp_posting_status_from_before_tls_is_not_used_after_it(
    attack: Callable[[str, str, str], Outcome], kind: str
) -> None:
    outcome = attack("nntp", kind, "T")
    _went_on_over_tls(outcome, logged_in=False)  # this server lets readers in unasked
    # The cleartext greeting said 201 (no posting); after TLS nothing said either way,
    # so posting is not ruled out by what an attacker may have written.
    assert outcome.posting_allowed is True


# --- U: an alert before TLS ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ROUTES)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_alert_before_tls_is_not_passed_on_as_the_servers(
    attack: Callable[[str, str, str], Outcome], protocol: str, kind: str
) -> None:
    outcome = attack(protocol, kind, "U")
    _went_on_over_tls(outcome)
    channel = outcome.channel
    assert channel is not None
    # Not in the greeting imaplib replays and `pinesh connect` hands to the mail client,
    assert ALERT_TEXT not in channel.greeting.raw
    assert "ALERT" not in outcome.untagged
    # and shown (by doctor) only marked as unauthenticated.
    text = channel.greeting.text
    assert text.startswith("(before TLS, unauthenticated) ")
    assert "mail your password" in text
