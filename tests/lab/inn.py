"""The lab's INN: the system news server (/etc/news), moved to a free port on 127.0.0.1.

There is one INN per machine, so concurrent test sessions share it: the first session
(re)starts it, later ones reuse it, and the last one to finish shuts it down. A server
left behind by a session that died is stopped and started afresh; its history and
articles stay (every test posts under a Message-ID of its own).

innd answers a connection from 127.0.0.1 in transit mode, because Debian's incoming.conf
lists localhost as the peer ME; a reader sends MODE READER first, and innd hands the
connection to nnrpd, which reads and posts without authentication (Debian's readers.conf).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests.lab.common import LabError, free_port, live_program, require_root, run, which

NEWS_USER = "news"
NEWS_BIN = Path("/usr/lib/news/bin")
INN_CONF = Path("/etc/news/inn.conf")
ACTIVE = Path("/var/lib/news/active")
RUN_DIR = Path("/run/news")
PID_FILE = RUN_DIR / "innd.pid"
LOG_DIR = Path("/var/log/news")
LAB_GROUPS = ("local.test", "local.other")
HOST = "127.0.0.1"
# MUTEX is held while a session starts or stops INN; every session using INN holds a
# shared lock on USERS, so whoever can lock USERS exclusively is alone.
MUTEX = Path("/run/pinesh-lab-inn.mutex")
USERS = Path("/run/pinesh-lab-inn.users")


@dataclass
class LabInn:
    """The running INN: where it listens, the lab's groups and its log files.

    innd greets 127.0.0.1 in transit mode; send MODE READER to get nnrpd (read and post).
    """

    host: str
    port: int
    groups: list[str]
    log: Path  # innd's article log (no syslog here: notices and errors are lost)
    errlog: Path  # innd's own stdout and stderr
    users_lock: IO[str] | None = field(default=None, repr=False)

    def log_text(self) -> str:
        """innd's logs so far."""
        return _logs()

    def stop(self) -> None:
        """Leave INN; shut it down if no other test session still uses it."""
        if self.users_lock is None:
            return
        with open(MUTEX, "a") as mutex:
            fcntl.flock(mutex, fcntl.LOCK_EX)
            try:
                fcntl.flock(self.users_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                alone = True
            except BlockingIOError:
                alone = False
            if alone:
                _shutdown()
            self.users_lock.close()
            self.users_lock = None


def start_inn() -> LabInn:
    """Start INN on a free port on 127.0.0.1 (or join the one another session runs)."""
    require_root()
    for program in ("innd", "ctlinnd", "rc.news"):
        which(str(NEWS_BIN / program), "inn2")
    users = open(USERS, "a")  # noqa: SIM115 - held for the whole session, closed by stop()
    try:
        with open(MUTEX, "a") as mutex:
            fcntl.flock(mutex, fcntl.LOCK_EX)
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
                alone = True
            except BlockingIOError:
                alone = False
            port = _configured_port()
            if alone or port is None or not _healthy(port):
                # Alone: whatever runs was left by a session that is gone. Not alone: the
                # shared server is broken, and the sessions using it fail either way.
                _shutdown()
                port = free_port(HOST)
                _configure(port)
                _start()
                _wait_until_healthy(port)
            _ensure_groups()
            # Safe while MUTEX is held: nobody else tries USERS exclusively meanwhile.
            fcntl.flock(users, fcntl.LOCK_SH)
    except BaseException:
        users.close()
        raise
    return LabInn(HOST, port, list(LAB_GROUPS), LOG_DIR / "news", LOG_DIR / "errlog", users)


def _news(argv: list[str], what: str) -> str:
    """Run an INN command as the news user."""
    return run(["runuser", "-u", NEWS_USER, "--", *argv], what=what)


def _logs() -> str:
    parts = []
    for name in ("errlog", "news", "news.err", "news.crit"):
        try:
            text = (LOG_DIR / name).read_text(errors="replace")
        except OSError:
            continue
        parts.append(f"--- {LOG_DIR / name} ---\n{text[-4000:]}")
    return "\n".join(parts)


def _innd_pid() -> int | None:
    try:
        return int(PID_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _read_conf() -> str:
    try:
        return INN_CONF.read_text()
    except OSError as exc:
        raise LabError(f"INN is not installed (Debian package inn2): {exc}") from exc


def _configured_port() -> int | None:
    """The port in inn.conf, if it is a lab configuration (bound to 127.0.0.1)."""
    text = _read_conf()
    port = re.search(r"^port:\s*(\d+)\s*$", text, re.MULTILINE)
    bind = re.search(r"^bindaddress:\s*\"?([^\s\"]+)", text, re.MULTILINE)
    if port is None or bind is None or bind.group(1) != HOST:
        return None
    return int(port.group(1))


def _set(text: str, key: str, value: str) -> str:
    """inn.conf text with key set to value: replace the key's line, else its comment."""
    line = f"{key + ':':<29}{value}"
    for pattern in (rf"^{key}:.*$", rf"^#\s*{key}:.*$"):
        if re.search(pattern, text, re.MULTILINE):
            return re.sub(pattern, line, text, count=1, flags=re.MULTILINE)
    return f"{text.rstrip()}\n{line}\n"


def _configure(port: int) -> None:
    """Point inn.conf at the lab's port and address (rewritten only when it changes)."""
    old = _read_conf()
    new = _set(old, "port", str(port))
    new = _set(new, "bindaddress", HOST)
    # innwatch would throttle innd on a full-looking disk and keeps a shell around.
    new = _set(new, "doinnwatch", "false")
    if new != old:
        tmp = INN_CONF.with_name(f".{INN_CONF.name}.pinesh-lab")
        tmp.write_text(new)
        stat = INN_CONF.stat()
        os.chown(tmp, stat.st_uid, stat.st_gid)
        tmp.chmod(stat.st_mode & 0o7777)
        tmp.replace(INN_CONF)


def _start() -> None:
    """Start innd through rc.news as the news user; it forks into the background."""
    # rc.news trusts a pid file whose process still "exists": a zombie innd would stop it.
    pid = _innd_pid()
    unclean = pid is not None
    if unclean:
        PID_FILE.unlink(missing_ok=True)
    # rc.news mails the news admin at every start when news.daily has not run for a day.
    _news(["touch", "/var/lib/news/.news.daily"], "refresh .news.daily")
    try:
        _news([str(NEWS_BIN / "rc.news")], "start INN (rc.news)")
    except LabError as exc:
        raise LabError(f"{exc}\n{_logs()}") from exc
    if unclean:
        # What rc.news -r would do after an unclean shutdown: fix the active file's marks.
        _wait_for_control()
        _news([str(NEWS_BIN / "ctlinnd"), "-t", "10", "renumber", ""], "renumber INN's active")


def _wait_for_control(timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not (RUN_DIR / "control").exists():
        if time.monotonic() > deadline:
            raise LabError(f"innd made no control socket in {timeout:.0f} s\n{_logs()}")
        time.sleep(0.02)


def _shutdown(timeout: float = 10) -> None:
    """Stop a running innd: `ctlinnd shutdown`, then TERM and KILL by its pid."""
    pid = _innd_pid()
    if pid is None or not live_program(pid, "innd"):
        return
    with contextlib.suppress(LabError):  # a wedged innd is killed below
        _news([str(NEWS_BIN / "ctlinnd"), "-t", "5", "shutdown", "pinesh lab"], "stop INN")
    for signal in (None, 15, 9):
        if signal is not None:
            try:
                os.kill(pid, signal)
            except ProcessLookupError:
                break
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and live_program(pid, "innd"):
            time.sleep(0.02)
        if not live_program(pid, "innd"):
            break
    else:
        raise LabError(f"innd (pid {pid}) does not die\n{_logs()}")
    if _innd_pid() == pid:
        PID_FILE.unlink(missing_ok=True)


def _greeting(port: int, reader: bool) -> bytes:
    """innd's greeting, or nnrpd's answer to MODE READER."""
    with socket.create_connection((HOST, port), timeout=5) as sock:
        replies = sock.makefile("rb")
        line = replies.readline()
        if reader and line.startswith(b"20"):
            sock.sendall(b"MODE READER\r\n")
            line = replies.readline()
        sock.sendall(b"QUIT\r\n")
        return line


def _healthy(port: int) -> bool:
    """Whether a news server answers readers on port."""
    try:
        return _greeting(port, reader=True).startswith(b"200")
    except OSError:
        return False


def _wait_until_healthy(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = _greeting(port, reader=True)
            if reply.startswith(b"200"):
                return
            why = f"MODE READER answered {reply!r}"
        except OSError as exc:
            why = str(exc)
        pid = _innd_pid()  # written by innd shortly after rc.news returns
        if time.monotonic() > deadline or (pid is not None and not live_program(pid, "innd")):
            raise LabError(f"INN does not serve readers on {HOST}:{port}: {why}\n{_logs()}")
        time.sleep(0.02)


def _ensure_groups() -> None:
    """Create the lab's newsgroups (postable) if the active file lacks them."""
    try:
        active = ACTIVE.read_text()
    except OSError as exc:
        raise LabError(f"INN has no active file: {exc}\n{_logs()}") from exc
    present = {line.split()[0] for line in active.splitlines() if line.strip()}
    for group in LAB_GROUPS:
        if group not in present:
            _news([str(NEWS_BIN / "ctlinnd"), "newgroup", group, "y"], f"create {group}")
