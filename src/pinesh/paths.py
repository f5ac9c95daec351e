"""Where pinesh keeps its files: every default location of the program, in one place.

- config_file: ``--config``, else $PINESH_CONFIG, else $XDG_CONFIG_HOME/pinesh/config.toml.
- pinerc_file: ``-p``, else $PINERC, else ~/.pinerc (Pine's settings).
- state_dir: $XDG_STATE_HOME/pinesh (the setting ``state_dir`` overrides it): the route
  and preauth memory, the client fork server's log; mbox_journal_dir below it.
- data_dir: $XDG_DATA_HOME/pinesh: outbox_dir below it.
- cache_dir: $XDG_CACHE_HOME/pinesh: the header cache (stores/cache).
- runtime_dir: $XDG_RUNTIME_DIR/pinesh, else /tmp/pinesh-UID (the setting
  ``ssh.control_dir`` overrides it): ssh control sockets, locks, forwards, the fork server.

An unset or empty XDG variable means its default below the home directory (~/.config,
~/.local/state, ~/.local/share, ~/.cache), as the XDG base directory specification says.

One exception: the client fork server's thin client (cli/client_server.py, ``thin_settings``)
finds the runtime and state directories and the config file with ``os.path`` alone, by the
same rules: importing this module (pathlib) would cost every launch 23 ms.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

APP = "pinesh"


def _xdg_home(variable: str, default: str) -> Path:
    """$variable, else ~/default (an empty value counts as unset)."""
    return Path(os.environ.get(variable) or Path.home() / default).expanduser()


def default_config_file() -> Path:
    """$XDG_CONFIG_HOME/pinesh/config.toml, else ~/.config/pinesh/config.toml."""
    return _xdg_home("XDG_CONFIG_HOME", ".config") / APP / "config.toml"


def config_file(explicit: str | None) -> tuple[Path, bool]:
    """The config file to read, and whether the user named it (so it must exist):
    explicit (``--config``), else $PINESH_CONFIG, else default_config_file()."""
    if explicit:
        return Path(explicit).expanduser(), True
    env = os.environ.get("PINESH_CONFIG")
    if env:
        return Path(env).expanduser(), True
    return default_config_file(), False


def pinerc_file(explicit: str | None = None) -> Path:
    """Pine's config: explicit (``-p``), else $PINERC, else ~/.pinerc (as Pine)."""
    return Path(explicit or os.environ.get("PINERC") or Path.home() / ".pinerc").expanduser()


def state_dir() -> Path:
    """$XDG_STATE_HOME/pinesh, else ~/.local/state/pinesh (unless ``state_dir`` is set)."""
    return _xdg_home("XDG_STATE_HOME", ".local/state") / APP


def mbox_journal_dir() -> Path:
    """Where an mbox rewrite keeps its journal when the mailbox's directory cannot."""
    return state_dir() / "mbox-journals"


def data_dir() -> Path:
    """$XDG_DATA_HOME/pinesh, else ~/.local/share/pinesh."""
    return _xdg_home("XDG_DATA_HOME", ".local/share") / APP


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/pinesh, else ~/.cache/pinesh: what can be fetched again."""
    return _xdg_home("XDG_CACHE_HOME", ".cache") / APP


def outbox_dir(data: Path | None = None) -> Path:
    """The outbox in data (else in data_dir()): messages that could not be sent yet."""
    return (data or data_dir()) / "outbox"


def runtime_dir() -> Path:
    """$XDG_RUNTIME_DIR/pinesh when that directory is ours, else /tmp/pinesh-UID.

    The /tmp one may have been planted by someone else: transport.private_dir checks it
    before anything is put there.
    """
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        try:
            info = os.stat(xdg)
        except OSError:
            info = None
        if info is not None and info.st_uid == os.getuid() and stat.S_ISDIR(info.st_mode):
            return Path(xdg) / APP
    return Path(f"/tmp/{APP}-{os.getuid()}")  # noqa: S108 - checked by ensure_private_dir
