"""A private INN for one namespace: the ISP's news server in the lab's network.

INN's paths are compiled in (/etc/news, /var/lib/news, /var/spool/news, /run/news,
/var/log/news), so the machine has one INN, which the loopback lab uses. This one runs in
a mount namespace of its own: ``ip netns exec`` gives the command a private mount table,
where the lab's own directories are bind-mounted over those five paths before rc.news
starts innd. innd keeps that mount table, and so every nnrpd it starts. The machine's INN
and its files are untouched.

Readers and posters are allowed only from the ISP's network (readers.conf); anyone else is
told "502 You have no permission to talk" at once.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.lab.common import LabError, chown_tree_to, live_program, which
from tests.lab.inn import LAB_GROUPS, NEWS_BIN, NEWS_USER, _set
from tests.lab.netns import ns_argv, socket_in

SYSTEM_PATHS = {
    "etc": Path("/etc/news"),
    "db": Path("/var/lib/news"),
    "spool": Path("/var/spool/news"),
    "run": Path("/run/news"),
    "log": Path("/var/log/news"),
}
SPOOL_DIRS = ("articles", "overview", "incoming", "incoming/tmp", "outgoing", "archive")
ACTIVE_GROUPS = ("control", "control.cancel", "control.checkgroups", "junk", *LAB_GROUPS)


@dataclass
class PrivateInn:
    """A running private INN: its address, namespace, groups and files."""

    namespace: str
    host: str
    port: int
    groups: list[str]
    directory: Path

    def log_text(self) -> str:
        parts = []
        for path in sorted((self.directory / "log").rglob("*")):
            if path.is_file():
                text = path.read_text(errors="replace")[-4000:]
                parts.append(f"--- {path.name} ---\n{text}")
        return "\n".join(parts)

    def pid(self) -> int | None:
        try:
            return int((self.directory / "run" / "innd.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        """Stop innd: `ctlinnd shutdown` inside its namespaces, then TERM and KILL."""
        pid = self.pid()
        if pid is None or not live_program(pid, "innd"):
            return
        ctlinnd = [str(NEWS_BIN / "ctlinnd"), "-t", "5", "shutdown", "lab"]
        enter = ["nsenter", "-t", str(pid), "-m", "-n", "runuser", "-u", NEWS_USER, "--"]
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run([*enter, *ctlinnd], capture_output=True, timeout=10, check=False)
        for signal in (None, 15, 9):
            if signal is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and live_program(pid, "innd"):
                time.sleep(0.02)
            if not live_program(pid, "innd"):
                return


def _prepare(directory: Path, host: str, port: int, domain: str, readers: str) -> None:
    news = pwd.getpwnam(NEWS_USER)
    shutil.copytree(SYSTEM_PATHS["etc"], directory / "etc", symlinks=True)
    conf = directory / "etc" / "inn.conf"
    text = conf.read_text()
    for key, value in (
        ("port", str(port)),
        ("bindaddress", host),
        ("bindaddress6", '"none"'),
        ("pathhost", f"news.{domain}"),
        ("doinnwatch", "false"),
    ):
        text = _set(text, key, value)
    conf.write_text(text)
    (directory / "etc" / "readers.conf").write_text(
        f"""# The ISP's readers: its own network only (pinesh lab).
auth "isp" {{
    hosts: "{readers}"
    default: "<isp>"
}}
access "isp" {{
    users: "<isp>"
    newsgroups: "*"
    access: RPA
}}
"""
    )
    db = directory / "db"
    db.mkdir()
    (db / "active").write_text(
        "".join(f"{group} 0000000000 0000000001 y\n" for group in ACTIVE_GROUPS)
    )
    for name in ("active.times", "newsgroups", "history"):
        (db / name).touch()
    for sub in SPOOL_DIRS:
        (directory / "spool" / sub).mkdir(parents=True, exist_ok=True)
    for name in ("run", "log"):
        (directory / name).mkdir()
    chown_tree_to(directory, news.pw_uid, news.pw_gid)
    directory.chmod(0o755)


def start_private_inn(
    namespace: str, directory: Path, *, host: str, port: int, domain: str, readers: str
) -> PrivateInn:
    """Start a private INN in namespace on host:port, readers allowed from readers."""
    for program in ("innd", "ctlinnd", "rc.news", "makedbz"):
        which(str(NEWS_BIN / program), "inn2")
    _prepare(directory, host, port, domain, readers)
    binds = " && ".join(
        f"mount --bind {directory / name} {path}" for name, path in SYSTEM_PATHS.items()
    )
    as_news = f"runuser -u {NEWS_USER} --"
    script = (
        f"{binds} && cd /var/lib/news && {as_news} {NEWS_BIN / 'makedbz'} -i -o"
        f" && {as_news} touch /var/lib/news/.news.daily"
        f" && exec {as_news} {NEWS_BIN / 'rc.news'}"
    )
    done = subprocess.run(
        ns_argv(namespace, ["sh", "-c", script]),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    inn = PrivateInn(namespace, host, port, list(LAB_GROUPS), directory)
    if done.returncode != 0:
        raise LabError(
            f"the ISP's INN did not start (exit {done.returncode}):\n{done.stdout}{done.stderr}\n"
            f"{inn.log_text()}"
        )
    _wait_for_readers(inn)
    return inn


def _wait_for_readers(inn: PrivateInn, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    why = "no answer"
    while time.monotonic() < deadline:
        try:
            with socket_in(inn.namespace, inn.host, inn.port, timeout=2) as sock:
                replies = sock.makefile("rb")
                line = replies.readline()
                if line.startswith(b"20"):
                    sock.sendall(b"MODE READER\r\n")
                    line = replies.readline()
                    if line.startswith(b"200"):
                        sock.sendall(b"QUIT\r\n")
                        return
                why = f"answered {line!r}"
        except OSError as exc:
            why = str(exc)
        time.sleep(0.05)
    inn.stop()
    raise LabError(
        f"the ISP's INN serves no readers on {inn.host}:{inn.port}: {why}\n{inn.log_text()}"
    )
