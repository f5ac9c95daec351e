"""Printing for the command line: sanitized text or JSON, and asking for a password."""

from __future__ import annotations

import dataclasses
import enum
import getpass
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from pinesh.errors import PineshError
from pinesh.textsafe import safe_line, safe_text


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def emit_json(value: Any) -> None:
    """JSON on stdout. Strings are JSON-escaped, so control characters cannot act."""
    json.dump(_plain(value), sys.stdout, ensure_ascii=True, indent=1)
    sys.stdout.write("\n")


def line(text: str) -> None:
    """One line of text for people: control characters made visible."""
    print(safe_line(text))


def marked(text: str) -> None:
    """A line that is pinesh's, not the message's (a signature's frame): in reverse video
    on a terminal, which no text of a message can draw (it is sanitized)."""
    if sys.stdout.isatty():
        print(f"\x1b[7m{safe_line(text)}\x1b[0m")
    else:
        print(safe_line(text))


def note(text: str) -> None:
    """One line for people on stderr, beside the output (e.g. a connection reopened):
    stdout stays the command's result, JSON or text."""
    print(f"pinesh: note: {safe_line(text)}", file=sys.stderr, flush=True)


def block(text: str) -> None:
    """A block of text (a message body): newlines kept, control characters made visible."""
    sys.stdout.write(safe_text(text))
    if not text.endswith("\n"):
        sys.stdout.write("\n")


def can_ask() -> bool:
    """Whether a passphrase can be asked for: a person at a terminal, not a script.
    stdin may be the message (pinesh send < body): the terminal is /dev/tty, which
    getpass reads."""
    if not sys.stderr.isatty():
        return False
    try:
        with open("/dev/tty", "r+b", buffering=0):
            return True
    except OSError:
        return False


def tty_password(prompt: str) -> str:
    """Ask for a password on the terminal (never echoed); an error when there is none."""
    try:
        with open("/dev/tty", "r+b", buffering=0):
            pass
    except OSError:
        raise PineshError(
            f"{prompt.rstrip(': ')} is needed, and there is no terminal to ask on",
            hint="use an ssh route (preauth needs no password), or run pinesh in a terminal",
        ) from None
    return getpass.getpass(safe_line(prompt))
