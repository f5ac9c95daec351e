"""`pinesh send`, `pinesh post`, `pinesh outbox [flush]`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from pinesh.cli.output import can_ask, emit_json, line, tty_password
from pinesh.errors import PineshError
from pinesh.senders.addresses import parse_typed_addresses
from pinesh.senders.compose import Draft, OutgoingAttachment
from pinesh.services.mail import MailSession
from pinesh.services.postponed import keep_postponed, postponed_folder
from pinesh.services.replying import ComposeRequest
from pinesh.services.sealing import NO_SEAL, Seal, SealError, clearsigned, starting_seal
from pinesh.services.sending import SendOutcome, outbox, send_draft, user_address
from pinesh.stores.base import Address
from pinesh.stores.headers import decode_words, header_end, parse_header_block

T = TypeVar("T")
PASSPHRASE_TRIES = 3  # passphrases asked for before the message is kept unsent


def _stdin_message() -> tuple[dict[str, str], str]:
    """Headers (To, Cc, Bcc, Subject, Newsgroups, References...) and body from stdin."""
    data = sys.stdin.buffer.read()
    end = header_end(data)
    if end == len(data) and b":" not in data.split(b"\n", 1)[0]:
        return {}, data.decode("utf-8", "replace")  # no headers: all body
    headers = parse_header_block(data[:end])
    found = {k.lower(): decode_words(v) for k, v in headers.items()}
    return found, data[end:].decode("utf-8", "replace")


def _attachments(paths: list[str]) -> tuple[OutgoingAttachment, ...]:
    found = []
    for name in paths:
        path = Path(name).expanduser()
        try:
            found.append(OutgoingAttachment(path.name, path.read_bytes()))
        except OSError as exc:
            raise PineshError(f"cannot attach {name}: {exc.strerror}") from None
    return tuple(found)


@dataclass(frozen=True)
class SendOptions:
    """What `pinesh send` was given on its command line."""

    to: list[str]
    cc: list[str]
    bcc: list[str]
    subject: str | None
    attach: list[str]
    fcc: str | None
    seal: Seal = NO_SEAL
    by_rules: bool = True  # the config's [[seal]] rules add to seal (not with --as-is)


def run_send(session: MailSession, options: SendOptions, as_json: bool) -> int:
    headers, body = ({}, sys.stdin.read()) if options.to else _stdin_message()
    domain = session.pine.user_domain

    def typed(given: list[str], field: str) -> tuple[Address, ...]:
        text = ", ".join(given) or headers.get(field.lower(), "")
        return parse_typed_addresses(text, field, default_domain=domain)

    draft = Draft(
        sender=user_address(session),
        to=typed(options.to, "To"),
        cc=typed(options.cc, "Cc"),
        bcc=typed(options.bcc, "Bcc"),
        subject=options.subject if options.subject is not None else headers.get("subject", ""),
        body=body,
        attachments=_attachments(options.attach),
    )
    if not (draft.to or draft.cc or draft.bcc):
        raise PineshError("no recipients", hint="give --to, or To: in the message on stdin")
    seal = options.seal
    if options.by_rules:
        rules = session.connections.settings.seals
        seal = starting_seal(session.pine.feature, rules, draft.recipient_emails(), seal)
    request = ComposeRequest(draft, fcc=options.fcc, seal=seal)
    outcome = _sealed_send(session, request)
    if as_json:
        emit_json(
            {
                "message_id": outcome.composed.message_id,
                "sent": outcome.attempt.ok,
                "result": outcome.attempt.describe(),
                "fcc": outcome.fcc,
                "fcc_error": outcome.fcc_error,
                "sealed": seal.describe(),
            }
        )
    else:
        line(outcome.attempt.describe())
        if seal.wanted:
            line(f"the message was {seal.describe()}")
        if outcome.fcc_error:
            line(f"the copy to {outcome.fcc} failed: {outcome.fcc_error}")
    return 0 if outcome.attempt.ok else 1


def _sealed_send(session: MailSession, request: ComposeRequest) -> SendOutcome:
    """send_draft with the request's seal; see _with_passphrase."""
    draft, fcc, seal = request.draft, request.fcc, request.seal
    return _with_passphrase(
        session,
        request,
        lambda passphrase: send_draft(session, draft, fcc=fcc, seal=seal, passphrase=passphrase),
    )


def _with_passphrase(
    session: MailSession, request: ComposeRequest, attempt: Callable[[str | None], T]
) -> T:
    """attempt(passphrase), asking for a locked key's passphrase at the terminal (three
    tries). A message that cannot be signed or encrypted is kept in the postponed folder
    (it came from stdin: no message is lost), and the error says so."""
    passphrase = None
    asked = 0
    while True:
        try:
            return attempt(passphrase)
        except SealError as exc:
            if not (exc.needs_passphrase and asked < PASSPHRASE_TRIES and can_ask()):
                raise _kept(session, request, exc) from None
            passphrase = tty_password("Passphrase for your key: ")
            asked += 1


def _kept(session: MailSession, request: ComposeRequest, exc: SealError) -> PineshError:
    """Keep the message that was not sent in the postponed folder (encrypted to its
    writer when it was to go encrypted: else in clear, rather than lost, and said);
    the error to end with."""
    folder = postponed_folder(session)
    where = f"the message is kept in {folder}"
    try:
        try:
            keep_postponed(session, request)
        except SealError as unsealed:
            keep_postponed(session, replace(request, seal=replace(request.seal, encrypt=False)))
            where += f", NOT encrypted ({unsealed.message})"
    except (PineshError, OSError) as kept:
        return PineshError(
            f"not sent: {exc.message}; and it could not be kept in {folder}: {kept}",
            hint="the message was read from stdin: send it again from where it came",
        )
    return PineshError(
        f"not sent: {exc.message}; {where}",
        hint=exc.hint or "start pinesh, press C and continue the postponed message",
    )


def run_outbox(session: MailSession, flush: bool, as_json: bool) -> int:
    box = outbox(session)
    if flush:
        from pinesh.services.sending import flush_outbox

        attempts = flush_outbox(session)
        if as_json:
            emit_json([{"key": a.key, "sent": a.ok, "result": a.describe()} for a in attempts])
        for attempt in attempts if not as_json else []:
            line(f"{attempt.key}: {attempt.describe()}")
        if not attempts and not as_json:
            line("the outbox is empty")
        return 0 if all(a.ok for a in attempts) else 1
    entries = box.list()
    if as_json:
        emit_json(entries)
        return 0
    if not entries:
        line("the outbox is empty")
    for entry in entries:
        line(f"{entry.key}  {entry.subject}  to {', '.join(entry.envelope.recipients)}")
        line(f"    {entry.attempts} attempts; last error: {entry.last_error or '-'}")
    return 0


def run_post(
    session: MailSession,
    newsgroups: list[str],
    subject: str | None,
    references: str | None,
    as_json: bool,
    sign: bool = False,
) -> int:
    from pinesh.services.news import post_or_keep

    headers, body = _stdin_message()
    groups = newsgroups or [
        g.strip() for g in headers.get("newsgroups", "").split(",") if g.strip()
    ]
    if not groups:
        raise PineshError("no newsgroups", hint="give --newsgroups, or Newsgroups: on stdin")
    subject = subject or headers.get("subject", "")
    references = references or headers.get("references")
    if sign:
        draft = Draft(user_address(session), subject=subject, body=body,
                      references=tuple((references or "").split()))  # fmt: skip
        request = ComposeRequest(draft, newsgroups=tuple(groups), seal=Seal(sign=True))
        signer = draft.sender.email
        body = _with_passphrase(
            session, request, lambda passphrase: clearsigned(body, signer, passphrase=passphrase)
        )
    message_id = post_or_keep(session, groups, subject, body, references)
    if as_json:
        emit_json({"posted": True, "message_id": message_id, "newsgroups": groups})
    else:
        line(f"posted to {', '.join(groups)}: {message_id or ''}")
    return 0
