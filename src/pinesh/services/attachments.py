"""Attachments: safe file names, atomic saving, and viewers from mailcap or xdg-open.

Mailcap (RFC 1524) entries are shell commands, and pinesh runs no shell. An entry is used
only when it reads as a plain command line: it is split with shlex, ``%s`` becomes the path
of a private temporary copy as one argv element (``%t`` the content type, ``%%`` a
percent sign), and an entry that holds shell syntax (``| & ; < > ( ) $ `` and backquote,
or a newline) is refused, with a message saying so. A ``test=`` field is honoured only
in the common forms ``test -n "$VAR"``, ``test -z "$VAR"`` and ``test "$VAR"``; an entry
with any other test is skipped, since evaluating it would need a shell.
"""

from __future__ import annotations

import atexit
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pinesh.errors import PineshError

MAX_NAME_BYTES = 200
CAPTURE_TIMEOUT = 60.0  # seconds a copiousoutput viewer may run
MAX_CAPTURE = 4 * 1024 * 1024  # bytes of a viewer's output shown
_SHELL_SYNTAX = set("|&;<>()$`\n")
_TEST = re.compile(r'test\s+(?:(-[nz])\s+)?"?\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?"?\s*\Z')
_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+\Z")


class ViewerError(PineshError):
    """No safe viewer for an attachment."""


# --------------------------------------------------------------------------- saving


def safe_filename(name: str | None, fallback: str = "attachment") -> str:
    """A file name from a message made safe to create: its last path component only, no
    control or format characters, no leading dots or blanks, at most 200 bytes."""
    text = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    if len(text) > MAX_NAME_BYTES:  # a hostile name may be megabytes: cut it in one step
        stem, dot, ext = text.rpartition(".")
        keep = bool(dot and stem and len(ext) <= 10)
        text = stem[:MAX_NAME_BYTES] + "." + ext if keep else text[:MAX_NAME_BYTES]
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] not in "CZ" or ch == " ")
    text = text.strip().lstrip(".").strip()
    while len(text.encode("utf-8")) > MAX_NAME_BYTES:
        stem, dot, ext = text.rpartition(".")
        keep_extension = bool(dot and stem and len(ext) <= 10)
        text = stem[:-1] + "." + ext if keep_extension else text[:-1]
    return text or fallback


def save_path(text: str, name: str | None = None) -> Path:
    """Where a path typed by the user points: ~ expanded, relative names under the home;
    a directory (one that exists, or any path written with a "/" at its end) gets name
    (the name offered) inside it."""
    typed = text.strip()
    path = Path(os.path.expanduser(typed))
    path = path if path.is_absolute() else Path.home() / path
    if name and (typed.endswith("/") or path.is_dir()):
        return path / name
    return path


def write_file(path: Path, chunks: Iterable[bytes], *, overwrite: bool = False) -> int:
    """Write chunks to path atomically (a temporary file in the same directory, fsynced,
    then linked or renamed into place), mode 0600. Without overwrite an existing path
    raises FileExistsError and is left alone; a directory raises IsADirectoryError. The bytes
    written."""
    path = Path(path)
    if path.is_dir():  # not "exists, overwrite it?": a directory cannot be overwritten
        raise IsADirectoryError(21, "Is a directory (give a file name in it)", str(path))
    if not overwrite and path.exists():
        raise FileExistsError(17, "File exists", str(path))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".pinesh-", suffix=".part")
    total = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
                total += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if path appeared meanwhile: never clobbers
            except FileExistsError:
                raise
            except OSError:  # a file system without hard links
                if path.exists():
                    raise FileExistsError(17, "File exists", str(path)) from None
                os.rename(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    return total


# --------------------------------------------------------------------------- mailcap


@dataclass(frozen=True)
class MailcapEntry:
    """One mailcap line: a content type (maybe ``type/*``), its command and its flags."""

    content_type: str
    command: str
    needs_terminal: bool = False
    copious_output: bool = False
    test: str | None = None
    name_template: str | None = None
    source: str = ""  # file:line, for messages

    def matches(self, content_type: str) -> bool:
        mine = self.content_type
        return mine == content_type or (mine.endswith("/*") and content_type.startswith(mine[:-1]))


def _fields(line: str) -> list[str]:
    """A mailcap line split at ';' (``\\;`` is a literal semicolon)."""
    fields, current, escaped = [], [], False
    for ch in line:
        if escaped:
            current.append(ch if ch == ";" else "\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ";":
            fields.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    fields.append("".join(current).strip())
    return fields


def parse_mailcap(text: str, source: str = "mailcap") -> list[MailcapEntry]:
    """The entries of a mailcap file, in order (comments and broken lines skipped)."""
    entries = []
    logical, first = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if not logical:
            first = number
        if line.endswith("\\"):
            logical += line[:-1]
            continue
        logical += line
        entry, logical = logical.strip(), ""
        if not entry or entry.startswith("#"):
            continue
        fields = _fields(entry)
        if len(fields) < 2 or not fields[0] or not fields[1]:
            continue
        content_type = fields[0].lower()
        if "/" not in content_type:
            content_type += "/*"
        flags: dict[str, str | None] = {}
        for item in fields[2:]:
            key, equals, value = item.partition("=")
            flags[key.strip().lower()] = value.strip() if equals else None
        entries.append(
            MailcapEntry(
                content_type,
                fields[1],
                needs_terminal="needsterminal" in flags,
                copious_output="copiousoutput" in flags,
                test=flags.get("test"),
                name_template=flags.get("nametemplate"),
                source=f"{source}:{first}",
            )
        )
    return entries


def mailcap_paths(env: Mapping[str, str] | None = None) -> list[Path]:
    """$MAILCAPS (colon separated) or ~/.mailcap then /etc/mailcap (RFC 1524's search)."""
    env = os.environ if env is None else env
    if env.get("MAILCAPS"):
        return [Path(os.path.expanduser(p)) for p in env["MAILCAPS"].split(":") if p]
    return [Path.home() / ".mailcap", Path("/etc/mailcap")]


def load_mailcaps(paths: Iterable[Path]) -> list[MailcapEntry]:
    entries: list[MailcapEntry] = []
    for path in paths:
        try:
            text = path.read_text("utf-8", "replace")
        except OSError:
            continue
        entries += parse_mailcap(text, str(path))
    return entries


def mailcap_test_passes(test: str | None, env: Mapping[str, str]) -> bool | None:
    """Whether a test= field passes; None when it cannot be told without a shell."""
    if test is None:
        return True
    found = _TEST.match(test.strip())
    if found is None:
        return None
    option, name = found.groups()
    return not env.get(name) if option == "-z" else bool(env.get(name))


def command_argv(command: str, path: Path, content_type: str) -> tuple[tuple[str, ...], bool]:
    """The argv of a mailcap command for a file, and whether the file goes on stdin (no
    %s); ViewerError when the command needs a shell."""
    shell = sorted(ch for ch in set(command) & _SHELL_SYNTAX)
    if shell:
        shown = " ".join("newline" if ch == "\n" else ch for ch in shell)
        raise ViewerError(
            f"the mailcap command {command!r} uses shell syntax ({shown})",
            hint="pinesh runs viewers without a shell; write a plain command, e.g. 'less %s'",
        )
    if "%{" in command:
        raise ViewerError(f"the mailcap command {command!r} uses %{{...}} (not supported)")
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise ViewerError(f"the mailcap command {command!r} cannot be read: {exc}") from None
    if not words:
        raise ViewerError("an empty mailcap command")
    kind = content_type if _TYPE.match(content_type) else "application/octet-stream"
    uses_file = False
    argv = []
    for word in words:
        if "%s" in word:
            uses_file = True
        argv.append(
            word.replace("%%", "\0").replace("%s", str(path)).replace("%t", kind).replace("\0", "%")
        )
    return tuple(argv), not uses_file


@dataclass(frozen=True)
class Viewer:
    """How to show one file: the argv to run, and how it wants the terminal."""

    argv: tuple[str, ...]
    stdin: Path | None = None  # the file goes on standard input
    needs_terminal: bool = False  # run it in the terminal, pinesh suspended
    copious_output: bool = False  # run it, capture its output, show that as text
    source: str = ""

    @property
    def detached(self) -> bool:
        """A window of its own (started and left running)."""
        return not self.needs_terminal and not self.copious_output


def find_entry(
    content_type: str, entries: Iterable[MailcapEntry], env: Mapping[str, str]
) -> MailcapEntry | None:
    """The first entry for content_type whose test passes (exact types before type/*)."""
    content_type = content_type.lower()
    candidates = [e for e in entries if e.matches(content_type)]
    candidates.sort(key=lambda e: e.content_type.endswith("/*"))  # stable: file order kept
    for entry in candidates:
        if mailcap_test_passes(entry.test, env):
            return entry
    return None


def temp_name(filename: str | None, entry: MailcapEntry | None) -> str:
    """A temporary file name: the attachment's, reduced to [A-Za-z0-9._-], with the
    suffix of the entry's nametemplate (some viewers go by the extension)."""
    # Not "-x" (an option to the viewer), nor "." or ".." (the directory or its parent).
    name = re.sub(r"[^A-Za-z0-9._-]", "_", safe_filename(filename)).lstrip("-.") or "attachment"
    template = entry.name_template if entry else None
    if template and template.startswith("%s"):
        suffix = re.sub(r"[^A-Za-z0-9._-]", "_", template[2:])
        if suffix and not name.endswith(suffix):
            name += suffix
    return name


def choose_viewer(
    content_type: str,
    path: Path,
    entry: MailcapEntry | None,
    env: Mapping[str, str] | None = None,
) -> Viewer:
    """The viewer for a file: its mailcap entry, else xdg-open under a graphical session,
    else ViewerError saying what to do."""
    env = os.environ if env is None else env
    if entry is not None:
        argv, on_stdin = command_argv(entry.command, path, content_type)
        return Viewer(
            argv,
            path if on_stdin else None,
            entry.needs_terminal,
            entry.copious_output,
            entry.source,
        )
    opener = shutil.which("xdg-open")
    if opener and (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return Viewer((opener, str(path)), source="xdg-open")
    raise ViewerError(
        f"no viewer for {content_type}",
        hint="add a line for it to ~/.mailcap (e.g. 'image/png; feh %s'), or save it with S",
    )


_temp_dirs: list[str] = []


def _remove_temp_dirs() -> None:
    for directory in _temp_dirs:
        shutil.rmtree(directory, ignore_errors=True)


def temp_path(name: str) -> Path:
    """A path for a private copy of an attachment: in a new 0700 directory removed at
    exit (not sooner: a viewer in a window of its own may read the file at any time)."""
    if not _temp_dirs:
        atexit.register(_remove_temp_dirs)
    directory = tempfile.mkdtemp(prefix="pinesh-view-")
    _temp_dirs.append(directory)
    return Path(directory) / name


def _stdin(viewer: Viewer) -> int | None:
    if viewer.stdin is None:
        return None
    return os.open(viewer.stdin, os.O_RDONLY | os.O_CLOEXEC)


def run_waiting(viewer: Viewer) -> int:
    """Run a terminal viewer and wait for it (the caller suspends the UI first)."""
    fd = _stdin(viewer)
    try:
        return subprocess.run(viewer.argv, stdin=fd, check=False).returncode
    finally:
        if fd is not None:
            os.close(fd)


def run_captured(viewer: Viewer) -> str:
    """Run a copiousoutput viewer and return what it printed (not yet sanitized)."""
    fd = _stdin(viewer)
    try:
        done = subprocess.run(
            viewer.argv,
            stdin=fd if fd is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=CAPTURE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ViewerError(f"{viewer.argv[0]} ran over {CAPTURE_TIMEOUT:.0f} s; stopped") from None
    finally:
        if fd is not None:
            os.close(fd)
    return done.stdout[:MAX_CAPTURE].decode("utf-8", "replace")


def run_detached(viewer: Viewer) -> None:
    """Start a viewer with a window of its own, in its own session, and leave it running."""
    fd = _stdin(viewer)
    try:
        subprocess.Popen(
            viewer.argv,
            stdin=fd if fd is not None else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        if fd is not None:
            os.close(fd)
