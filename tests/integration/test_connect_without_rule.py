"""`pinesh connect` with no [[rule]]: the pinerc's servers, over the shared master.

The config has only what a real user would write for a non-default ssh setup: `[ssh]
options = ["-F", ...]` (the lab's client config) and private control and state dirs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from pinesh.config.pinesh_toml import load_settings
from pinesh.config.server_spec import ServerSpec
from pinesh.services import preauth
from pinesh.transport import remote_probe
from pinesh.transport.masters import MasterPool
from pinesh.transport.routes import SshPreauthRoute, SshTarget
from pinesh.transport.service import Service
from tests.integration.helpers import connections, exchange, short_dir, stop_masters, write_config
from tests.lab.dovecot import IMAP_BINARY, LabDovecot
from tests.lab.sshd import LabSshd

BIN = Path(sys.executable).parent
IMAP_SESSION = b"a1 SELECT INBOX\r\na2 LOGOUT\r\n"
NO_SUCH_RIMAPD = "/etc/pinesh-lab-no-such-rimapd"


def _pinerc(sshd: LabSshd) -> str:
    return f"inbox-path={{lab/user={sshd.user.name}}}INBOX\n"


def _connect(config: Path, pinerc: Path, *words: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(BIN / "pinesh"), "-p", str(pinerc), "connect", *words],
        input=IMAP_SESSION,
        capture_output=True,
        env={**os.environ, "PINESH_CONFIG": str(config)},
        timeout=30,
        check=False,
    )


def test_connect_without_rule_relays_pines_default_rimapd(
    sshd: LabSshd, dovecot: LabDovecot
) -> None:
    with short_dir() as work:
        config = write_config(sshd, work, "")  # [ssh] options and dirs, no [[rule]]
        pinerc = work / "pinerc"
        pinerc.write_text(_pinerc(sshd))
        auths = sshd.authentications()
        try:
            done = _connect(config, pinerc, "lab", sshd.user.name, "imap")
            assert done.returncode == 0, done.stderr
            assert done.stdout.startswith(b"* PREAUTH ")
            assert b"a1 OK" in done.stdout and b"a2 OK" in done.stdout
            assert sshd.authentications() - auths == 1
            # /etc/rimapd answered: nothing was probed, so nothing was remembered.
            assert not (work / "state" / "preauth.json").exists()
        finally:
            _stop_masters(config)


def _stop_masters(config: Path) -> None:
    MasterPool(load_settings(str(config)).ssh).stop()


def test_connect_without_rule_probes_once_and_remembers_the_server(
    sshd: LabSshd, dovecot: LabDovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    probes: list[Sequence[str]] = []
    real_probe = remote_probe.probe_executables

    def counting_probe(
        masters: MasterPool, target: SshTarget, paths: Sequence[str], timeout: float
    ) -> tuple[str, ...]:
        probes.append(paths)
        return real_probe(masters, target, paths, timeout)

    monkeypatch.setattr(preauth, "probe_executables", counting_probe)
    with short_dir() as work:
        conns = connections(sshd, work, "", pinerc=_pinerc(sshd))
        user = sshd.user.name
        state = work / "state" / "preauth.json"
        try:
            opened = preauth.open_preauth(
                conns,
                ServerSpec("lab", mailbox_user=user),
                Service.IMAP,
                default_command=(NO_SUCH_RIMAPD,),
            )
            channel = opened.channel
            assert isinstance(channel.route, SshPreauthRoute)
            assert channel.route.command == (IMAP_BINARY,)
            assert channel.preauthenticated
            assert [NO_SUCH_RIMAPD in str(f) for f in opened.fell_back_from] == [True]
            assert b"a1 OK" in exchange(channel.sock, b"a1 SELECT INBOX\r\n", b"a1 ")
            channel.close()
            assert len(probes) == 1 and tuple(probes[0]) == preauth.PREAUTH_SERVERS
            saved = json.loads(state.read_text())
            assert saved[f"{user}@lab"]["command"] == [IMAP_BINARY]

            # The next connect goes straight to the remembered server: no probe, no
            # failed default command first.
            again = preauth.open_preauth(
                conns,
                ServerSpec("lab", mailbox_user=user),
                Service.IMAP,
                default_command=(NO_SUCH_RIMAPD,),
            )
            assert again.fell_back_from == []
            assert isinstance(again.channel.route, SshPreauthRoute)
            assert again.channel.route.command == (IMAP_BINARY,)
            again.channel.close()
            assert len(probes) == 1

            # A remembered server that is gone is forgotten, and the probe finds anew.
            preauth.preauth_memory(conns).remember(f"{user}@lab", ["/usr/lib/dovecot/gone"])
            third = preauth.open_preauth(
                conns,
                ServerSpec("lab", mailbox_user=user),
                Service.IMAP,
                default_command=(NO_SUCH_RIMAPD,),
            )
            assert isinstance(third.channel.route, SshPreauthRoute)
            assert third.channel.route.command == (IMAP_BINARY,)
            third.channel.close()
            assert len(probes) == 2
            assert json.loads(state.read_text())[f"{user}@lab"]["command"] == [IMAP_BINARY]
        finally:
            stop_masters(conns)


def test_connect_without_rule_refuses_a_server_the_pinerc_does_not_name(
    sshd: LabSshd, dovecot: LabDovecot
) -> None:
    with short_dir() as work:
        ran = work / "ssh-ran"
        fake_ssh = work / "ssh"
        fake_ssh.write_text(f'#!/bin/sh\ntouch {ran}\nexec ssh "$@"\n')
        fake_ssh.chmod(0o755)
        config = work / "config.toml"
        config.write_text(
            f'state_dir = "{work / "state"}"\n\n[ssh]\npath = "{fake_ssh}"\n'
            f'control_dir = "{work / "ctl"}"\noptions = ["-F", "{sshd.client_config}"]\n'
        )
        pinerc = work / "pinerc"
        pinerc.write_text(_pinerc(sshd))
        auths = sshd.authentications()
        began = time.monotonic()
        done = _connect(config, pinerc, "imap.elsewhere.example", sshd.user.name, "imap")
        assert done.returncode == 1
        assert b"no ssh route to imap.elsewhere.example" in done.stderr
        assert done.stdout == b""
        assert time.monotonic() - began < 5
        assert not ran.exists()  # no ssh was started
        assert sshd.authentications() == auths
        # The same config does start ssh for the server the pinerc names.
        try:
            named = _connect(config, pinerc, "lab", sshd.user.name, "imap")
            assert named.returncode == 0, named.stderr
            assert ran.exists()
        finally:
            _stop_masters(config)
