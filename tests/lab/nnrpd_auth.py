"""A news reader server that requires AUTHINFO: INN's nnrpd run as a daemon of its own.

`nnrpd -D -f -p PORT -b HOST -c READERS` listens by itself (no innd in front), in the
foreground, with a readers.conf of its own: every reader must log in (AUTHINFO USER/PASS,
checked by INN's ckpasswd against a passwd file made here), then may read every group. It
serves the machine's INN spool and groups (tests/lab/inn.py's server makes them); the
machine's INN and its readers.conf are untouched.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from tests.lab.common import LabError, ServerProcess, free_port, run, which
from tests.lab.inn import NEWS_BIN, NEWS_USER

NNRPD = NEWS_BIN / "nnrpd"
CKPASSWD = NEWS_BIN / "auth" / "passwd" / "ckpasswd"


@dataclass
class AuthNnrpd:
    """The running nnrpd that requires a login, and where it listens."""

    host: str
    port: int
    user: str
    server: ServerProcess

    def stop(self) -> None:
        self.server.stop()


def start_auth_nnrpd(directory: Path, user: str, password: str, host: str) -> AuthNnrpd:
    """Start nnrpd on a free port of host; user/password is the one login it accepts."""
    which(str(NNRPD), "inn2")
    which(str(CKPASSWD), "inn2")
    if ":" in user or ":" in password:
        raise LabError("the nnrpd login must not contain ':' (passwd file format)")
    hashed = run(
        ["openssl", "passwd", "-6", "-stdin"], input=password, what="hash the nnrpd password"
    ).strip()
    passwd = directory / "nnrpd.passwd"
    passwd.write_text(f"{user}:{hashed}\n")
    readers = directory / "readers.conf"
    readers.write_text(
        f"""# Every reader logs in (pinesh lab, tests/lab/nnrpd_auth.py).
auth "login" {{
    hosts: "*"
    auth: "ckpasswd -f {passwd}"
}}
access "login" {{
    users: "{user}"
    newsgroups: "*"
    access: R
}}
"""
    )
    news = pwd.getpwnam(NEWS_USER)
    for path in (passwd, readers):
        os.chown(path, news.pw_uid, news.pw_gid)
        path.chmod(0o600)
    directory.chmod(0o755)
    port = free_port(host)
    argv = [str(NNRPD), "-D", "-f", "-p", str(port), "-b", host, "-c", str(readers)]
    server = ServerProcess("nnrpd", argv, directory / "nnrpd.log")
    server.wait_for_port(host, port)
    return AuthNnrpd(host, port, user, server)
