"""`pinesh forward` never trusts, chmods or replaces what is not its own."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.helpers import PREAUTH_RULE, isp_rules, short_dir, write_config
from tests.lab.common import LabUser, free_port
from tests.lab.inn import LabInn
from tests.lab.postfix import LabPostfix
from tests.lab.sshd import LabSshd

BIN = Path(sys.executable).parent
FAKE_SMTP = (
    "import socket,sys\n"
    "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(5); print('ready', flush=True)\n"
    "while True:\n"
    "    c,_=s.accept(); c.sendall(b'220 totally-your-isp ESMTP\\r\\n'); c.close()\n"
)


def _forward(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "pinesh"), "forward", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PINESH_CONFIG": str(config)},
        timeout=60,
        check=False,
    )


def test_another_users_listener_is_not_taken_for_our_forward(
    sshd: LabSshd, lab_user: LabUser, postfix: LabPostfix, inn: LabInn
) -> None:
    port = free_port()
    impostor = subprocess.Popen(
        ["su", lab_user.name, "-s", "/bin/sh", "-c", f'exec python3 -c "$0" {port}', FAKE_SMTP],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert impostor.stdout is not None and impostor.stdout.readline().strip() == "ready"
        with short_dir() as work:
            config = write_config(
                sshd,
                work,
                PREAUTH_RULE + isp_rules(postfix.inside_host, postfix.port, inn.host, inn.port),
            )
            done = _forward(config, "smtp.isp.test", "smtp", "--listen", str(port))
            assert done.returncode == 1
            assert f"held by another user (uid {lab_user.uid})" in done.stderr
            assert "already up" not in done.stdout
    finally:
        subprocess.run(["pkill", "-u", lab_user.name, "-f", "totally-your-isp"], check=False)
        impostor.kill()
        impostor.wait()


def test_socket_in_a_shared_directory_is_refused_and_left_alone(
    sshd: LabSshd, postfix: LabPostfix, inn: LabInn
) -> None:
    with short_dir() as work:
        config = write_config(
            sshd, work, isp_rules(postfix.inside_host, postfix.port, inn.host, inn.port)
        )
        shared = work / "shared"
        shared.mkdir()
        shared.chmod(0o1777)
        done = _forward(config, "smtp.isp.test", "smtp", "--listen", str(shared / "s.sock"))
        assert done.returncode == 2
        assert "only you can enter" in done.stderr
        assert shared.stat().st_mode & 0o7777 == 0o1777  # not chmod-ed behind our back


def test_a_file_at_the_socket_path_is_not_replaced(
    sshd: LabSshd, postfix: LabPostfix, inn: LabInn
) -> None:
    with short_dir() as work:
        config = write_config(
            sshd, work, isp_rules(postfix.inside_host, postfix.port, inn.host, inn.port)
        )
        mine = work / "mine"
        mine.mkdir(mode=0o700)
        precious = mine / "precious"
        precious.write_text("data")
        done = _forward(config, "smtp.isp.test", "smtp", "--listen", str(precious))
        assert done.returncode == 2
        assert "not a socket of yours" in done.stderr
        assert precious.read_text() == "data"


def test_forward_survives_an_upstream_hiccup(
    sshd: LabSshd, postfix: LabPostfix, inn: LabInn
) -> None:
    """A live forward whose upstream is briefly down is kept, not unlinked and lost."""
    with short_dir() as work:
        # The upstream is a port nobody listens on at first, then a listener appears.
        port = free_port()
        config = write_config(sshd, work, isp_rules("127.0.0.1", port, inn.host, inn.port))
        path = work / "fw" / "smtp.sock"
        try:
            done = _forward(config, "smtp.isp.test", "smtp", "--listen", str(path))
            assert done.returncode == 1  # added, but nothing greets behind it
            assert path.exists()
            again = _forward(config, "smtp.isp.test", "smtp", "--listen", str(path))
            assert "does not greet" in again.stderr
            assert path.exists()  # still the live forward
            upstream = subprocess.Popen(
                [sys.executable, "-c", FAKE_SMTP, str(port)], stdout=subprocess.PIPE, text=True
            )
            try:
                assert upstream.stdout is not None and upstream.stdout.readline()
                time.sleep(0.1)
                fixed = _forward(config, "smtp.isp.test", "smtp", "--listen", str(path))
                assert fixed.returncode == 0, fixed.stderr
                assert "already up" in fixed.stdout
            finally:
                upstream.kill()
                upstream.wait()
        finally:
            subprocess.run(
                [str(BIN / "pinesh"), "--config", str(config), "ssh", "stop"],
                capture_output=True,
                timeout=30,
                check=False,
            )
