"""The early open: the folder opened in a thread is taken once, by the first read-write
open of that name; its error is raised once; a folder nobody took is closed at exit.

Real folders (a local Maildir made by fill_maildir) and a real failing remote open (a
closed loopback port, refused at once). tests/integration/test_tui_tmux.py shows the
early open over ssh, through the installed command.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.errors import PineshError
from pinesh.services.connections import Connections
from pinesh.services.mail import MailSession
from pinesh.services.prewarm import EarlyFolder, EarlySession, discard_early
from pinesh.stores.base import Folder
from tests.lab.maildir_fill import fill_maildir

CLOSED_PORT = "{127.0.0.1:1/notls}INBOX"  # nothing listens on port 1: refused at once


def _session(tmp_path: Path) -> tuple[EarlySession, str]:
    maildir = tmp_path / "Maildir"
    fill_maildir(maildir, 5, seed=3)
    rc = parse_pinerc(f"inbox-path=#md/{maildir}\n", str(tmp_path / "pinerc"))
    connections = Connections(Settings(state_dir=tmp_path / "state"), rc)
    session = EarlySession(connections, pine_settings(rc), data_dir=tmp_path / "data")
    return session, f"#md/{maildir}"


def _start(
    session: EarlySession,
    name: str,
    gate: threading.Event | None = None,
    closed: list[Folder] | None = None,
) -> EarlyFolder:
    """An early open of a local folder (open_early starts only remote ones); a folder it
    opened is added to closed when it is closed."""

    def open_now() -> Folder:
        if gate is not None:
            gate.wait(10)
        folder = MailSession.open_folder(session, name)
        real_close = folder.close

        def close() -> None:
            if closed is not None:
                closed.append(folder)
            real_close()

        setattr(folder, "close", close)  # noqa: B010 - instrumenting one instance
        return folder

    early = EarlyFolder(name, open_now)
    session.early = early
    early.start()
    return early


def test_the_first_read_write_open_takes_the_early_folder_once(tmp_path: Path) -> None:
    session, name = _session(tmp_path)
    gate = threading.Event()
    early = _start(session, name, gate)
    threading.Timer(0.2, gate.set).start()  # the open is still running when it is asked for
    began = time.monotonic()
    taken = session.open_folder(name)
    assert time.monotonic() - began >= 0.15  # it waited for the early open
    assert len(taken.uids()) == 5
    again = session.open_folder(name)
    assert again is not taken and session.early is None
    for folder in (taken, again):
        folder.close()
    discard_early(early)  # nothing left to close: taken


def test_a_read_only_or_other_open_leaves_it(tmp_path: Path) -> None:
    session, name = _session(tmp_path)
    early = _start(session, name)
    other = session.open_folder(name, read_only=True)
    assert session.early is early
    taken = session.open_folder(name)
    assert taken is not other and session.early is None
    other.close()
    taken.close()


def test_the_early_error_is_raised_by_the_first_open_only(tmp_path: Path) -> None:
    session, _ = _session(tmp_path)
    failure = PineshError("the early open failed")

    def fail() -> Folder:
        raise failure

    early = EarlyFolder("INBOX", fail)
    session.early = early
    early.start()
    with pytest.raises(PineshError) as caught:
        session.open_folder("INBOX")
    assert caught.value is failure
    session.open_folder("INBOX").close()  # the next one opens for itself (here: the Maildir)


def test_discard_closes_a_folder_nobody_took_even_one_still_opening(tmp_path: Path) -> None:
    session, name = _session(tmp_path)
    closed: list[Folder] = []
    early = _start(session, name, closed=closed)
    time.sleep(0.3)
    assert closed == []
    discard_early(early)
    assert len(closed) == 1

    gate = threading.Event()
    late = _start(session, name, gate, closed)
    discard_early(late)  # quit before the open finished
    gate.set()
    deadline = time.monotonic() + 10
    while len(closed) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(closed) == 2  # closed by the early thread itself, once its open was done
    assert session.open_folder(name) is not closed[1]


def test_open_early_starts_only_for_a_remote_folder(tmp_path: Path) -> None:
    session, name = _session(tmp_path)
    assert session.open_early("INBOX") is None  # the local Maildir inbox
    assert session.open_early(name) is None
    assert session.open_early("{-bad}INBOX") is None  # the index reports the name later
    early = session.open_early(CLOSED_PORT)
    assert early is not None and session.early is early
    with pytest.raises(PineshError) as first:
        session.open_folder(CLOSED_PORT)
    assert "127.0.0.1" in str(first.value)
    assert session.early is None
