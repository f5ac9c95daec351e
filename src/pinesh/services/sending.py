"""Sending mail Pine's way: compose, choose SMTP or sendmail, keep what fails, Fcc a copy."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass

from pinesh.config.server_spec import ServerSpec
from pinesh.errors import PineshError
from pinesh.paths import outbox_dir
from pinesh.senders.addresses import header_address
from pinesh.senders.base import Sender
from pinesh.senders.compose import Composed, Draft, compose
from pinesh.senders.outbox import Attempt, Outbox
from pinesh.senders.sendmail import SendmailSender
from pinesh.senders.smtp import SmtpSender
from pinesh.services.connections import Connections
from pinesh.services.identity import user_address as user_address  # its old home
from pinesh.services.mail import MailSession
from pinesh.services.sealing import NO_SEAL, Seal, seal_composed
from pinesh.stores.base import Flag
from pinesh.transport.service import Service

DEFAULT_SENDMAIL = "/usr/sbin/sendmail -oi -t"
DEFAULT_FCC = "sent-mail"


def smtp_sender(
    connections: Connections,
    server: ServerSpec,
    *,
    password: Callable[[], str] | None = None,
    helo: str | None = None,
) -> SmtpSender:
    """An SmtpSender for one of Pine's smtp-server entries, through pinesh's routes."""
    return SmtpSender(
        lambda: connections.open(server, Service.SMTP).channel,
        user=server.mailbox_user,
        password=password,
        helo=helo,
        name=server.host,
    )


def choose_sender(session: MailSession) -> Sender:
    """smtp-server when set (its first entry), else sendmail-path, else the local sendmail."""
    pine = session.pine
    if pine.smtp_servers:
        spec = pine.smtp_servers[0].spec()  # raises, naming smtp-server, if it did not parse
        password = session.password_for(spec, Service.SMTP)
        return smtp_sender(session.connections, spec, password=password, helo=_helo(session))
    return SendmailSender.from_setting(pine.sendmail_path or DEFAULT_SENDMAIL)


def _helo(session: MailSession) -> str | None:
    name = socket.gethostname()
    if "." in name:
        return name
    return f"{name}.{session.pine.user_domain}" if session.pine.user_domain else None


def outbox(session: MailSession) -> Outbox:
    return Outbox(outbox_dir(session.data_dir))


@dataclass(frozen=True)
class SendOutcome:
    """What happened to one message: sent (and Fcc'd), or kept in the outbox with why."""

    composed: Composed
    attempt: Attempt
    fcc: str | None = None  # the folder the copy went to
    fcc_error: str | None = None  # the copy failed (the message itself was sent)


def default_fcc(session: MailSession) -> str:
    """Where a sent message's copy goes unless the composer says: the pinerc's
    default-fcc, else sent-mail; "" (default-fcc="") keeps no copy, as in Alpine."""
    configured = session.pine.default_fcc
    return DEFAULT_FCC if configured is None else configured


def send_draft(
    session: MailSession,
    draft: Draft,
    *,
    fcc: str | None = None,
    seal: Seal = NO_SEAL,
    passphrase: str | None = None,
) -> SendOutcome:
    """Compose draft, seal it as asked (SealError, and nothing sent, when it cannot be),
    send it (the outbox keeps it if that fails), then Fcc a copy."""
    domain = session.pine.user_domain or user_address(session).email.rpartition("@")[2]
    composed = compose(draft, domain=domain, signed=seal.sign)
    # As the envelope writes them (an IDN domain in ASCII), so that each is found there.
    hidden = [header_address(address, "Bcc").addr_spec for address in draft.bcc]
    composed = seal_composed(composed, seal, hidden=hidden, passphrase=passphrase)
    attempt = outbox(session).send_or_keep(choose_sender(session), composed.outgoing)
    if not attempt.ok:
        return SendOutcome(composed, attempt)
    folder_name = default_fcc(session) if fcc is None else fcc
    if not folder_name:
        return SendOutcome(composed, attempt)
    try:
        with session.open_folder(folder_name, create=True) as folder:
            # Alpine leaves the copy unseen unless the feature mark-fcc-seen is on.
            seen = session.pine.feature("mark-fcc-seen")
            folder.append(composed.fcc, frozenset({Flag.SEEN}) if seen else frozenset())
    except (PineshError, OSError) as exc:
        return SendOutcome(composed, attempt, folder_name, str(exc))
    return SendOutcome(composed, attempt, folder_name)


def flush_outbox(session: MailSession) -> list[Attempt]:
    """Try every message in the outbox again."""
    return outbox(session).flush(choose_sender(session))
