"""`pinesh folders [COLLECTION]`, `pinesh index FOLDER`, `pinesh show FOLDER N`."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from pinesh.cli.output import block, can_ask, emit_json, line, marked, tty_password
from pinesh.errors import PineshError
from pinesh.services.folder_view import counted
from pinesh.services.mail import MailSession
from pinesh.services.protection import read_protected
from pinesh.services.reading import status_column
from pinesh.stores.base import SortKey
from pinesh.textsafe import safe_line

DEFAULT_WINDOW = 50


def run_folders(session: MailSession, label: str | None, as_json: bool) -> int:
    collections = [session.find_collection(label)] if label else session.collections()
    found = []
    for collection in collections:
        folders = session.list_folders(collection)
        found.append({"collection": collection.label, "name": collection.name, "folders": folders})
        if not as_json:
            line(f"{collection.label} ({collection.name}[{collection.pattern}])")
            for info in folders:
                mark = "" if info.selectable else "  (not selectable)"
                line(f"  {info.display}{mark}    {info.name}")
    if as_json:
        emit_json(found)
    return 0


def parse_range(text: str | None, count: int) -> tuple[int, int]:
    """'A-B', 'N', '-N' (the last N) or None (the last DEFAULT_WINDOW) -> 1-based bounds."""
    if count == 0:
        return (1, 0)
    if text is None:
        return (max(1, count - DEFAULT_WINDOW + 1), count)
    try:
        if text.startswith("-"):
            return (max(1, count - int(text[1:]) + 1), count)
        if "-" in text:
            first, last = (int(x) for x in text.split("-", 1))
        else:
            first = last = int(text)
    except ValueError:
        raise PineshError(f"range {text!r}: expected A-B, N or -N") from None
    if first < 1 or last < first:
        raise PineshError(f"range {text!r}: expected 1 <= A <= B")
    return (first, min(last, count))


@dataclass(frozen=True)
class IndexLine:
    number: int
    uid: int
    status: str
    date: str
    sender: str
    size: int
    subject: str


def run_index(
    session: MailSession, name: str, range_text: str | None, sort: str, reverse: bool, as_json: bool
) -> int:
    with session.open_folder(name, read_only=True) as folder:
        status = folder.status()
        key = SortKey(sort)
        order = (
            folder.uids() if key is SortKey.ARRIVAL and not reverse else folder.sort(key, reverse)
        )
        first, last = parse_range(range_text, len(order))
        window = order[first - 1 : last]
        envelopes = {e.uid: e for e in folder.envelopes(window)}
        lines = []
        for number, uid in enumerate(window, start=first):
            env = envelopes.get(uid)
            if env is None:
                continue
            sender = env.sender[0].display() if env.sender else ""
            date = env.date.strftime("%Y-%m-%d %H:%M") if env.date else ""
            lines.append(
                IndexLine(number, uid, status_column(env), date, sender, env.size, env.subject)
            )
    if as_json:
        emit_json({"folder": name, "status": status, "messages": lines})
        return 0
    line(
        f"{name}: {counted(status.count, 'message')}, {status.unseen:,} unseen, "
        f"{status.recent:,} recent"
    )
    for item in lines:
        print(
            f"{item.number:>6} {item.status} {item.date:<16} "
            f"{safe_line(item.sender)[:24]:<24} {item.size:>8}  {safe_line(item.subject)}"
        )
    return 0


def run_show(session: MailSession, name: str, number: int, raw: bool, as_json: bool) -> int:
    if raw and as_json:
        raise PineshError(
            "--raw writes the message's own bytes, which JSON cannot hold",
            hint="leave out --json for the source, or --raw for the message as JSON",
        )
    with session.open_folder(name, read_only=True) as folder:
        uids = folder.uids()
        if not 1 <= number <= len(uids):
            raise PineshError(f"{name} has no message {number} (it has {len(uids)})")
        uid = uids[number - 1]
        if raw:
            for chunk in folder.fetch_part(uid, ""):
                sys.stdout.buffer.write(chunk)
            return 0
        [envelope] = folder.envelopes([uid])
        prefer_plain = session.pine.feature("prefer-plain-text")  # else the HTML, as Alpine
        protected = read_protected(folder, uid, prefer_plain=prefer_plain)
        if protected.needs_passphrase and not as_json and can_ask():
            asked = tty_password("Passphrase for the key this message is encrypted to: ")
            protected = read_protected(folder, uid, prefer_plain=prefer_plain, passphrase=asked)
    readable = protected.readable
    if as_json:
        emit_json(
            {
                "number": number,
                "envelope": envelope,
                "text": readable.text,
                "attachments": readable.attachments,
                "note": readable.note,
                **protected.as_json(),
            }
        )
        return 0
    line(f"Date: {envelope.date.isoformat() if envelope.date else ''}")
    line(
        "From: "
        + ", ".join(f"{a.name} <{a.email}>" if a.name else a.email for a in envelope.sender)
    )
    if envelope.to:
        line("To: " + ", ".join(a.email for a in envelope.to))
    if envelope.cc:
        line("Cc: " + ", ".join(a.email for a in envelope.cc))
    line(f"Subject: {envelope.subject}")
    # Said in the header block too: a body can hold a line that looks like a frame's,
    # and on a pipe the frames cannot be drawn in reverse video as on a terminal.
    line(f"Protection: {protected.summary(envelope.sender)}")
    print()
    for frame in protected.frames:
        opening, closing = frame.opening(envelope.sender), frame.closing()
        if opening is not None:
            marked(f"[ {opening} ]")
        block(frame.text)
        if closing is not None:
            marked(f"[ {closing} ]")
    if readable.note:
        line(f"[{readable.note}]")
    for att in readable.attachments:
        line(f"[part {att.part_id}: {att.content_type} {att.filename or ''} {att.size} bytes]")
    return 0
