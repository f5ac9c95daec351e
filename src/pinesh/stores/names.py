"""Pine's mailbox names, parsed: the name picks the driver, as in c-client.

- ``{host[:port][/flags]}mailbox``: IMAP (or NNTP with ``/nntp``, ``/service=nntp``, or a
  ``#news.`` mailbox);
- ``#news.group.name``: news on the pinerc's ``nntp-server``;
- ``INBOX``: the pinerc's ``inbox-path``, else the local spool or ``~/Maildir``;
- ``#md/path``: a Maildir; any other name is a local path (``~`` expanded, relative names
  under ``~/mail`` as in Pine): a directory with ``cur/`` is a Maildir, else an mbox file.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path

from pinesh.config.server_spec import ServerSpec, parse_server_spec
from pinesh.errors import PineshError


class Driver(enum.Enum):
    IMAP = "imap"
    NNTP = "nntp"
    MAILDIR = "maildir"
    MBOX = "mbox"


@dataclass(frozen=True)
class MailboxName:
    """A parsed mailbox name."""

    text: str  # as the user wrote it
    driver: Driver
    mailbox: str  # remote mailbox, newsgroup, or local path
    server: ServerSpec | None = None

    @property
    def is_remote(self) -> bool:
        return self.server is not None


@dataclass(frozen=True)
class NameContext:
    """What local and news names are resolved against."""

    home: Path
    inbox_path: str | None = None  # the pinerc's inbox-path
    nntp_server: str | None = None  # the pinerc's first nntp-server
    user: str = ""

    @classmethod
    def from_environment(
        cls, inbox_path: str | None = None, nntp_server: str | None = None
    ) -> NameContext:
        return cls(
            Path.home(),
            inbox_path,
            nntp_server,
            os.environ.get("USER") or os.environ.get("LOGNAME") or "",
        )


def _local_driver(path: Path) -> Driver:
    if (path / "cur").is_dir() or (path.is_dir() and not path.is_file()):
        return Driver.MAILDIR
    return Driver.MBOX


def default_inbox(context: NameContext) -> Path:
    """Where local mail arrives when no inbox-path is set: ~/Maildir, else the spool."""
    maildir = context.home / "Maildir"
    if (maildir / "cur").is_dir():
        return maildir
    return Path(os.environ.get("MAIL") or f"/var/mail/{context.user}")


def parse_mailbox_name(text: str, context: NameContext) -> MailboxName:
    """Parse a mailbox name; raise PineshError naming what is wrong."""
    name = text.strip()
    if not name:
        raise PineshError("empty mailbox name")
    if name.startswith("{"):
        close = name.find("}")
        if close < 0:
            raise PineshError(
                f"mailbox {text!r}: missing '}}' after the server", hint="write {host/flags}mailbox"
            )
        server = parse_server_spec(name[1:close])
        mailbox = name[close + 1 :]
        if server.service == "nntp" or mailbox.startswith("#news."):
            return MailboxName(text, Driver.NNTP, mailbox.removeprefix("#news."), server)
        if server.service not in (None, "imap", "imap2", "imap4", "imap4rev1"):
            raise PineshError(
                f"mailbox {text!r}: service {server.service} is not supported",
                hint="pinesh reads IMAP and NNTP servers",
            )
        return MailboxName(text, Driver.IMAP, mailbox or "INBOX", server)
    if name.startswith("#news."):
        if not context.nntp_server:
            raise PineshError(
                f"mailbox {text!r} is news, but no nntp-server is set",
                hint="set nntp-server in your pinerc, or write {news.example.org/nntp}#news.group",
            )
        server = parse_server_spec(context.nntp_server)
        return MailboxName(text, Driver.NNTP, name.removeprefix("#news."), server)
    if name.upper() == "INBOX":
        if context.inbox_path and context.inbox_path.upper() != "INBOX":
            inner = parse_mailbox_name(context.inbox_path, context)
            return MailboxName(text, inner.driver, inner.mailbox, inner.server)
        path = default_inbox(context)
        return MailboxName(text, _local_driver(path), str(path))
    if name.startswith("#md/"):
        path = Path(os.path.expanduser(name[4:]))
        if not path.is_absolute():
            path = context.home / path
        return MailboxName(text, Driver.MAILDIR, str(path))
    if name.startswith("#"):
        raise PineshError(
            f"mailbox {text!r}: unknown namespace", hint="use #news.group or #md/path, or a path"
        )
    path = Path(os.path.expanduser(name))
    if not path.is_absolute():
        path = context.home / "mail" / path
    return MailboxName(text, _local_driver(path), str(path))
