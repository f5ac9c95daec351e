"""The pinerc variables pinesh uses, as one typed value (read from a parsed Pinerc)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pinesh.config.index_format import (
    TOKENS,
    IndexColumn,
    IndexFormatError,
    parse_index_format,
)
from pinesh.config.keystrokes import Keystroke, KeystrokeError, parse_keystrokes, split_keystrokes
from pinesh.config.pinerc import Pinerc, unquote
from pinesh.config.remote_shell import RemoteShell, remote_shells
from pinesh.config.server_spec import ServerSpec, parse_server_spec
from pinesh.errors import PineshError


@dataclass(frozen=True)
class Collection:
    """A folder collection: ``Label {server}prefix/[pattern]`` (label optional)."""

    label: str
    name: str  # the mailbox name with the [pattern] part removed, e.g. "{host}mail/"
    pattern: str  # what was inside [...]: "" means everything


@dataclass(frozen=True)
class BadServerSetting:
    """A server setting whose text does not parse: what is wrong, naming the setting.

    Loading the pinerc does not fail on it (the program stays up); it is reported where
    the server is used: sending, opening news, doctor.
    """

    setting: str  # "smtp-server" or "nntp-server"
    reason: str  # e.g. "server 'x/bogus': unknown flag '/bogus'"
    hint: str | None = None  # what to write instead

    def error(self) -> PineshError:
        """The error to raise where the server is needed."""
        return PineshError(f"pinerc {self.setting}: {self.reason}", hint=self.hint)


@dataclass(frozen=True)
class ServerSetting:
    """One entry of smtp-server or nntp-server: the text as written and what it parsed to.

    The text is parsed once, when the pinerc is read; the server travels from here to the
    routes and the ssh argv. SETUP shows ``text`` as the user wrote it.
    """

    text: str
    server: ServerSpec | BadServerSetting

    def spec(self) -> ServerSpec:
        """The server; raise PineshError naming the setting when it did not parse."""
        if isinstance(self.server, BadServerSetting):
            raise self.server.error()
        return self.server


@dataclass(frozen=True)
class PineSettings:
    """The pinerc settings pinesh reads; everything else in the file is kept and ignored."""

    personal_name: str | None
    user_domain: str | None
    inbox_path: str | None
    folder_collections: tuple[Collection, ...]
    news_collections: tuple[Collection, ...]
    incoming_folders: tuple[str, ...]
    default_fcc: str | None
    postponed_folder: str | None
    smtp_servers: tuple[ServerSetting, ...]
    nntp_servers: tuple[ServerSetting, ...]
    sendmail_path: str | None
    signature_file: Path | None
    address_books: tuple[str, ...]
    customized_hdrs: tuple[str, ...]
    features: frozenset[str]
    remote_shells: tuple[RemoteShell, ...]
    # Seconds between checks of the open folder for new mail (0: never); Pine's
    # mail-check-interval. pinesh checks every 60 s when the pinerc does not say (Pine 150).
    mail_check_interval: int = 60
    # initial-keystroke-list: keys pressed when the client starts (Alpine's -I wins).
    initial_keystrokes: tuple[Keystroke, ...] = ()
    # mail-directory: where folders live when no folder-collections is set (Pine: "mail").
    mail_directory: str | None = None
    default_saved_msg_folder: str | None = None  # default-saved-msg-folder
    alt_addresses: frozenset[str] = frozenset()  # alt-addresses, lowercase: the user's others
    reply_indent_string: str = "> "  # reply-indent-string: what quotes each line of a reply
    reply_leadin: str | None = None  # reply-leadin: the reply's first line; None: Pine's
    editor: str | None = None  # editor: the command ^_ runs (its first entry)
    literal_signature: str | None = None  # literal-signature: wins over signature-file
    # sort-key: the index order a folder opens in ("arrival", "date", "subject", "from",
    # "size", "to", "thread"), and whether /Reverse was given.
    sort_key: str = "arrival"
    sort_reverse: bool = False
    newsrc_path: Path | None = None  # newsrc-path: the newsrc; None: ~/.newsrc
    # incoming-startup-rule: where an index starts: "first-unseen" (else the newest),
    # "first" or "last".
    startup_rule: str = "first-unseen"
    index_format: tuple[IndexColumn, ...] | None = None  # index-format; None: Pine's columns
    saved_msg_name_rule: str = "default-folder"  # saved-msg-name-rule
    fcc_name_rule: str = "default-fcc"  # fcc-name-rule
    # default-composer-hdrs: the header lines COMPOSE shows (To, Subject always); () all.
    default_composer_hdrs: tuple[str, ...] = ()
    read_message_folder: str | None = None  # read-message-folder (auto-move-read-msgs)
    threading_display_style: str = "show-thread-structure"  # threading-display-style
    viewer_hdrs: tuple[str, ...] = ()  # viewer-hdrs: MESSAGE TEXT's headers; () Pine's

    @property
    def default_collection(self) -> str:
        """Pine's default collection for saves: the first folder collection's name, else
        mail-directory (a bare name in Fcc, Save or postponed-folder is a folder there)."""
        if self.folder_collections:
            return self.folder_collections[0].name
        return (self.mail_directory or "mail").rstrip("/") + "/"

    def feature(self, name: str) -> bool:
        """Whether a feature-list entry is on (``no-NAME`` turns it off)."""
        return name in self.features


def parse_collection(item: str) -> Collection:
    """``Mail {host}mail/[]`` -> Collection("Mail", "{host}mail/", "").

    Pine writes a nickname, a space, then the path; a nickname with spaces is quoted.
    Without a nickname, the path is its own label.
    """
    text = item.strip()
    label = ""
    if text.startswith('"') and '"' in text[1:]:
        end = text.index('"', 1)
        label, text = text[1:end], text[end + 1 :]
    elif len(text.split(None, 1)) == 2:
        label, text = text.split(None, 1)
    text = text.strip()
    pattern = ""
    if text.endswith("]") and "[" in text:
        at = text.rfind("[")
        pattern, text = text[at + 1 : -1], text[:at]
    return Collection(label or text, text, pattern)


def server_settings(rc: Pinerc, setting: str) -> tuple[ServerSetting, ...]:
    """The entries of a server list variable (smtp-server, nntp-server), each parsed."""
    return tuple(_server_setting(setting, text) for text in rc.get_list(setting))


def _server_setting(setting: str, text: str) -> ServerSetting:
    try:
        return ServerSetting(text, parse_server_spec(text))
    except PineshError as exc:
        hint = exc.hint or f"write {setting} as host[:port][/flag...] in your pinerc"
        return ServerSetting(text, BadServerSetting(setting, exc.message, hint))


def _features(items: list[str]) -> frozenset[str]:
    on: set[str] = set()
    for item in items:
        name = item.strip().lower()
        if name.startswith("no-"):
            on.discard(name[3:])
        elif name:
            on.add(name)
    return frozenset(on)


def _path(text: str | None) -> Path | None:
    return Path(os.path.expanduser(text)) if text else None


def pine_settings(rc: Pinerc) -> PineSettings:
    """The typed settings of a parsed pinerc (problems stay in rc.problems)."""
    sort = _sort_key(rc)
    return PineSettings(
        personal_name=rc.get("personal-name"),
        user_domain=rc.get("user-domain"),
        inbox_path=rc.get("inbox-path"),
        folder_collections=tuple(parse_collection(i) for i in rc.get_list("folder-collections")),
        news_collections=tuple(parse_collection(i) for i in rc.get_list("news-collections")),
        incoming_folders=tuple(rc.get_list("incoming-folders")),
        default_fcc=_empty_or_value(rc, "default-fcc"),
        postponed_folder=rc.get("postponed-folder"),
        smtp_servers=server_settings(rc, "smtp-server"),
        nntp_servers=server_settings(rc, "nntp-server"),
        sendmail_path=rc.get("sendmail-path"),
        signature_file=_path(rc.get("signature-file")),
        address_books=tuple(rc.get_list("address-book")),
        customized_hdrs=tuple(rc.get_list("customized-hdrs")),
        features=_features(rc.get_list("feature-list")),
        remote_shells=tuple(remote_shells(rc)),
        mail_check_interval=_seconds(rc, "mail-check-interval", 60),
        initial_keystrokes=_keystrokes(rc, "initial-keystroke-list"),
        mail_directory=rc.get("mail-directory"),
        default_saved_msg_folder=rc.get("default-saved-msg-folder"),
        alt_addresses=frozenset(
            a.strip().lower() for a in rc.get_list("alt-addresses") if a.strip()
        ),
        reply_indent_string=_kept_spaces(rc, "reply-indent-string") or "> ",
        reply_leadin=_kept_spaces(rc, "reply-leadin"),
        editor=next(iter(rc.get_list("editor")), None),
        literal_signature=_escaped_text(rc, "literal-signature"),
        newsrc_path=_path(rc.get("newsrc-path")),
        startup_rule=_rule(rc, "incoming-startup-rule", STARTUP_RULES),
        index_format=_index_format(rc),
        saved_msg_name_rule=_rule(rc, "saved-msg-name-rule", SAVE_RULES),
        fcc_name_rule=_rule(rc, "fcc-name-rule", FCC_RULES),
        default_composer_hdrs=tuple(rc.get_list("default-composer-hdrs")),
        read_message_folder=rc.get("read-message-folder"),
        threading_display_style=_rule(rc, "threading-display-style", THREAD_STYLES),
        viewer_hdrs=tuple(h.strip() for h in rc.get_list("viewer-hdrs") if h.strip()),
        sort_key=sort[0],
        sort_reverse=sort[1],
    )


# Pine's sort-key words, and the order pinesh opens with for each (OrderedSubj is Pine's
# threads by subject: pinesh threads by references, RFC 5256's THREAD=REFERENCES).
SORT_KEYS = {
    "arrival": "arrival",
    "date": "date",
    "subject": "subject",
    "from": "from",
    "size": "size",
    "to": "to",
    "thread": "thread",
    "orderedsubj": "thread",
}


def _index_format(rc: Pinerc) -> tuple[IndexColumn, ...] | None:
    """index-format's columns; tokens pinesh does not draw are a problem (left out), and
    a format it cannot read is one too (Pine's columns are used)."""
    text = rc.get("index-format")
    if text is None:
        return None
    try:
        columns, left_out = parse_index_format(text)
    except IndexFormatError as exc:
        rc.problems.append(
            rc.error("index-format", f"{exc.message}; Pine's columns are used", hint=exc.hint)
        )
        return None
    if left_out:
        rc.problems.append(
            rc.error(
                "index-format",
                f"pinesh does not draw {', '.join(left_out)}: left out",
                hint="pinesh draws " + ", ".join(TOKENS),
            )
        )
    return columns


# The name rules pinesh follows (services/name_rules.py draws the names).
SAVE_RULES = (
    "default-folder",
    "by-sender",
    "by-from",
    "by-recipient",
    "by-replyto",
    "by-realname-of-from",
    "last-folder-used",
)
FCC_RULES = ("default-fcc", "by-recipient", "last-fcc-used")
THREAD_STYLES = ("show-thread-structure", "none", "indent-subject-1", "indent-subject-2")


def _rule(rc: Pinerc, name: str, rules: tuple[str, ...]) -> str:
    """A rule among rules; another is a problem naming it, and the first (Pine's default)."""
    text = (rc.get(name) or rules[0]).strip().lower()
    if text in rules:
        return text
    rc.problems.append(
        rc.error(
            name,
            f"{text!r} is not a rule pinesh follows; using {rules[0]}",
            hint="write one of " + ", ".join(rules),
        )
    )
    return rules[0]


STARTUP_RULES = ("first-unseen", "first", "last")


def _sort_key(rc: Pinerc) -> tuple[str, bool]:
    """sort-key as ``Key[/Reverse]``; a key pinesh cannot sort by is a problem, and
    arrival order is used."""
    text = rc.get("sort-key")
    if text is None:
        return "arrival", False
    word, _, flag = text.strip().partition("/")
    key = SORT_KEYS.get(word.strip().lower())
    if key is None or flag.strip().lower() not in ("", "reverse"):
        known = ", ".join(name.title() for name in SORT_KEYS)
        rc.problems.append(
            rc.error(
                "sort-key",
                f"{text!r} is not an order pinesh knows; using Arrival",
                hint=f"write one of {known}, maybe with /Reverse",
            )
        )
        return "arrival", False
    return key, bool(flag.strip())


def _empty_or_value(rc: Pinerc, name: str) -> str | None:
    """A value where "" means something (default-fcc="": keep no copy, as in Alpine):
    "" then, None when unset or left blank, else the value."""
    value = rc.values.get(name)
    if value is not None and value.raw.strip() == '""':
        return ""
    return rc.get(name)


def _escaped_text(rc: Pinerc, name: str) -> str | None:
    """A value holding C-style escapes (literal-signature's \\n): its quotes taken off,
    its backslashes left for the reader (unquote would drop them)."""
    value = rc.values.get(name)
    text = value.raw.strip() if value is not None else ""
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return text or None


def _kept_spaces(rc: Pinerc, name: str) -> str | None:
    """A value whose spaces count ("> ", written "\"> \""): unquoted, not stripped."""
    value = rc.values.get(name)
    if value is None or not value.raw.strip():
        return None
    return unquote(value.raw.strip())


def _keystrokes(rc: Pinerc, name: str) -> tuple[Keystroke, ...]:
    """A keystroke list; a wrong one is a problem, and no keys are pressed."""
    value = rc.values.get(name)
    if value is None or not value.raw.strip():
        return ()
    try:
        return parse_keystrokes(split_keystrokes(value.raw.strip()))
    except KeystrokeError as exc:
        rc.problems.append(rc.error(name, f"{exc.message}; no keys are pressed", hint=exc.hint))
        return ()


def _seconds(rc: Pinerc, name: str, default: int) -> int:
    """A whole number of seconds, 0 or more; a wrong value is a problem, and the default."""
    text = rc.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        rc.problems.append(
            rc.error(
                name,
                f"{text!r} is not a number of seconds; using {default}",
                hint="write a whole number of seconds, or 0 for never",
            )
        )
        return default
    return value
