"""Alpine and mutt at home open the mail host's INBOX across the link, preauthenticated,
with no pinesh rule: `pinesh connect` serves the server the user's ~/.pinerc names.

Alpine runs ssh itself (its own ssh-path, one login per stream, as Pine did) or through
`pinesh-connect`; mutt through its `tunnel`. A working screen is not proof of preauth
(Alpine quietly falls back to plain IMAP), so each test also counts the mail host's ssh
logins and checks that Dovecot's password daemon saw none.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import short_dir
from tests.integration.netlab_helpers import BIN, PINESH, stop_masters, write_home_files
from tests.lab.maildir_fill import fill_maildir
from tests.lab.netlab import NetLab
from tests.lab.tmux import TmuxScreen


@pytest.fixture
def inbox(lab_maildir: Path, netlab: NetLab) -> str:
    """Five messages in the mail host's INBOX; returns the start of the newest's subject."""
    filled = fill_maildir(lab_maildir, 5, seed=17, owner=netlab.user)
    plain = [m for m in filled if m.subject.isascii()]
    return (plain or filled)[-1].subject[:20]


@pytest.fixture
def work(netlab: NetLab) -> Iterator[Path]:
    """The user's home: a ~/.pinerc naming the mail host's INBOX, and no pinesh rule
    (pinesh's own file only points ssh at the lab's client config)."""
    with short_dir() as path:
        write_home_files(netlab, path, "", timeout=10)
        (path / ".pinerc").write_text((path / "pinerc").read_text())
        yield path
        stop_masters(path)


def _alpine_pinerc(lab: NetLab, work: Path, ssh_path: str, ssh_command: str) -> Path:
    pinerc = work / "alpine-pinerc"
    pinerc.write_text(
        "user-domain=home.example\n"
        f"inbox-path={{{lab.mailhost_name}/user={lab.user.name}}}INBOX\n"
        f"ssh-path={ssh_path}\n"
        f"ssh-command={ssh_command}\n"
        "ssh-open-timeout=10\n"
        "rsh-open-timeout=0\n"
        "feature-list=quit-without-confirm\n"
    )
    return pinerc


def _alpine_shows_inbox(lab: NetLab, work: Path, pinerc: Path, inbox: str) -> None:
    screen = TmuxScreen(
        lab.home(["alpine", "-p", str(pinerc), "-i"]),
        env={"PINESH_CONFIG": str(work / "config.toml"), "HOME": str(work)},
    )
    try:
        first = screen.wait_for("ALPINE")
        if "GREETING TEXT" in first or "Exit this greeting" in first:
            screen.send("E")
        screen.wait_for("MESSAGE INDEX")
        text = screen.wait_for(inbox)
        assert "Folder: INBOX" in text
        assert " of 5" in text.splitlines()[0]
    finally:
        screen.close()


def test_alpine_with_its_own_ssh_opens_the_mailhost_inbox(
    netlab: NetLab, inbox: str, work: Path
) -> None:
    command = f"%s %s -F {netlab.ssh_config} -l %s exec /etc/r%sd"
    pinerc = _alpine_pinerc(netlab, work, "/usr/bin/ssh", command)
    auths, logins = netlab.mailhost.authentications(), netlab.dovecot.logins()
    _alpine_shows_inbox(netlab, work, pinerc, inbox)
    assert netlab.mailhost.authentications() - auths >= 1
    assert netlab.dovecot.logins() == logins


def test_alpine_through_pinesh_connect_opens_the_mailhost_inbox(
    netlab: NetLab, inbox: str, work: Path
) -> None:
    pinerc = _alpine_pinerc(netlab, work, str(BIN / "pinesh-connect"), "%s %s %s %s")
    auths, logins = netlab.mailhost.authentications(), netlab.dovecot.logins()
    _alpine_shows_inbox(netlab, work, pinerc, inbox)
    assert netlab.mailhost.authentications() - auths == 1
    assert netlab.dovecot.logins() == logins


def test_mutt_through_its_tunnel_opens_the_mailhost_inbox(
    netlab: NetLab, inbox: str, work: Path
) -> None:
    muttrc = work / "muttrc"
    tunnel = f"{PINESH} connect {netlab.mailhost_name} {netlab.user.name} imap"
    muttrc.write_text(
        f'set tunnel="{tunnel}"\n'
        f'set folder="imap://{netlab.user.name}@{netlab.mailhost_name}/"\n'
        'set spoolfile="+INBOX"\n'
        "set tunnel_is_secure=yes\n"
        "set ssl_starttls=no\n"
        'set header_cache=""\n'
        "set move=no\nset sort=date\n"
    )
    auths, logins = netlab.mailhost.authentications(), netlab.dovecot.logins()
    screen = TmuxScreen(
        netlab.home(["mutt", "-n", "-F", str(muttrc)]),
        env={"PINESH_CONFIG": str(work / "config.toml"), "HOME": str(work)},
    )
    try:
        text = screen.wait_for(inbox)
        assert "INBOX" in text
    finally:
        screen.close()
    assert netlab.mailhost.authentications() - auths == 1
    assert netlab.dovecot.logins() == logins
