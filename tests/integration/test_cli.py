"""The installed commands against the lab: connect, forward, ssh status/stop, doctor."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

from tests.integration.helpers import PREAUTH_RULE, isp_rules, short_dir, write_config
from tests.lab.common import free_port
from tests.lab.dovecot import LabDovecot
from tests.lab.inn import LabInn
from tests.lab.postfix import LabPostfix
from tests.lab.sshd import LabSshd

BIN = Path(sys.executable).parent
IMAP_SESSION = b"a1 SELECT INBOX\r\na2 LOGOUT\r\n"


def _rules(postfix: LabPostfix, inn: LabInn) -> str:
    return PREAUTH_RULE + isp_rules(postfix.inside_host, postfix.port, inn.host, inn.port)


def _env(config: Path) -> dict[str, str]:
    return {**os.environ, "PINESH_CONFIG": str(config)}


def _pinesh(
    config: Path, *args: str, stdin: bytes = b"", timeout: float = 30
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(BIN / "pinesh"), *args],
        input=stdin,
        capture_output=True,
        env=_env(config),
        timeout=timeout,
        check=False,
    )


def _stop(config: Path) -> None:
    _pinesh(config, "ssh", "stop")


def _listeners(port: int) -> list[str]:
    """Local addresses (hex, from /proc) listening on TCP port."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":
                found.append(address)
    return found


def test_connect_relays_preauth_imap(
    sshd: LabSshd, dovecot: LabDovecot, postfix: LabPostfix, inn: LabInn
) -> None:
    with short_dir() as work:
        config = write_config(sshd, work, _rules(postfix, inn))
        try:
            done = subprocess.run(
                [str(BIN / "pinesh-connect"), "lab", "pineshlab", "imap"],
                input=IMAP_SESSION,
                capture_output=True,
                env=_env(config),
                timeout=30,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            assert done.stdout.startswith(b"* PREAUTH ")
            assert b"a1 OK" in done.stdout and b"a2 OK" in done.stdout
        finally:
            _stop(config)


def test_connect_exits_1_at_once_without_ssh_route(
    sshd: LabSshd, postfix: LabPostfix, inn: LabInn
) -> None:
    with short_dir() as work:
        config = write_config(sshd, work, _rules(postfix, inn))
        done = _pinesh(config, "connect", "imap.elsewhere.example", "jane", "imap", timeout=5)
        assert done.returncode == 1
        assert b"no ssh route" in done.stderr
        assert done.stdout == b""


def test_connect_refuses_hostile_names(sshd: LabSshd, postfix: LabPostfix, inn: LabInn) -> None:
    marker = Path("/tmp/pinesh-connect-pwned")
    marker.unlink(missing_ok=True)
    with short_dir() as work:
        config = write_config(sshd, work, _rules(postfix, inn))
        for host, user in [
            (f"-oProxyCommand=touch {marker}", "jane"),
            ("lab", f"-oProxyCommand=touch {marker}"),
            ("lab", f"x;touch {marker}"),
            (f"lab$(touch {marker})", "x"),
        ]:
            done = _pinesh(config, "connect", "--", host, user, "imap", timeout=5)
            assert done.returncode == 1, (host, user)
            assert b"refusing" in done.stderr
        assert not marker.exists()


def test_ten_concurrent_connects_share_one_master(
    sshd: LabSshd, dovecot: LabDovecot, postfix: LabPostfix, inn: LabInn
) -> None:
    with short_dir() as work:
        config = write_config(sshd, work, _rules(postfix, inn))
        before = sshd.authentications()
        try:
            runs = [
                subprocess.Popen(
                    [str(BIN / "pinesh"), "connect", "lab", "pineshlab", "imap"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=_env(config),
                )
                for _ in range(10)
            ]
            results = [run.communicate(IMAP_SESSION, timeout=60) for run in runs]
            for run, (out, err) in zip(runs, results, strict=True):
                assert run.returncode == 0, err
                assert out.startswith(b"* PREAUTH") and b"a1 OK" in out
            assert sshd.authentications() - before == 1
            status = _pinesh(config, "ssh", "status").stdout.decode()
            assert status.count("running (pid") == 1
        finally:
            _stop(config)


def test_ten_concurrent_forwards_leave_one(sshd: LabSshd, postfix: LabPostfix, inn: LabInn) -> None:
    port = free_port()
    with short_dir() as work:
        config = write_config(sshd, work, _rules(postfix, inn))
        before = sshd.authentications()
        try:
            argv = [str(BIN / "pinesh"), "forward", "smtp.isp.test", "smtp", "--listen", str(port)]
            runs = [
                subprocess.Popen(
                    argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(config)
                )
                for _ in range(10)
            ]
            outputs = [run.communicate(timeout=60) for run in runs]
            assert [run.returncode for run in runs] == [0] * 10, outputs
            said = [out.decode() for out, _ in outputs]
            assert sum(line.endswith(": up\n") for line in said) == 1
            assert sum("already up" in line for line in said) == 9
            # One listener, on loopback only (0100007F is 127.0.0.1 in /proc's byte order).
            assert _listeners(port) == ["0100007F"]
            assert sshd.authentications() - before == 1
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                assert sock.recv(100).startswith(b"220 ")
            again = _pinesh(
                config, "forward", "smtp.isp.test", "smtp", "--listen", str(port), "--json"
            )
            (forward,) = json.loads(again.stdout)["forwards"]
            assert forward["state"] == "already up" and forward["service"] == "smtp"
            assert forward["listen"].endswith(str(port))
        finally:
            _stop(config)


def test_unix_socket_forward_is_private(sshd: LabSshd, postfix: LabPostfix, inn: LabInn) -> None:
    with short_dir() as work:
        config = write_config(sshd, work, _rules(postfix, inn))
        path = work / "fwd" / "nntp.sock"
        try:
            done = _pinesh(config, "forward", "news.isp.test", "nntp", "--listen", str(path))
            assert done.returncode == 0, done.stderr
            assert stat.S_ISSOCK(path.stat().st_mode)
            assert path.stat().st_mode & 0o777 == 0o600
            assert path.parent.stat().st_mode & 0o777 == 0o700
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(5)
                sock.connect(str(path))
                assert sock.recv(100).startswith(b"200 ")
            again = _pinesh(config, "forward", "news.isp.test", "nntp", "--listen", str(path))
            assert b"already up" in again.stdout
        finally:
            _stop(config)


def test_forward_refuses_non_loopback(sshd: LabSshd, postfix: LabPostfix, inn: LabInn) -> None:
    with short_dir() as work:
        config = write_config(sshd, work, _rules(postfix, inn))
        done = _pinesh(config, "forward", "smtp.isp.test", "smtp", "--listen", "0.0.0.0:2525")
        assert done.returncode == 2
        assert b"loopback only" in done.stderr


def test_doctor_reports_each_route(
    sshd: LabSshd, dovecot: LabDovecot, postfix: LabPostfix, inn: LabInn
) -> None:
    body = (
        _rules(postfix, inn)
        + f"""
[[rule]]
servers = ["{dovecot.host}"]
services = ["imap"]
login = "lab"
imap_command = ["/usr/lib/dovecot/no-such-imapd"]
fallback = ["tls:{dovecot.imaps_port}"]
ca_file = "{dovecot.ca_file}"
"""
    )
    with short_dir() as work:
        config = write_config(sshd, work, body)
        try:
            done = _pinesh(config, "doctor")
            out = done.stdout.decode()
            rows = {
                line.split()[0] + " " + line.split()[1]: line
                for line in out.splitlines()
                if line and not line.startswith(" ") and not line.startswith("SERVER")
            }
            assert " ok " in rows["lab imap"]
            assert " ok " in rows["smtp.isp.test smtp"]
            assert " ok " in rows["news.isp.test nntp"]
            dovecot_rows = [
                line for line in out.splitlines() if line.startswith(f"{dovecot.host} ")
            ]
            assert " FAIL " in dovecot_rows[0] and "no-such-imapd" in dovecot_rows[0]
            assert " ok " in dovecot_rows[1] and "TLS" in dovecot_rows[1]
            cache_lines = [line for line in out.splitlines() if line.startswith("header cache")]
            assert cache_lines and all(line.endswith(".sqlite") for line in cache_lines), out
            assert done.returncode == 0, out
            # The same, as JSON: the results a script reads, one object.
            answer = json.loads(_pinesh(config, "doctor", "--json").stdout)
            by_server = {(s["server"], s["service"]): s for s in answer["servers"]}
            assert answer["ok"] is True and by_server[("lab", "imap")]["ok"] is True
            first, second = by_server[(dovecot.host, "imap")]["routes"][:2]
            assert first["result"] == "FAIL" and "no-such-imapd" in first["why"]
            assert second["result"] == "ok" and second["seconds"]["tls"] is not None
            assert answer["header_caches"] == cache_lines
        finally:
            _stop(config)


def test_ssh_status_and_stop_see_a_master_another_config_started(
    sshd: LabSshd, dovecot: LabDovecot
) -> None:
    """A master started through config A (its own [ssh] options, as mutt's tunnel would)
    is listed and stopped through config B: same control_dir, no options, no rules."""
    with short_dir() as work:
        config_a = write_config(sshd, work, PREAUTH_RULE)
        config_b = work / "other.toml"
        config_b.write_text(f'[ssh]\ncontrol_dir = "{work / "ctl"}"\n')
        try:
            done = _pinesh(config_a, "connect", "lab", "pineshlab", "imap", stdin=IMAP_SESSION)
            assert done.returncode == 0, done.stderr
            [socket_path] = [p for p in (work / "ctl").iterdir() if p.is_socket()]
            status = _pinesh(config_b, "ssh", "status").stdout.decode()
            assert status.count("running (pid") == 1, status
            assert status.startswith("pineshlab@lab ") and str(socket_path) in status
            (master,) = json.loads(_pinesh(config_b, "ssh", "status", "--json").stdout)["masters"]
            assert master["label"] == "pineshlab@lab" and master["running"] is True
            assert master["control_path"] == str(socket_path) and master["pid"] > 1
            stopped = _pinesh(config_b, "ssh", "stop", "lab")
            assert stopped.returncode == 0, stopped.stderr
            assert stopped.stdout.decode() == "pineshlab@lab: stopped\n"
            assert not socket_path.exists()
            assert not socket_path.with_name(f"{socket_path.name}.json").exists()
            assert _pinesh(config_b, "ssh", "status").stdout == b"no ssh masters\n"
            assert json.loads(_pinesh(config_b, "--json", "ssh", "status").stdout) == {
                "masters": []
            }
        finally:
            _stop(config_a)
