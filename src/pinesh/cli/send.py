"""`pinesh send`, `pinesh post`, `pinesh outbox [flush]`."""

from __future__ import annotations

import sys
from pathlib import Path

from pinesh.cli.output import emit_json, line
from pinesh.errors import PineshError
from pinesh.senders.addresses import parse_typed_addresses
from pinesh.senders.compose import Draft, OutgoingAttachment
from pinesh.services.mail import MailSession
from pinesh.services.sending import outbox, send_draft, user_address
from pinesh.stores.headers import decode_words, header_end, parse_header_block


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


def run_send(
    session: MailSession,
    to: list[str],
    cc: list[str],
    bcc: list[str],
    subject: str | None,
    attach: list[str],
    fcc: str | None,
    as_json: bool,
) -> int:
    headers, body = ({}, sys.stdin.read()) if to else _stdin_message()
    domain = session.pine.user_domain
    draft = Draft(
        sender=user_address(session),
        to=parse_typed_addresses(
            ", ".join(to) or headers.get("to", ""), "To", default_domain=domain
        ),
        cc=parse_typed_addresses(
            ", ".join(cc) or headers.get("cc", ""), "Cc", default_domain=domain
        ),
        bcc=parse_typed_addresses(
            ", ".join(bcc) or headers.get("bcc", ""), "Bcc", default_domain=domain
        ),
        subject=subject if subject is not None else headers.get("subject", ""),
        body=body,
        attachments=_attachments(attach),
    )
    if not (draft.to or draft.cc or draft.bcc):
        raise PineshError("no recipients", hint="give --to, or To: in the message on stdin")
    outcome = send_draft(session, draft, fcc=fcc)
    if as_json:
        emit_json(
            {
                "message_id": outcome.composed.message_id,
                "sent": outcome.attempt.ok,
                "result": outcome.attempt.describe(),
                "fcc": outcome.fcc,
                "fcc_error": outcome.fcc_error,
            }
        )
    else:
        line(outcome.attempt.describe())
        if outcome.fcc_error:
            line(f"the copy to {outcome.fcc} failed: {outcome.fcc_error}")
    return 0 if outcome.attempt.ok else 1


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
) -> int:
    from pinesh.services.news import post_or_keep

    headers, body = _stdin_message()
    groups = newsgroups or [
        g.strip() for g in headers.get("newsgroups", "").split(",") if g.strip()
    ]
    if not groups:
        raise PineshError("no newsgroups", hint="give --newsgroups, or Newsgroups: on stdin")
    message_id = post_or_keep(
        session,
        groups,
        subject or headers.get("subject", ""),
        body,
        references or headers.get("references"),
    )
    if as_json:
        emit_json({"posted": True, "message_id": message_id, "newsgroups": groups})
    else:
        line(f"posted to {', '.join(groups)}: {message_id or ''}")
    return 0
