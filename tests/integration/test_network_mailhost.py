"""The mail host from home across the link: INBOX preauthenticated over ssh, and the
fallback to IMAPS when the ssh port is blackholed (slow once per network, then at once)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import short_dir
from tests.integration.netlab_helpers import pinesh_json, stop_masters, write_home_files
from tests.lab.maildir_fill import fill_maildir
from tests.lab.netlab import NetLab

OPEN_TIMEOUT = 3

# Pine's default remote command on the mail host, then IMAPS verified with the lab's CA.
MAILHOST_RULE = """
[[rule]]
servers = ["mailhost.example.org"]
services = ["imap"]
imap_command = ["/etc/rimapd"]
fallback = ["tls"]
ca_file = "{ca_file}"
"""

# One open of the mail host's IMAP by pinesh's own fallback, reported as JSON.
OPEN_ONCE = """
import json, sys, time
from pinesh.config.server_spec import ServerSpec
from pinesh.services.connections import load_connections
from pinesh.transport.service import Service

connections = load_connections(sys.argv[1], sys.argv[2])
began = time.monotonic()
opened = connections.open(ServerSpec("mailhost.example.org"), Service.IMAP)
print(json.dumps({
    "route": opened.channel.route.key,
    "greeting": opened.channel.greeting.state.name,
    "fell_back_from": [
        {"route": failure.route.key, "timed_out": failure.timed_out, "reason": failure.reason}
        for failure in opened.fell_back_from
    ],
    "seconds": time.monotonic() - began,
}))
opened.channel.close()
"""


@pytest.fixture
def work(netlab: NetLab) -> Iterator[Path]:
    with short_dir() as path:
        write_home_files(
            netlab,
            path,
            MAILHOST_RULE.format(ca_file=netlab.dovecot.ca_file),
            timeout=OPEN_TIMEOUT,
        )
        yield path
        stop_masters(path)


def _open_from_home(lab: NetLab, work: Path) -> dict[str, Any]:
    argv = [sys.executable, "-c", OPEN_ONCE, str(work / "config.toml"), str(work / "pinerc")]
    done = subprocess.run(lab.home(argv), capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_inbox_on_the_mailhost_opens_preauthenticated_over_ssh(
    netlab: NetLab, lab_maildir: Path, work: Path
) -> None:
    filled = fill_maildir(lab_maildir, 5, seed=3, owner=netlab.user)
    auths, logins = netlab.mailhost.authentications(), netlab.dovecot.logins()
    index = pinesh_json(netlab, work, "index", "INBOX")
    assert index["status"]["count"] == 5
    assert {m["subject"] for m in index["messages"]} == {m.subject for m in filled}
    assert netlab.mailhost.authentications() - auths == 1
    assert netlab.dovecot.logins() == logins  # no password login at Dovecot


def test_a_blackholed_ssh_port_falls_back_once_per_network(netlab: NetLab, work: Path) -> None:
    with netlab.blackholed(netlab.net.mail, 22):
        first = _open_from_home(netlab, work)
        second = _open_from_home(netlab, work)
    # The first open waited for the ssh route until the open timeout, then used IMAPS.
    assert first["route"] == "tls:mailhost.example.org:993"
    assert first["greeting"] == "READY"  # a plain OK greeting over verified TLS
    [failed] = first["fell_back_from"]
    assert failed["route"].startswith("ssh-preauth:")
    assert failed["timed_out"] is True
    assert OPEN_TIMEOUT - 0.5 < first["seconds"] < OPEN_TIMEOUT + 3
    # The second, on the same network, went to IMAPS at once: the ssh route was not tried.
    assert second["route"] == "tls:mailhost.example.org:993"
    assert second["fell_back_from"] == []


def test_a_pinerc_alone_reaches_the_mailhost_over_one_ssh_login(
    netlab: NetLab, lab_maildir: Path
) -> None:
    fill_maildir(lab_maildir, 3, seed=5, owner=netlab.user)
    with short_dir() as work:
        # No rule: pinesh's own file only keeps this test's masters and memory apart.
        write_home_files(netlab, work, "", timeout=OPEN_TIMEOUT)
        with (work / "pinerc").open("a") as pinerc:
            pinerc.write(
                "ssh-path=/usr/bin/ssh\n"
                f"ssh-command=%s %s -F {netlab.ssh_config} -l %s exec /etc/r%sd\n"
                f"folder-collections=Mail {{{netlab.mailhost_name}/user={netlab.user.name}}}[]\n"
            )
        auths, logins = netlab.mailhost.authentications(), netlab.dovecot.logins()
        try:
            index = pinesh_json(netlab, work, "index", "INBOX")
            folders = pinesh_json(netlab, work, "folders")
        finally:
            stop_masters(work)
    assert index["status"]["count"] == 3
    assert folders
    assert netlab.mailhost.authentications() - auths == 1  # two runs, one shared master
    assert netlab.dovecot.logins() == logins
