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
from dataclasses import dataclass, replace
from pathlib import Path

from pinesh.config.pine_settings import BadServerSetting
from pinesh.config.server_spec import ServerSpec, parse_server_spec
from pinesh.errors import PineshError


class Driver(enum.Enum):
    IMAP = "imap"
    NNTP = "nntp"
    MAILDIR = "maildir"
    MBOX = "mbox"


@dataclass(frozen=True)
class MailboxName:
    """A parsed mailbox name: the driver, the mailbox within it, and its server if remote.

    Names that parse to equal values name one mailbox (``INBOX`` and the inbox-path it
    stands for, say). Servers spelt differently (``{HOST}`` and ``{host/ssl}``) are not
    equal values: ``server.identity()`` says whether they are one server.
    """

    driver: Driver
    mailbox: str  # remote mailbox, newsgroup (or a collection's prefix), or local path
    server: ServerSpec | None = None

    @property
    def is_remote(self) -> bool:
        return self.server is not None

    def format(self, context: NameContext) -> str:
        """This name in Pine's syntax: parse_mailbox_name(m.format(context), context) == m.

        News on the context's nntp-server is written ``#news.group``, as Pine does; local
        names are written as absolute paths (``#md/`` before a Maildir). An IMAP
        collection's empty prefix is written ``{server}``, which parse_collection_name
        reads back (parse_mailbox_name reads it as INBOX). Hazard: white space at the end
        of a mailbox or path does not read back (names are stripped when parsed).
        """
        if self.driver is Driver.NNTP:
            assert self.server is not None, "a newsgroup always has a server"
            if context.nntp_server == self.server:
                return "#news." + self.mailbox
            return "{" + self.server.format() + "}#news." + self.mailbox
        if self.server is not None:
            # Hazard: an IMAP mailbox named "#news.x" reads back as news (as parsing has it).
            return "{" + self.server.format() + "}" + self.mailbox
        if self.driver is Driver.MAILDIR:
            return "#md/" + self.mailbox
        return self.mailbox


DEFAULT_COLLECTION = "mail/"  # Pine's, with no folder-collections: ~/mail


@dataclass(frozen=True)
class NameContext:
    """What local and news names are resolved against."""

    home: Path
    inbox_path: str | None = None  # the pinerc's inbox-path
    # The pinerc's first nntp-server, as parsed when the pinerc was read.
    nntp_server: ServerSpec | BadServerSetting | None = None
    local_user: str = ""  # this machine's login name: the spool is /var/mail/LOCAL_USER
    # Pine's default collection for saves: the first folder collection's name, the prefix
    # a bare folder name goes after ("{mailhost/user=me}", "mail/", "{h}INBOX.").
    default_collection: str = DEFAULT_COLLECTION

    @classmethod
    def from_environment(
        cls,
        inbox_path: str | None = None,
        nntp_server: ServerSpec | BadServerSetting | None = None,
        default_collection: str = "",
    ) -> NameContext:
        return cls(
            Path.home(),
            inbox_path,
            nntp_server,
            os.environ.get("USER") or os.environ.get("LOGNAME") or "",
            default_collection or DEFAULT_COLLECTION,
        )


def _local_driver(path: Path) -> Driver:
    try:
        if (path / "cur").is_dir() or (path.is_dir() and not path.is_file()):
            return Driver.MAILDIR
    except OSError:  # e.g. a name too long for the file system: no Maildir there
        pass
    return Driver.MBOX


def default_inbox(context: NameContext) -> Path:
    """Where local mail arrives when no inbox-path is set: ~/Maildir, else the spool."""
    maildir = context.home / "Maildir"
    if (maildir / "cur").is_dir():
        return maildir
    return Path(os.environ.get("MAIL") or f"/var/mail/{context.local_user}")


def _remote(text: str, name: str, context: NameContext) -> MailboxName | None:
    """``{server}mailbox`` or ``#news.group`` read as they are (no INBOX default), or None."""
    if name.startswith("{"):
        close = name.find("}")
        if close < 0:
            raise PineshError(
                f"mailbox {text!r}: missing '}}' after the server", hint="write {host/flags}mailbox"
            )
        server = parse_server_spec(name[1:close])
        mailbox = name[close + 1 :]
        if server.service == "nntp" or mailbox.startswith("#news."):
            return MailboxName(Driver.NNTP, mailbox.removeprefix("#news."), server)
        if server.service not in (None, "imap", "imap2", "imap4", "imap4rev1"):
            raise PineshError(
                f"mailbox {text!r}: service {server.service} is not supported",
                hint="pinesh reads IMAP and NNTP servers",
            )
        return MailboxName(Driver.IMAP, mailbox, server)
    if name.startswith("#news."):
        if context.nntp_server is None:
            raise PineshError(
                f"mailbox {text!r} is news, but no nntp-server is set",
                hint="set nntp-server in your pinerc, or write {news.example.org/nntp}#news.group",
            )
        if isinstance(context.nntp_server, BadServerSetting):
            raise context.nntp_server.error()
        return MailboxName(Driver.NNTP, name.removeprefix("#news."), context.nntp_server)
    return None


def parse_collection_name(text: str, context: NameContext) -> MailboxName | None:
    """A remote or news collection's name, ``{server}prefix`` or ``#news.prefix``, whose
    mailbox is the prefix its folders' names share (maybe empty); None for a local one.

    The full name of folder ``x`` in the collection is then
    ``replace(collection, mailbox=collection.mailbox + x).format(context)``.
    """
    name = text.strip()
    return _remote(text, name, context)


def parse_mailbox_name(text: str, context: NameContext) -> MailboxName:
    """Parse a mailbox name; raise PineshError naming what is wrong."""
    name = text.strip()
    if not name:
        raise PineshError("empty mailbox name")
    if "\0" in name:
        # No file or server mailbox can be named so; the path functions raise ValueError.
        raise PineshError(f"mailbox {text!r}: a name cannot hold a NUL character")
    remote = _remote(text, name, context)
    if remote is not None:
        if remote.driver is Driver.IMAP and not remote.mailbox:
            return replace(remote, mailbox="INBOX")
        return remote
    if name.upper() == "INBOX":
        if context.inbox_path and context.inbox_path.upper() != "INBOX":
            return parse_mailbox_name(context.inbox_path, context)
        path = default_inbox(context)
        return MailboxName(_local_driver(path), str(path))
    if name.startswith("#md/"):
        path = Path(os.path.expanduser(name[4:]))
        if not path.is_absolute():
            path = context.home / path
        return MailboxName(Driver.MAILDIR, str(path))
    if name.startswith("#"):
        raise PineshError(
            f"mailbox {text!r}: unknown namespace", hint="use #news.group or #md/path, or a path"
        )
    if name.startswith(("/", "~")):
        path = Path(os.path.expanduser(name))
        return MailboxName(_local_driver(path), str(path))
    return _in_default_collection(text, name.removeprefix("="), context)


def _in_default_collection(text: str, name: str, context: NameContext) -> MailboxName:
    """A bare folder name (``sent-mail``, ``work/2026``; ``=name`` as mutt writes it) is a
    folder of the default collection, as Pine resolves Fcc, saves and postponed messages:
    on its server when the first folder collection is remote, else under its directory."""
    if not name:
        raise PineshError(f"mailbox {text!r}: no folder name after '='")
    collection = context.default_collection.strip()
    if collection.startswith("{"):
        remote = _remote(text, collection + name, context)
        if remote is not None:
            return remote
    if collection.startswith("#md/"):
        return parse_mailbox_name(collection.rstrip("/") + "/" + name, context)
    base = Path(os.path.expanduser(collection or DEFAULT_COLLECTION))
    if not base.is_absolute():
        base = context.home / base
    path = base / name
    return MailboxName(_local_driver(path), str(path))
