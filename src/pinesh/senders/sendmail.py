"""Send through a local sendmail program (Pine's sendmail-path), run as an argv, no shell.

The recipients always go on the command line, after ``--``, from the envelope: the
transmitted message has no Bcc header, so ``-t`` (recipients from the headers) would miss
the blind copies, and Sendmail and Postfix disagree about ``-t`` with listed recipients.
So ``-t`` is dropped from the configured argv, and ``-oi`` is added when no ``-i``/``-oi``
is there (else a line holding only "." would end the message early).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess

from pinesh.errors import PineshError
from pinesh.senders.base import Outgoing, SendError, Sent, Stage
from pinesh.textsafe import safe_line, safe_text

DEFAULT_TIMEOUT = 120.0
EX_TEMPFAIL = 75  # sysexits.h: "try again later" (e.g. the queue is not writable now)
SHOW_LIMIT = 2000  # characters of the program's own words kept for the error
_SHELL_CHARS = set("|&;<>()`$")


def parse_sendmail_path(setting: str) -> list[str]:
    """Pine's sendmail-path split into words (shell-style quotes honoured, no shell run).

    Shell syntax (pipes, redirections, $VARIABLES, backquotes) is refused clearly: no
    shell ever sees this setting, so it would only become strange arguments.
    """
    try:
        lexer = shlex.shlex(setting, posix=True, punctuation_chars="|&;<>()")
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError as exc:
        raise PineshError(
            f"sendmail-path {safe_line(setting)!r}: {exc}",
            hint="close the quote, e.g. sendmail-path=/usr/sbin/sendmail -oi",
        ) from None
    for word in words:
        if _SHELL_CHARS & set(word):
            raise PineshError(
                f"sendmail-path: {safe_line(word)!r} is shell syntax, and pinesh runs the "
                "program without a shell",
                hint="name the program and its options only, e.g. /usr/sbin/sendmail -oi",
            )
    if not words:
        raise PineshError("sendmail-path is empty", hint="e.g. /usr/sbin/sendmail -oi")
    return words


def sendmail_command(argv: list[str], sender: str, recipients: tuple[str, ...]) -> list[str]:
    """The argv to run for one message: options, -oi, -f SENDER, --, recipients."""
    base = [word for word in argv if word != "-t"]
    if "-oi" not in base and "-i" not in base:
        base.append("-oi")
    if sender:
        base += ["-f", sender]
    return [*base, "--", *recipients]


class SendmailSender:
    """Pipes each message into argv (e.g. ["/usr/sbin/sendmail", "-oi"]) within a timeout."""

    def __init__(self, argv: list[str], *, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not argv or not argv[0]:
            raise PineshError("sendmail-path names no program", hint="e.g. /usr/sbin/sendmail")
        if "--" in argv:
            raise PineshError(
                "sendmail-path must not hold '--': pinesh adds the recipients after it"
            )
        self._argv = list(argv)
        self._timeout = timeout

    @classmethod
    def from_setting(cls, setting: str, *, timeout: float = DEFAULT_TIMEOUT) -> SendmailSender:
        return cls(parse_sendmail_path(setting), timeout=timeout)

    def describe(self) -> str:
        return f"sendmail ({safe_line(self._argv[0])})"

    def send(self, outgoing: Outgoing) -> Sent:
        envelope = outgoing.envelope
        _check_envelope(envelope.sender, envelope.recipients)
        argv = sendmail_command(self._argv, envelope.sender, envelope.recipients)
        # sendmail reads a local text file: LF line ends.
        data = outgoing.data.replace(b"\r\n", b"\n")
        code, out, err = self._run(argv, data)
        said = safe_text((err + out).decode("utf-8", "replace")).strip()
        if len(said) > SHOW_LIMIT:
            said = "..." + said[-SHOW_LIMIT:]
        if code != 0:
            raise SendError(
                f"{self.describe()} exited with status {code}"
                + (f": {said}" if said else " and said nothing"),
                stage=Stage.DATA,
                server_reply=said or None,
                temporary=code == EX_TEMPFAIL,
                hint="check sendmail-path in the pinerc, and the mail system's log",
            )
        return Sent(envelope.recipients, said or "accepted", self.describe())

    def _run(self, argv: list[str], data: bytes) -> tuple[int, bytes, bytes]:
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # so a timeout ends its children too
            )
        except OSError as exc:
            raise SendError(
                f"cannot run {safe_line(argv[0])}: {exc.strerror or exc}",
                stage=Stage.LOCAL,
                hint="check sendmail-path in the pinerc (the program and its options)",
            ) from None
        try:
            out, err = process.communicate(data, timeout=self._timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise SendError(
                f"{self.describe()} did not finish within {self._timeout:g} s; it was stopped",
                stage=Stage.DATA,
                temporary=True,
                hint="the mail system may be stuck; it may or may not have queued the message",
            ) from None
        return process.returncode, out, err


def _check_envelope(sender: str, recipients: tuple[str, ...]) -> None:
    if not recipients:
        raise SendError("the message has no recipients", stage=Stage.LOCAL)
    for address in (sender, *recipients):
        if any(ch.isspace() or not ch.isprintable() for ch in address):
            raise SendError(
                f"the address {safe_line(address)!r} holds spaces or control characters",
                stage=Stage.LOCAL,
            )
