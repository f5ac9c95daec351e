"""Real Alpine, mutt and mbsync (Debian packages) use `pinesh connect` to reach the lab.

A working screen is not proof of preauth (Alpine quietly falls back to plain IMAP), so each
test also checks that the lab's sshd saw the login, pinesh's master runs, and Dovecot's
password daemon saw no LOGIN.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pinesh.config.pine_settings import pine_settings
from pinesh.senders.compose import Draft
from pinesh.services.mail import MailSession
from pinesh.services.postponed import keep_postponed, list_postponed, resume
from pinesh.services.replying import ComposeRequest
from pinesh.services.sending import user_address
from pinesh.stores.base import Address
from tests.integration.helpers import PREAUTH_RULE, connections, short_dir, write_config
from tests.lab.dovecot import LabDovecot
from tests.lab.maildir_fill import fill_maildir
from tests.lab.sshd import LabSshd
from tests.lab.tmux import TmuxScreen

BIN = Path(sys.executable).parent


@pytest.fixture
def inbox(lab_maildir: Path, dovecot: LabDovecot) -> str:
    """Five messages in the lab INBOX; returns the subject of the newest."""
    filled = fill_maildir(lab_maildir, 5, seed=7, owner=dovecot.user)
    plain = [m for m in filled if m.subject.isascii()]
    return (plain or filled)[-1].subject[:20]


@pytest.fixture
def work(sshd: LabSshd) -> Iterator[Path]:
    with short_dir() as path:
        yield path
        config = path / "config.toml"
        if config.exists():
            subprocess.run(
                [str(BIN / "pinesh"), "--config", str(config), "ssh", "stop"],
                capture_output=True,
                timeout=30,
                check=False,
            )


def _master_running(config: Path) -> bool:
    done = subprocess.run(
        [str(BIN / "pinesh"), "--config", str(config), "ssh", "status"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return "running (pid" in done.stdout


def test_alpine_opens_inbox_through_pinesh_connect(
    sshd: LabSshd, dovecot: LabDovecot, inbox: str, work: Path
) -> None:
    config = write_config(sshd, work, PREAUTH_RULE)
    pinerc = work / "pinerc"
    pinerc.write_text(
        "user-domain=pinesh.test\n"
        f"inbox-path={{lab/user={sshd.user.name}}}INBOX\n"
        f"ssh-path={BIN / 'pinesh-connect'}\n"
        "ssh-command=%s %s %s %s\n"
        "ssh-open-timeout=10\n"
        "rsh-open-timeout=0\n"
        "feature-list=quit-without-confirm\n"
    )
    auths, logins = sshd.authentications(), dovecot.logins()
    screen = TmuxScreen(
        ["alpine", "-p", str(pinerc), "-i"], env={"PINESH_CONFIG": str(config), "HOME": str(work)}
    )
    try:
        text = _past_greeting(screen, "MESSAGE INDEX")
        text = screen.wait_for(inbox)
        assert "Folder: INBOX" in text
        assert " of 5" in text.splitlines()[0]  # "Message 5 of 5" in the title bar
        assert _master_running(config)
        assert sshd.authentications() - auths == 1
        assert dovecot.logins() == logins
    finally:
        screen.close()


def test_mutt_opens_inbox_through_pinesh_connect(
    sshd: LabSshd, dovecot: LabDovecot, inbox: str, work: Path
) -> None:
    config = write_config(sshd, work, PREAUTH_RULE)
    muttrc = work / "muttrc"
    muttrc.write_text(
        f'set tunnel="{BIN / "pinesh"} connect lab {sshd.user.name} imap"\n'
        f'set folder="imap://{sshd.user.name}@lab/"\n'
        'set spoolfile="+INBOX"\n'
        "set tunnel_is_secure=yes\n"
        "set ssl_starttls=no\n"
        'set header_cache=""\n'
        "set move=no\nset mbox_type=Maildir\nset sort=date\n"
    )
    auths, logins = sshd.authentications(), dovecot.logins()
    screen = TmuxScreen(
        ["mutt", "-n", "-F", str(muttrc)], env={"PINESH_CONFIG": str(config), "HOME": str(work)}
    )
    try:
        text = screen.wait_for(inbox)
        assert "INBOX" in text
        assert _master_running(config)
        assert sshd.authentications() - auths == 1
        assert dovecot.logins() == logins
    finally:
        screen.close()


def test_mbsync_syncs_inbox_through_pinesh_connect(
    sshd: LabSshd, dovecot: LabDovecot, lab_maildir: Path, work: Path
) -> None:
    filled = fill_maildir(lab_maildir, 5, seed=11, owner=dovecot.user)
    config = write_config(sshd, work, PREAUTH_RULE)
    local = work / "mail"
    local.mkdir()  # mbsync creates mailboxes, not the store
    rc = work / "mbsyncrc"
    rc.write_text(
        f"IMAPAccount lab\n"
        f'Tunnel "{BIN / "pinesh"} connect lab {sshd.user.name} imap"\n\n'
        "IMAPStore lab-remote\nAccount lab\n\n"
        f"MaildirStore local\nPath {local}/\nInbox {local}/INBOX\n\n"
        "Channel lab\nFar :lab-remote:\nNear :local:\nPatterns INBOX\nCreate Near\n"
        "Sync Pull\nSyncState *\n"
    )
    auths = sshd.authentications()
    done = subprocess.run(
        ["mbsync", "-c", str(rc), "lab"],
        capture_output=True,
        text=True,
        env={**os.environ, "PINESH_CONFIG": str(config)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    synced = [p for sub in ("cur", "new") for p in (local / "INBOX" / sub).iterdir()]
    assert len(synced) == len(filled) == 5
    ids = {m.message_id for m in filled}
    seen = set()
    for path in synced:
        for line in path.read_bytes().split(b"\n"):
            if line.lower().startswith(b"message-id:"):
                seen.add(line.split(b":", 1)[1].strip().decode())
    assert seen == ids
    assert sshd.authentications() - auths == 1


def test_alpine_opens_inbox_through_pinesh_connect_without_a_rule(
    sshd: LabSshd, dovecot: LabDovecot, inbox: str, work: Path
) -> None:
    """No [[rule]]: pinesh-connect serves the server Alpine's own pinerc names (~/.pinerc,
    which pinesh reads too) with Pine's /etc/rimapd over its master."""
    config = write_config(sshd, work, "")  # only [ssh] options and private dirs
    pinerc = work / ".pinerc"
    pinerc.write_text(
        "user-domain=pinesh.test\n"
        f"inbox-path={{lab/user={sshd.user.name}}}INBOX\n"
        f"ssh-path={BIN / 'pinesh-connect'}\n"
        "ssh-command=%s %s %s %s\n"
        "ssh-open-timeout=10\n"
        "rsh-open-timeout=0\n"
        "feature-list=quit-without-confirm\n"
    )
    auths, logins = sshd.authentications(), dovecot.logins()
    screen = TmuxScreen(
        ["alpine", "-p", str(pinerc), "-i"], env={"PINESH_CONFIG": str(config), "HOME": str(work)}
    )
    try:
        text = _past_greeting(screen, "MESSAGE INDEX")
        text = screen.wait_for(inbox)
        assert "Folder: INBOX" in text
        assert " of 5" in text.splitlines()[0]
        # Preauth, not Alpine's quiet fallback to a password login on 143.
        assert _master_running(config)
        assert sshd.authentications() - auths == 1
        assert dovecot.logins() == logins
    finally:
        screen.close()


def _warm_lean_start(sshd: LabSshd, work: Path, env: dict[str, str]) -> tuple[Path, int, int]:
    """One `pinesh-connect` by hand: the full path starts the master and writes the plan
    cache; returns the cache and its (inode, mtime), which only the full path changes."""
    done = subprocess.run(
        [str(BIN / "pinesh-connect"), "lab", sshd.user.name, "imap"],
        input=b"a1 LOGOUT\r\n",
        capture_output=True,
        env={**os.environ, **env},
        timeout=30,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith(b"* PREAUTH "), done.stderr
    cache = work / "run" / "pinesh" / "connect-plans"
    info = cache.stat()
    return cache, info.st_ino, info.st_mtime_ns


def test_alpine_opens_inbox_through_the_lean_start_of_pinesh_connect(
    sshd: LabSshd, dovecot: LabDovecot, inbox: str, work: Path
) -> None:
    config = write_config(sshd, work, PREAUTH_RULE)
    (work / "run").mkdir(mode=0o700)
    pinerc = work / "pinerc"
    pinerc.write_text(
        "user-domain=pinesh.test\n"
        f"inbox-path={{lab/user={sshd.user.name}}}INBOX\n"
        f"ssh-path={BIN / 'pinesh-connect'}\n"
        "ssh-command=%s %s %s %s\n"
        "ssh-open-timeout=10\n"
        "rsh-open-timeout=0\n"
        "feature-list=quit-without-confirm\n"
    )
    env = {"PINESH_CONFIG": str(config), "HOME": str(work), "XDG_RUNTIME_DIR": str(work / "run")}
    auths, logins = sshd.authentications(), dovecot.logins()
    cache, inode, mtime = _warm_lean_start(sshd, work, env)
    screen = TmuxScreen(["alpine", "-p", str(pinerc), "-i"], env=env)
    try:
        text = _past_greeting(screen, "MESSAGE INDEX")
        text = screen.wait_for(inbox)
        assert "Folder: INBOX" in text
        assert " of 5" in text.splitlines()[0]
        assert (cache.stat().st_ino, cache.stat().st_mtime_ns) == (inode, mtime)
        assert sshd.authentications() - auths == 1
        assert dovecot.logins() == logins
    finally:
        screen.close()


def test_mutt_opens_inbox_through_the_lean_start_of_pinesh_connect(
    sshd: LabSshd, dovecot: LabDovecot, inbox: str, work: Path
) -> None:
    config = write_config(sshd, work, PREAUTH_RULE)
    (work / "run").mkdir(mode=0o700)
    muttrc = work / "muttrc"
    muttrc.write_text(
        f'set tunnel="{BIN / "pinesh"} connect lab {sshd.user.name} imap"\n'
        f'set folder="imap://{sshd.user.name}@lab/"\n'
        'set spoolfile="+INBOX"\n'
        "set tunnel_is_secure=yes\n"
        "set ssl_starttls=no\n"
        'set header_cache=""\n'
        "set move=no\nset mbox_type=Maildir\nset sort=date\n"
    )
    env = {"PINESH_CONFIG": str(config), "HOME": str(work), "XDG_RUNTIME_DIR": str(work / "run")}
    auths, logins = sshd.authentications(), dovecot.logins()
    cache, inode, mtime = _warm_lean_start(sshd, work, env)
    screen = TmuxScreen(["mutt", "-n", "-F", str(muttrc)], env=env)
    try:
        text = screen.wait_for(inbox)
        assert "INBOX" in text
        assert (cache.stat().st_ino, cache.stat().st_mtime_ns) == (inode, mtime)
        assert sshd.authentications() - auths == 1
        assert dovecot.logins() == logins
    finally:
        screen.close()


def _shared_pinerc(sshd: LabSshd, work: Path) -> str:
    """A pinerc Alpine and pinesh both read: the first folder collection on the server, so
    both keep postponed messages (and Fcc) there."""
    return (
        "personal-name=Jane Lab\nuser-domain=pinesh.test\n"
        f"inbox-path={{lab/user={sshd.user.name}}}INBOX\n"
        f"folder-collections=Remote {{lab/user={sshd.user.name}}}[]\n"
        f"ssh-path={BIN / 'pinesh-connect'}\n"
        "ssh-command=%s %s %s %s\n"
        "ssh-open-timeout=10\n"
        "rsh-open-timeout=0\n"
        "feature-list=quit-without-confirm\n"
    )


def _shared_session(sshd: LabSshd, work: Path) -> MailSession:
    """A pinesh session on the pinerc Alpine reads too (written to work/pinerc)."""

    text = _shared_pinerc(sshd, work)
    (work / "pinerc").write_text(text)
    conns = connections(sshd, work, PREAUTH_RULE, pinerc=text)
    return MailSession(conns, pine_settings(conns.pinerc), data_dir=work / "data")


def _alpine(pinerc: Path, config: Path, work: Path) -> TmuxScreen:
    screen = TmuxScreen(
        ["alpine", "-p", str(pinerc)], env={"PINESH_CONFIG": str(config), "HOME": str(work)}
    )
    _past_greeting(screen, "MAIN MENU")
    return screen


def _past_greeting(screen: TmuxScreen, wanted: str, timeout: float = 30) -> str:
    """The screen once wanted is on it. Alpine's first run shows its greeting first,
    drawn a piece at a time: E leaves it whenever it is seen, not only at the first look
    (a look before the greeting's words were drawn sent nothing, and Alpine waited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = screen.text()
        if "GREETING TEXT" in text or "Exit this greeting" in text:
            screen.send("E")
            time.sleep(0.5)
        elif wanted in text:
            return text
        time.sleep(0.1)
    return screen.wait_for(wanted, timeout=1)


def test_alpine_resumes_a_draft_pinesh_postponed_on_the_server(
    sshd: LabSshd, dovecot: LabDovecot, inbox: str, work: Path
) -> None:

    session = _shared_session(sshd, work)
    marker = f"drafted-in-pinesh-{os.getpid()}"
    try:
        draft = Draft(
            user_address(session),
            to=(Address("Bob", "bob@example.org"),),
            subject=marker,
            body="Written in pinesh, finished in Alpine.\n",
        )
        keep_postponed(session, ComposeRequest(draft))
    finally:
        session.close()
    config = work / "config.toml"
    screen = _alpine(work / "pinerc", config, work)
    try:
        screen.send("c")
        screen.wait_for("Continue postponed composition")
        screen.send("y")
        text = screen.wait_for(marker, timeout=30)
        assert "bob@example.org" in text
        assert "Written in pinesh, finished in Alpine." in text
    finally:
        screen.close()


def test_pinesh_resumes_a_draft_alpine_postponed_on_the_server(
    sshd: LabSshd, dovecot: LabDovecot, inbox: str, work: Path
) -> None:
    session = _shared_session(sshd, work)  # writes the pinerc Alpine reads too
    marker = f"drafted-in-alpine-{os.getpid()}"
    screen = _alpine(work / "pinerc", work / "config.toml", work)
    try:
        screen.send("c")
        screen.wait_for("COMPOSE MESSAGE")
        screen.send("-l", "carol@example.org")
        screen.send("Enter", "Enter", "Enter")  # past Cc and Attchmnt to Subject
        screen.send("-l", marker)
        screen.send("Enter")
        screen.send("-l", "Written in Alpine, finished in pinesh.")
        screen.send("C-o")  # postpone
        screen.wait_for("postponed", timeout=30)
    finally:
        screen.close()
    try:
        waiting = [m for m in list_postponed(session) if m.subject == marker]
        assert len(waiting) == 1, list_postponed(session)
        request = resume(session, waiting[0].uid)
        assert [a.email for a in request.draft.to] == ["carol@example.org"]
        assert "Written in Alpine, finished in pinesh." in request.draft.body
    finally:
        session.close()
