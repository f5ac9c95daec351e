"""The installed `pinesh` command under tmux against the lab: keys typed with send-keys,
the screen read with capture-pane, as a person would use it.

The command is the test venv's console script (what `pip install` made of
pyproject's [project.scripts]); its INBOX is the lab's Dovecot over ssh preauth.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from email.utils import parseaddr
from pathlib import Path

import pytest

from tests.integration.helpers import PREAUTH_RULE, short_dir, write_config
from tests.lab.common import LabError, chown_tree
from tests.lab.dovecot import LabDovecot
from tests.lab.maildir_fill import fill_maildir
from tests.lab.sshd import LabSshd
from tests.lab.tmux import TmuxScreen

PINESH = Path(sys.executable).parent / "pinesh"
HOSTILE = Path(__file__).parent.parent / "corpus" / "hostile" / "escape-sequences.eml"


@pytest.fixture
def work(sshd: LabSshd) -> Iterator[Path]:
    with short_dir() as path:
        yield path
        config = path / "config.toml"
        if config.exists():
            subprocess.run(
                [str(PINESH), "--config", str(config), "ssh", "stop"],
                capture_output=True,
                timeout=30,
                check=False,
            )


def _pinesh(sshd: LabSshd, work: Path, *args: str) -> TmuxScreen:
    """`pinesh -p PINERC [args]` under tmux; its INBOX is the lab's, over ssh preauth."""
    config = write_config(sshd, work, PREAUTH_RULE)
    pinerc = work / "pinerc"
    pinerc.write_text(f"user-domain=pinesh.test\ninbox-path={{lab/user={sshd.user.name}}}INBOX\n")
    env = {
        "PINESH_CONFIG": str(config),
        "HOME": str(work),
        "TERM": "xterm-256color",
        "SSH_AUTH_SOCK": "",
    }
    screen = TmuxScreen([str(PINESH), "-p", str(pinerc), *args], env=env)
    # Keep the pane after pinesh exits, to read how it exited.
    subprocess.run(
        [screen.tmux, "set-option", "-t", screen.name, "remain-on-exit", "on"],
        check=True,
        timeout=10,
    )
    return screen


def _tmux(screen: TmuxScreen, *args: str) -> str:
    done = subprocess.run(
        [screen.tmux, *args], capture_output=True, text=True, timeout=10, check=False
    )
    return done.stdout


def _exit_status(screen: TmuxScreen, timeout: float = 15) -> int:
    """pinesh's exit status once its pane is dead (minus the signal, if one killed it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        said = _tmux(
            screen,
            "display-message", "-p", "-t", screen.name,
            "#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}",
        )  # fmt: skip
        dead, status, signal = (said.strip() + "||").split("|")[:3]
        if dead == "1" and status:
            return int(status)
        if dead == "1" and signal:
            return -int(signal)
        time.sleep(0.1)
    raise LabError(f"pinesh is still running:\n{screen.text()}")


def _line_with(text: str, wanted: str) -> str:
    return next((line for line in text.splitlines() if wanted in line), "")


def test_main_menu_index_over_ssh_message_and_quit(
    sshd: LabSshd, dovecot: LabDovecot, lab_maildir: Path, work: Path
) -> None:
    assert PINESH.is_file() and os.access(PINESH, os.X_OK), f"no pinesh command at {PINESH}"
    filled = fill_maildir(lab_maildir, 12, seed=21, owner=dovecot.user)
    newest = max(filled, key=lambda m: m.uid_hint)
    screen = _pinesh(sshd, work)
    try:
        menu = screen.wait_for("MAIN MENU")
        assert "MESSAGE INDEX" in menu and "Folder: INBOX" in menu
        screen.send("i")
        text = screen.wait_for("via ssh", timeout=30)
        status = _line_with(text, "via ssh")
        assert "INBOX via ssh lab (preauth" in status and "12 messages" in status, status
        plain = [m for m in filled if m.subject.isascii() and m.subject.strip()]
        assert plain, "the fill made no plain ASCII subject to look for"
        text = screen.wait_for(plain[-1].subject[:20])
        assert "MESSAGE INDEX" in text
        screen.send("End")  # the newest (Pine may start on the first unseen)
        screen.send("Enter")
        # Not "Message 12 of 12" alone: the index's title says it too, before Enter is read.
        text = screen.wait_for("MESSAGE TEXT", timeout=20)
        assert "Message 12 of 12" in text
        text = screen.wait_for(parseaddr(newest.sender)[1], timeout=20)
        screen.send("q")
        screen.wait_for("Really quit")
        screen.send("y")
        assert _exit_status(screen) == 0
    finally:
        screen.close()


def test_a_hostile_message_is_inert_on_the_real_terminal(
    sshd: LabSshd, dovecot: LabDovecot, lab_maildir: Path, work: Path
) -> None:
    fill_maildir(lab_maildir, 3, seed=5, owner=dovecot.user)
    shutil.copy(HOSTILE, lab_maildir / "new" / f"{int(time.time())}.hostile.pinesh")
    chown_tree(lab_maildir, dovecot.user)
    buffers_before = _paste_buffers()
    screen = _pinesh(sshd, work, "-f", "INBOX")  # -f: straight into the index
    try:
        text = screen.wait_for("URGENT", timeout=30)
        assert "MAIN MENU" not in text and "MESSAGE INDEX" in text
        line = _line_with(text, "URGENT")
        # The sequences are shown as text, not obeyed: the screen was not cleared, no red.
        assert "\\x1b[2J\\x1b[H\\x1b[31mURGENT" in line, line
        _assert_inert(screen)
        screen.send("Enter")
        text = screen.wait_for("clipboard write", timeout=20)
        body = _line_with(text, "clipboard write")
        assert "\\x1b]52;c;cHduZWQ=" in body, body
        _assert_inert(screen)
        assert _paste_buffers() == buffers_before  # no OSC 52 clipboard write obeyed
    finally:
        screen.close()


def _assert_inert(screen: TmuxScreen) -> None:
    """No payload of the hostile message reached the terminal as a sequence."""
    coloured = _tmux(screen, "capture-pane", "-p", "-e", "-t", screen.name)
    for payload in ("\x1b[2J", "\x1b]0;", "\x1b]52;", "\x1bP", "\x1b[6n", "\x1b[31mURGENT"):
        assert payload not in coloured, repr(payload)
    title = _tmux(screen, "display-message", "-p", "-t", screen.name, "#{pane_title}")
    assert "pwned" not in title, title  # OSC 0 would have set the pane's title


def _paste_buffers() -> str:
    """tmux's paste buffers: an obeyed OSC 52 clipboard write would add one."""
    done = subprocess.run(
        ["tmux", "list-buffers", "-F", "#{buffer_sample}"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return done.stdout
