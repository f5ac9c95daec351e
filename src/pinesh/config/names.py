"""Checks on host and user names before they go anywhere near an argv or a protocol.

A name that starts with '-' could be read as an option by ssh; whitespace or control
characters could split an argv built from a template or forge protocol lines. These are
refused, never quoted or repaired.
"""

from __future__ import annotations

import re

from pinesh.errors import UnsafeNameError

# Hostnames, IPv4/IPv6 literals (bracketed or not) and ssh_config aliases.
_HOST = re.compile(r"^[A-Za-z0-9_.:\[\]%-]+$")
_USER = re.compile(r"^[A-Za-z0-9_.@+=%~][A-Za-z0-9_.@+=%~-]*$")


def _refuse_common(kind: str, value: str) -> None:
    if not value:
        raise UnsafeNameError(f"empty {kind} name", hint=f"give a {kind} name")
    if value.startswith("-"):
        raise UnsafeNameError(
            f"refusing {kind} name {value!r}: it starts with '-' and could be read as an option",
            hint=f"check the {kind} in your configuration or command line",
        )
    bad = [c for c in value if c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F]
    if bad:
        raise UnsafeNameError(
            f"refusing {kind} name {value!r}: it holds whitespace or control characters",
            hint=f"check the {kind} in your configuration or command line",
        )


def check_host(host: str) -> str:
    """Return host if it is safe to pass to ssh or connect to; raise UnsafeNameError if not."""
    _refuse_common("host", host)
    if not _HOST.match(host):
        raise UnsafeNameError(
            f"refusing host name {host!r}: only letters, digits, '.', '-', '_', ':' and "
            "IPv6 brackets are allowed",
            hint="check the host in your configuration or command line",
        )
    return host


def check_user(user: str) -> str:
    """Return user if it is safe to pass to ssh -l or a protocol; raise UnsafeNameError if not."""
    _refuse_common("user", user)
    if not _USER.match(user):
        raise UnsafeNameError(
            f"refusing user name {user!r}: it holds characters a login name cannot have",
            hint="check the user in your configuration or command line",
        )
    return user


def check_port(port: int, what: str = "port") -> int:
    """Return port if it is a valid TCP port number."""
    if not 0 < port < 65536:
        raise UnsafeNameError(f"{what} {port} is not a TCP port (1-65535)")
    return port


def normalize_fingerprint(text: str) -> str:
    """'sha256:AA:BB:..' or 'aabb..' -> 'aabb..' (64 lowercase hex digits); else ValueError."""
    value = text.strip().lower()
    value = value.removeprefix("sha256:").replace(":", "")
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise ValueError(f"not a sha256 fingerprint: {text!r} (64 hex digits expected)")
    return value


def check_word(word: str, what: str) -> str:
    """A word of a command: no NUL or other control characters (they cannot be passed on)."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in word):
        raise UnsafeNameError(f"{what}: {word!r} holds control characters")
    return word
