"""The outbox: a Maildir of messages not yet sent, so that no message is ever lost.

A message is written (fsync'd, linked into new/ by the Maildir writer,
``stores/local/maildir_delivery.py``) BEFORE a send is tried, and removed only
after the server took it. Each file is the transmitted message with one header line on
top, ``X-Pinesh-Outbox: {json}``, holding the envelope (Bcc recipients included) and the
last error, so message and envelope are always written together in one atomic step.

While a message is being sent its file is locked (flock), so two pinesh processes never
send the same message at once.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

from pinesh.errors import PineshError
from pinesh.senders.base import Outgoing, Sender, SendError, Sent, SmtpEnvelope, Stage
from pinesh.stores.base import StoreError
from pinesh.stores.local.maildir_delivery import deliver, rewrite
from pinesh.textsafe import safe_line, safe_text

META_HEADER = b"X-Pinesh-Outbox: "


class OutboxError(PineshError):
    """The outbox cannot be written or read; the text names the file and what to do."""


@dataclass(frozen=True)
class Meta:
    """What the outbox keeps beside a message."""

    envelope: SmtpEnvelope
    created: datetime
    attempts: int = 0
    last_attempt: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class OutboxEntry:
    """One waiting message, for `pinesh outbox`; text fields are safe to show."""

    key: str
    envelope: SmtpEnvelope
    subject: str
    created: datetime
    attempts: int
    last_attempt: datetime | None
    last_error: str | None
    size: int
    problem: str | None = None  # a damaged file: why it cannot be read (it is left alone)


@dataclass(frozen=True)
class Attempt:
    """What happened to one message: sent (and removed), or kept, and why."""

    key: str
    sent: Sent | None = None
    error: PineshError | None = None  # why it was not sent (it is kept)
    note: str | None = None  # e.g. not tried, or sent but could not be removed

    @property
    def ok(self) -> bool:
        return self.sent is not None

    def describe(self) -> str:
        if self.sent is not None:
            return f"sent via {self.sent.via}: {self.sent.reply}" + (
                f" ({self.note})" if self.note else ""
            )
        if self.error is not None:
            return f"kept in the outbox: {self.error}" + (f"\n  ({self.note})" if self.note else "")
        return f"kept in the outbox: {self.note}"


# --- the file format (pure) -----------------------------------------------------------


def encode_entry(meta: Meta, data: bytes) -> bytes:
    """The file for a message: the meta line, then the message with LF line ends."""
    record = {
        "v": 1,
        "from": meta.envelope.sender,
        "to": list(meta.envelope.recipients),
        "created": meta.created.isoformat(),
        "attempts": meta.attempts,
        "last_attempt": meta.last_attempt.isoformat() if meta.last_attempt else None,
        "last_error": meta.last_error,
    }
    line = META_HEADER + json.dumps(record, ensure_ascii=True).encode("ascii") + b"\n"
    return line + data.replace(b"\r\n", b"\n")


def decode_entry(raw: bytes) -> tuple[Meta, bytes]:
    """(meta, message with CRLF line ends) from a file; ValueError saying what is wrong."""
    first, _, rest = raw.partition(b"\n")
    if not first.startswith(META_HEADER):
        raise ValueError("it does not start with the X-Pinesh-Outbox line")
    record = json.loads(first[len(META_HEADER) :])
    if not isinstance(record, dict) or record.get("v") != 1:
        raise ValueError("its X-Pinesh-Outbox line is not version 1")
    sender, recipients = record.get("from"), record.get("to")
    if not isinstance(sender, str) or not isinstance(recipients, list):
        raise ValueError("its envelope is missing")
    if not recipients or not all(isinstance(r, str) for r in recipients):
        raise ValueError("its envelope has no recipients")
    attempts, error = record.get("attempts", 0), record.get("last_error")
    if not isinstance(attempts, int) or not isinstance(error, str | None):
        raise ValueError("its attempt record is damaged")
    meta = Meta(
        SmtpEnvelope(sender, tuple(recipients)),
        _time(record.get("created")) or datetime.fromtimestamp(0, UTC),
        attempts,
        _time(record.get("last_attempt")),
        error,
    )
    return meta, re.sub(rb"(?<!\r)\n", b"\r\n", rest)


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _subject(data: bytes) -> str:
    try:
        header = BytesHeaderParser(policy=policy.default).parsebytes(data).get("subject")
    except Exception:
        return ""
    return safe_line(str(header or ""))


# --- the outbox -----------------------------------------------------------------------


class Outbox:
    """A Maildir of unsent messages at path (created 0700 on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _dirs(self) -> tuple[Path, Path]:
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            for sub in ("tmp", "new", "cur"):
                (self.path / sub).mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise OutboxError(
                f"cannot create the outbox {self.path}: {exc.strerror or exc}",
                hint="check the directory's permissions and free space",
            ) from None
        return self.path / "tmp", self.path / "new"

    def _file(self, key: str) -> Path:
        if "/" in key or key.startswith("."):
            raise OutboxError(f"{key!r} is not an outbox message name")
        return self.path / "new" / key

    def _deliver(self, content: bytes) -> str:
        """Write content as a new message in new/ (the Maildir writer); return its key."""
        self._dirs()
        try:
            # No ",S=size" in the name: _record rewrites the file with another size.
            return deliver(self.path, content, size_in_name=False)[1]
        except StoreError as exc:
            raise self._cannot_write(exc) from None

    def _rewrite(self, key: str, content: bytes) -> None:
        """Replace new/key with content atomically (tmp, fsync, rename over it)."""
        self._dirs()
        try:
            rewrite(self.path, "new", key, content)
        except StoreError as exc:
            raise self._cannot_write(exc) from None

    def _cannot_write(self, exc: StoreError) -> OutboxError:
        reason = exc.__cause__
        detail = reason.strerror or reason if isinstance(reason, OSError) else exc.message
        return OutboxError(
            f"cannot write to the outbox {self.path}: {detail}",
            hint="check the directory's permissions and free space",
        )

    def add(self, outgoing: Outgoing) -> str:
        """Keep outgoing; return its key. Raises OutboxError (then nothing may be sent)."""
        return self._add(outgoing)[0]

    def _add(self, outgoing: Outgoing) -> tuple[str, Meta]:
        meta = Meta(outgoing.envelope, datetime.now(UTC))
        return self._deliver(encode_entry(meta, outgoing.data)), meta

    def load(self, key: str) -> tuple[Meta, bytes]:
        """A kept message's meta and bytes (CRLF line ends)."""
        path = self._file(key)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise OutboxError(f"cannot read {path}: {exc.strerror or exc}") from None
        try:
            return decode_entry(raw)
        except ValueError as exc:
            raise OutboxError(
                f"the outbox file {path} is damaged: {exc}",
                hint="look at it with a text editor; pinesh leaves it where it is",
            ) from None

    def keys(self) -> list[str]:
        """Keys of the kept messages, oldest first (Maildir names start with the time)."""
        try:
            names = [p.name for p in (self.path / "new").iterdir() if not p.name.startswith(".")]
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise OutboxError(f"cannot list the outbox {self.path}: {exc.strerror}") from None
        return sorted(names, key=_name_order)

    def list(self) -> list[OutboxEntry]:
        """The waiting messages, oldest first; a damaged file is listed with its problem."""
        entries = []
        for key in self.keys():
            try:
                meta, data = self.load(key)
            except OutboxError as exc:
                if self._file(key).exists():  # else: sent by another pinesh meanwhile
                    epoch = datetime.fromtimestamp(0, UTC)
                    entries.append(
                        OutboxEntry(
                            key, SmtpEnvelope("", ()), "", epoch, 0, None, None, 0, str(exc)
                        )
                    )
                continue
            entries.append(
                OutboxEntry(
                    key,
                    SmtpEnvelope(safe_line(meta.envelope.sender),
                             tuple(safe_line(r) for r in meta.envelope.recipients)),
                    _subject(data),
                    meta.created,
                    meta.attempts,
                    meta.last_attempt,
                    safe_text(meta.last_error) if meta.last_error else None,
                    len(data),
                )
            )  # fmt: skip
        return entries

    def remove(self, key: str) -> None:
        path = self._file(key)
        try:
            path.unlink()
            _fsync_dir(path.parent)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise OutboxError(f"cannot remove {path}: {exc.strerror or exc}") from None

    def send_or_keep(self, sender: Sender, outgoing: Outgoing) -> Attempt:
        """Keep outgoing, try to send it, remove it once sent; else keep it with the reason.

        OutboxError when it cannot be kept: then it is not sent either (not a word lost).
        """
        key, meta = self._add(outgoing)
        return self._attempt(sender, key, meta, outgoing.data)

    def flush(self, sender: Sender) -> builtins.list[Attempt]:
        """Try every kept message, oldest first; report each.

        When the server cannot be reached at all, the rest are not tried (each would wait
        for the same timeout) and are reported as kept.
        """
        results: builtins.list[Attempt] = []
        unreachable: SendError | None = None
        for key in self.keys():
            if unreachable is not None:
                results.append(Attempt(key, note=f"not tried: {unreachable.message}"))
                continue
            try:
                meta, data = self.load(key)
            except OutboxError as exc:
                if self._file(key).exists():
                    results.append(Attempt(key, error=exc))
                continue
            attempt = self._attempt(sender, key, meta, data)
            results.append(attempt)
            if isinstance(attempt.error, SendError) and attempt.error.stage is Stage.CONNECT:
                unreachable = attempt.error
        return results

    def _attempt(self, sender: Sender, key: str, meta: Meta, data: bytes) -> Attempt:
        with self._locked(key) as held:
            if not held:
                return Attempt(key, note="another pinesh is sending it right now")
            try:
                sent = sender.send(Outgoing(meta.envelope, data))
            except PineshError as exc:
                return Attempt(key, error=exc, note=self._record(key, meta, exc))
            except Exception as exc:
                # A bug, not a server's answer: the message stays, and the bug is seen.
                self._record(key, meta, exc)
                raise
            try:
                self.remove(key)
            except OutboxError as exc:
                return Attempt(key, sent, note=f"but it stays in the outbox: {exc}")
            return Attempt(key, sent)

    def _record(self, key: str, meta: Meta, exc: Exception) -> str | None:
        """Write the failure next to the message; a note if even that failed."""
        updated = Meta(
            meta.envelope,
            meta.created,
            meta.attempts + 1,
            datetime.now(UTC),
            safe_text(str(exc)),
        )
        try:
            _, data = self.load(key)
            self._rewrite(key, encode_entry(updated, data))
        except OutboxError as write_error:
            return f"the reason could not be recorded: {write_error}"
        return None

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[bool]:
        """Hold an exclusive lock on new/key; yield False if another process holds it or
        the message is gone (sent meanwhile)."""
        path = self._file(key)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            yield False
            return
        except OSError as exc:
            raise OutboxError(f"cannot open {path}: {exc.strerror or exc}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False  # removed by whoever held the lock before us: it was sent
            yield same
        finally:
            os.close(fd)


def _name_order(name: str) -> tuple[int, int, str]:
    """Sort key: seconds, microseconds, then the name."""
    seconds, _, rest = name.partition(".")
    micro = re.match(r"M(\d+)", rest)
    return (
        int(seconds) if seconds.isdecimal() else 0,
        int(micro.group(1)) if micro else 0,
        name,
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
