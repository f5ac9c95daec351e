"""A .pinerc alone gets the shared master: ssh-path=/usr/bin/ssh rides one login per host.

No pinesh rule: only Pine's ssh-path/ssh-command. A minimal pinesh config gives the test
its own control and state directories (so no other test's master is reused or counted).
The logins are counted from the lab sshd's own log.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import OptionList

from pinesh.config.pinesh_toml import parse_settings
from pinesh.services.folder_view import FolderView
from pinesh.services.folders import FolderService
from pinesh.services.mail import open_session
from pinesh.transport.masters import MasterPool
from pinesh.transport.routes import SshPreauthRoute
from pinesh.ui.app import PineshApp
from pinesh.ui.folder_list_screen import FolderListScreen
from pinesh.ui.index_screen import IndexScreen
from tests.integration.helpers import short_dir
from tests.lab.dovecot import LabDovecot
from tests.lab.maildir_fill import fill_maildir
from tests.lab.sshd import LabSshd
from tests.ui.test_index_screen import index_of, press, settle, status

BIN = Path(sys.executable).parent


def pinerc_text(sshd: LabSshd) -> str:
    """Pine's own words only: the OpenSSH client, with the lab's client config in the template."""
    server = f"{{{sshd.alias}/user={sshd.user.name}}}"
    return (
        f"inbox-path={server}INBOX\n"
        f"folder-collections=Mail {server}[]\n"
        f"ssh-path={shutil.which('ssh')}\n"
        f"ssh-command=%s %s -F {sshd.client_config} -q -l %s exec /etc/r%sd\n"
        "ssh-open-timeout=10\n"
    )


def private_dirs(work: Path) -> Path:
    """A pinesh config that only keeps this test's masters and memory apart."""
    config = work / "config.toml"
    config.write_text(
        f'state_dir = "{work / "state"}"\n\n[ssh]\ncontrol_dir = "{work / "ctl"}"\npersist = 60\n'
    )
    return config


def pinerc_alone(sshd: LabSshd, work: Path) -> tuple[Path, Path]:
    """(config, pinerc) in work: the pinerc of pinerc_text, a config of private_dirs, and
    work/home for the command line's HOME."""
    (work / "home").mkdir(exist_ok=True)
    pinerc = work / "pinerc"
    pinerc.write_text(pinerc_text(sshd))
    return private_dirs(work), pinerc


def pinesh(config: Path, pinerc: Path, work: Path, *args: str) -> object:
    """One command-line run, as a user would type it, with --json output."""
    done = subprocess.run(
        [str(BIN / "pinesh"), "-p", str(pinerc), "--json", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PINESH_CONFIG": str(config), "HOME": str(work / "home")},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_pinerc_alone_costs_one_ssh_login_for_everything(
    sshd: LabSshd, dovecot: LabDovecot, lab_maildir: Path
) -> None:
    fill_maildir(lab_maildir, 4, seed=31, owner=dovecot.user)
    fill_maildir(lab_maildir, 2, seed=32, folder="Other", owner=dovecot.user)
    with short_dir() as work:
        config, pinerc = pinerc_alone(sshd, work)
        before = sshd.authentications()
        logins = dovecot.logins()
        try:
            session = open_session(str(config), str(pinerc))
            session.data_dir = work / "data"
            try:
                # What the client does at launch: INBOX's index, the folder list, another folder.
                inbox = FolderView.open(session, "INBOX")
                assert inbox.summary().startswith(f"INBOX via ssh {sshd.user.name}@lab (preauth, ")
                assert len(inbox.window(0, 50)) == 4
                channel = getattr(inbox.folder, "channel", None)
                assert channel is not None and isinstance(channel.route, SshPreauthRoute)
                assert channel.route.origin == "ssh-command"
                folders = FolderService(session)
                [mail] = folders.collections()
                listing = folders.listing(mail)
                assert listing.error is None, listing.error
                assert "Other" in [entry.display for entry in listing.entries]
                other = FolderView.open(session, listing.entries[-1].name)
                assert len(other.window(0, 50)) == 2
                assert "(preauth, shared)" in other.summary()
                other.close()
                inbox.close()
            finally:
                session.close()
            assert sshd.authentications() - before == 1

            # Two command-line runs in a row ride the same master: still one login.
            index = pinesh(config, pinerc, work, "index", "INBOX")
            assert isinstance(index, dict) and index["status"]["count"] == 4
            listed = pinesh(config, pinerc, work, "folders")
            assert isinstance(listed, list)
            assert "Other" in [f["display"] for group in listed for f in group["folders"]]
            assert sshd.authentications() - before == 1
            assert dovecot.logins() == logins  # preauthenticated: no password login anywhere
        finally:
            MasterPool(parse_settings(config.read_text(), str(config)).ssh).stop()


def test_doctor_says_the_route_came_from_the_pinerc(sshd: LabSshd, dovecot: LabDovecot) -> None:
    with short_dir() as work:
        config, pinerc = pinerc_alone(sshd, work)
        try:
            done = subprocess.run(
                [str(BIN / "pinesh"), "-p", str(pinerc), "doctor", "--service", "imap"],
                capture_output=True,
                text=True,
                env={**os.environ, "PINESH_CONFIG": str(config)},
                timeout=120,
                check=False,
            )
            rows = [line for line in done.stdout.splitlines() if line.startswith("lab ")]
            assert rows[0].split()[2:4] == ["pinerc", "ssh-command:"], done.stdout
            assert " ok " in rows[0]
            assert (
                f"note: ssh-command {shutil.which('ssh')}: through pinesh's shared ssh master "
                f"for {sshd.user.name}@lab with -F {sshd.client_config}"
            ) in done.stdout
        finally:
            MasterPool(parse_settings(config.read_text(), str(config)).ssh).stop()


def test_the_client_on_a_pinerc_alone_logs_in_once(
    sshd: LabSshd, dovecot: LabDovecot, lab_maildir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The terminal client (as `pinesh -f INBOX`): index, folder list, another folder."""
    fill_maildir(lab_maildir, 3, seed=33, owner=dovecot.user)
    fill_maildir(lab_maildir, 2, seed=34, folder="Other", owner=dovecot.user)
    with short_dir() as work:
        config, pinerc = pinerc_alone(sshd, work)
        monkeypatch.setenv("HOME", str(work / "home"))
        monkeypatch.setenv("XDG_STATE_HOME", str(work / "st"))
        monkeypatch.setenv("XDG_DATA_HOME", str(work / "data"))
        before = sshd.authentications()
        session = open_session(str(config), str(pinerc))
        app = PineshApp(session, "INBOX", start_in_index=True)

        async def launch() -> None:
            async with app.run_test(size=(120, 40)) as pilot:
                await settle(app, pilot)
                assert isinstance(app.screen, IndexScreen)
                assert f"via ssh {sshd.user.name}@lab (preauth, " in status(app), status(app)
                assert index_of(app).count == 3
                await press(app, pilot, "less_than_sign")
                assert isinstance(app.screen, FolderListScreen)
                options = app.screen.query_one(OptionList)
                lines = [
                    str(options.get_option_at_index(i).prompt) for i in range(options.option_count)
                ]
                options.highlighted = next(
                    i for i, line in enumerate(lines) if line.split()[:1] == ["Other"]
                )
                await press(app, pilot, "greater_than_sign")
                assert isinstance(app.screen, IndexScreen)
                assert index_of(app).count == 2
                assert "(preauth, shared)" in status(app), status(app)

        try:
            asyncio.run(launch())
        finally:
            session.close()
            MasterPool(parse_settings(config.read_text(), str(config)).ssh).stop()
        assert sshd.authentications() - before == 1
