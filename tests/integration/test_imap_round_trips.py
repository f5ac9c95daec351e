"""How many times the terminal client waits for the IMAP server, counted on the server's end.

The lab's preauth imapd runs behind a relay that logs every chunk each way
(tests/lab/imap_wire.py); the app is driven through Textual's Pilot as a user would: open
INBOX, page down, open a message, save it to another folder, go to that folder. Each step
is tallied over every IMAP connection it used: round trips (runs of client bytes with no
server bytes between them) and the commands sent.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from pinesh.config.pine_settings import pine_settings
from pinesh.services.connections import load_connections
from pinesh.services.mail import MailSession
from pinesh.ui.app import PineshApp
from pinesh.ui.index_screen import IndexScreen
from pinesh.ui.message_screen import MessageScreen
from pinesh.ui.prompts import PromptScreen
from tests.integration.helpers import imap_command_rule, short_dir, stop_masters, write_config
from tests.lab.dovecot import LabDovecot
from tests.lab.imap_wire import Tally, WireLog, install_relay
from tests.lab.maildir_fill import fill_maildir
from tests.lab.sshd import LabSshd
from tests.ui.test_index_screen import answer, index_of, rows, settle

pytestmark = pytest.mark.lab

MESSAGES = 300
UNSEEN = range(100, 106)  # UIDs left unseen: the first is far from the newest window


def _mark_seen_but(maildir: Path, unseen: range) -> None:
    """Every message \\Seen except the UIDs in unseen (fill_maildir names them in order)."""
    files = sorted(
        (p for sub in ("cur", "new") for p in (maildir / sub).iterdir()),
        key=lambda p: int(p.name.split(".")[0]),
    )
    assert len(files) == MESSAGES
    for uid, path in enumerate(files, 1):
        base = path.name.split(":2,")[0]
        path.rename(maildir / "cur" / f"{base}:2,{'' if uid in unseen else 'S'}")


@pytest.fixture
def wired(sshd: LabSshd, dovecot: LabDovecot, lab_maildir: Path) -> Iterator[tuple[Path, Path]]:
    """(work directory, relay log directory), INBOX filled and a second folder Archive."""
    fill_maildir(lab_maildir, MESSAGES, seed=5, owner=dovecot.user)
    _mark_seen_but(lab_maildir, UNSEEN)
    fill_maildir(lab_maildir, 40, seed=6, folder="Archive", owner=dovecot.user)
    relay_dir = Path(tempfile.mkdtemp(prefix="pn-wire-", dir="/tmp"))
    try:
        with short_dir() as work:
            yield work, relay_dir
    finally:
        shutil.rmtree(relay_dir, ignore_errors=True)


def _session(sshd: LabSshd, work: Path, command: list[str]) -> MailSession:
    rule = imap_command_rule(command)
    config = write_config(sshd, work, rule)
    pinerc = work / "pinerc"
    pinerc.write_text(f"user-domain=pinesh.test\ninbox-path={{lab/user={sshd.user.name}}}INBOX\n")
    connections = load_connections(str(config), str(pinerc))
    return MailSession(connections, pine_settings(connections.pinerc), data_dir=work / "data")


async def _still(app: PineshApp, pilot: Pilot[None]) -> None:
    """Settle until the workers' follow-ups (a window asked after the cursor moved) are done."""
    for _ in range(3):
        await settle(app, pilot)


def test_round_trips_of_launch_scroll_open_save_and_a_second_folder(
    sshd: LabSshd, wired: tuple[Path, Path]
) -> None:
    work, relay_dir = wired
    command, logs = install_relay(relay_dir)
    session = _session(sshd, work, command)
    archive = f"{{lab/user={sshd.user.name}}}Archive"
    app = PineshApp(session)
    wire = WireLog(logs)
    tallies: dict[str, Tally] = {}

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await _still(app, pilot)
            wire.tally()  # nothing IMAP yet
            await pilot.press("i")
            await _still(app, pilot)
            assert isinstance(app.screen, IndexScreen)
            index = index_of(app)
            assert index.cursor == UNSEEN[0] - 1  # Pine starts on the first unseen
            assert rows(app)[index.cursor].strip(), "the row under the cursor is drawn"
            tallies["launch"] = wire.tally()
            await pilot.press("space")
            await _still(app, pilot)
            tallies["scroll"] = wire.tally()
            await pilot.press("enter")
            await _still(app, pilot)
            assert isinstance(app.screen, MessageScreen)
            tallies["open a message"] = wire.tally()
            await pilot.press("less_than_sign")
            await _still(app, pilot)
            wire.tally()
            await pilot.press("s")
            await _still(app, pilot)
            assert isinstance(app.screen, PromptScreen)
            await answer(app, pilot, archive)
            await _still(app, pilot)
            tallies["save to another folder"] = wire.tally()
            await pilot.press("g")
            await _still(app, pilot)
            await answer(app, pilot, archive)
            await _still(app, pilot)
            assert isinstance(app.screen, IndexScreen) and index_of(app).count == 41
            tallies["open a second folder"] = wire.tally()

    try:
        asyncio.run(main())
    finally:
        stop_masters(session.connections)
    for action, tally in tallies.items():
        print(f"{action}: {tally.round_trips} round trips, {tally.commands}")
    commands = {action: tally.commands for action, tally in tallies.items()}
    # Each step's round trips; docs/benchmarks.md "IMAP round trips on the wire" has the
    # counts before pipelining (launch: 10).
    assert {action: tally.round_trips for action, tally in tallies.items()} == {
        "launch": 2,  # SELECT + both searches in one write; then the window shown
        "scroll": 1,
        "open a message": 2,  # BODYSTRUCTURE, then the text part it names
        "save to another folder": 3,  # COPY, STORE \\Deleted, the row the cursor moved to
        "open a second folder": 3,  # the first folder's LOGOUT (its own connection) + 2
    }
    assert commands["launch"] == ["SELECT", "UID SEARCH", "UID SEARCH", "UID FETCH"]
    assert commands["open a second folder"] == [
        "LOGOUT",
        "SELECT",
        "UID SEARCH",
        "UID SEARCH",
        "UID FETCH",
    ]
    assert commands["save to another folder"][:2] == ["UID COPY", "UID STORE"]
