"""`pinesh connect`'s lean start: a remembered decision, served with the standard library only.

Alpine, mutt and mbsync run `pinesh-connect HOST USER imap` (or `pinesh connect ...`) for
every connection. The full path (cli/connect.py) costs ~0.2 s of imports before any ssh
starts. So the full path, after it decides, writes what it decided to a plan cache in the
private runtime directory; this module reads that cache and, when the entry still holds,
acts on it without importing any of pinesh's layers:

- "no route": exit 1 at once, as the full path would, with the same words on stderr;
- an ssh route (a remote PREAUTH command, or a stdio channel whose whole way is trusted):
  run the very ssh argv the full path ran, through the master that is already up, check
  the IMAP greeting by the full path's rules, and relay.

Anything else returns None and the caller runs the full path: an argument that is not a
plain host/user/method, a missing, stale, foreign or malformed cache, a master that does
not answer, and any ssh or greeting failure (the full path then tries again, says why,
and updates its route memory). An entry holds only while the pinesh config and the
pinerc have the very identity (device, inode, size, mtime, ctime) they had when the full
path started reading them, and only for the same arguments, login name and file paths.

Never imported by the layers' code at module level costs: os, sys, _socket and select only
(tomllib, json, re, socket, subprocess, dataclasses are each a few to 30 ms here).
"""

from __future__ import annotations

import itertools
import os
import sys

PLAN_FILE = "connect-plans"
MAGIC = "pinesh-connect-plans 1"
MAX_PLAN_BYTES = 1 << 16  # the cache is a few lines per server; more is not ours
MAX_ENTRIES = 64
MAX_GREETING = 8192  # as transport.greeting.MAX_GREETING
STDERR_KEEP = 16384  # as transport.process.STDERR_KEEP
NO_SSH_ROUTE = 1
# Not signal.SIGTERM: the signal module imports enum, and with it collections, functools,
# operator... (eight modules). 15 on every Unix.
SIGTERM = 15
EXPECT_PREAUTH = "preauth"  # an SshPreauthRoute: the greeting must be * PREAUTH
EXPECT_READY = "ready"  # a trusted SshChannelRoute: * OK, and PREAUTH is refused
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:[]")
_USER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_@+")
_HEX = frozenset("0123456789abcdef")


# -- where ----------------------------------------------------------------------------


def runtime_dir(environ: dict[str, str] | os._Environ[str] | None = None) -> str:
    """pinesh.paths.runtime_dir() with os.path alone (tests check that the two agree)."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_RUNTIME_DIR")
    if xdg:
        try:
            info = os.stat(xdg)
        except OSError:
            info = None
        is_dir = info is not None and (info.st_mode & 0o170000) == 0o040000
        if info is not None and is_dir and info.st_uid == os.getuid():
            return os.path.join(xdg, "pinesh")
    return f"/tmp/pinesh-{os.getuid()}"  # noqa: S108 - checked by _private before use


def config_paths(
    config: str | None, pinerc: str | None, environ: dict[str, str] | os._Environ[str] | None = None
) -> tuple[str, str]:
    """The pinesh config and the pinerc the full path reads (pinesh.paths' rules)."""
    env = os.environ if environ is None else environ
    home = os.path.expanduser("~")
    explicit = config or env.get("PINESH_CONFIG")
    if explicit:
        config_path = os.path.expanduser(explicit)
    else:
        base = env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
        config_path = os.path.join(os.path.expanduser(base), "pinesh", "config.toml")
    rc = os.path.expanduser(pinerc or env.get("PINERC") or os.path.join(home, ".pinerc"))
    return config_path, rc


def login_name(environ: dict[str, str] | os._Environ[str] | None = None) -> str:
    """getpass.getuser() without importing getpass: the environment, else the passwd entry."""
    env = os.environ if environ is None else environ
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if value := env.get(name):
            return value
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def identity(path: str) -> str:
    """What must not change for a remembered decision to hold: "absent" or the stat tuple."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "absent"
    except OSError:
        return "unreadable"
    return f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}"


# -- the cache ------------------------------------------------------------------------


def request_key(
    server: str, user: str | None, method: str, config_path: str, pinerc_path: str, login: str
) -> list[str]:
    """The fields an entry is looked up by: everything the decision was made from."""
    return [server, user or "", method, config_path, pinerc_path, login]


def _clean(word: str) -> bool:
    """No control characters, no tabs or newlines (the cache's separators)."""
    return bool(word) and all(" " <= c != "\x7f" for c in word)


def _private(path: str, directory: bool) -> bool:
    """path is ours, a real directory/regular file (no symlink), and closed to others."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    kind = 0o040000 if directory else 0o100000
    return (
        (info.st_mode & 0o170000) == kind
        and info.st_uid == os.getuid()
        and not info.st_mode & 0o077
    )


def read_entries(directory: str) -> list[list[str]]:
    """The cache's entries (lists of fields); [] for a cache that is missing or not ours."""
    path = os.path.join(directory, PLAN_FILE)
    if not (_private(directory, True) and _private(path, False)):
        return []
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return []
    try:
        info = os.fstat(fd)  # the file opened, not the name checked above
        if info.st_uid != os.getuid() or info.st_mode & 0o077 or info.st_size > MAX_PLAN_BYTES:
            return []
        data = os.read(fd, MAX_PLAN_BYTES + 1)
    except OSError:
        return []
    finally:
        os.close(fd)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return []
    lines = text.split("\n")
    if len(data) > MAX_PLAN_BYTES or lines[0] != MAGIC or lines[-1] != "":
        return []
    return [line.split("\t") for line in lines[1:-1]][:MAX_ENTRIES]


def write_entry(directory: str, key: list[str], record: list[str] | None) -> None:
    """Replace key's entry with record (None: drop it), atomically; mode 0600.

    Called by the full path only, in a directory ensure_private_dir() checked. A
    concurrent writer may win the rename: the cache only ever loses entries that way.
    """
    if not _private(directory, True):
        return
    kept = [fields for fields in read_entries(directory) if fields[: len(key)] != key]
    if record is not None:
        line = [*key, *record]
        if not all(_clean(word) for word in line if word) or any("\t" in w for w in line):
            return
        kept.append(line)
    kept = kept[-MAX_ENTRIES:]
    text = MAGIC + "\n" + "".join("\t".join(fields) + "\n" for fields in kept)
    if len(text.encode()) > MAX_PLAN_BYTES:
        text = MAGIC + "\n" + ("\t".join(kept[-1]) + "\n" if record is not None else "")
    import contextlib  # here: the lean start never writes

    # Named by our pid: no live process shares it, so one left by a dead one is stale.
    tmp = os.path.join(directory, f"{PLAN_FILE}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    data = text.encode()
    try:
        try:
            written = os.write(fd, data)
        finally:
            os.close(fd)
        if written != len(data):
            raise OSError(f"short write to {tmp}")
        os.replace(tmp, os.path.join(directory, PLAN_FILE))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# -- decisions ------------------------------------------------------------------------


class Route:
    """A remembered ssh route: its argv, the greeting it must give, its master socket."""

    def __init__(self, argv: list[str], expect: str, control_path: str, timeout: float) -> None:
        self.argv = argv
        self.expect = expect
        self.control_path = control_path
        self.timeout = timeout


def plain_arguments(server: str, user: str | None, method: str) -> bool:
    """Only a plain host, user and method is decided here; anything else (an option-looking
    word, control characters, an odd character the full path might still accept) goes to
    the full path, which refuses or serves it with its own words."""
    return (
        0 < len(server) <= 255
        and server[0] not in "-["
        and set(server) <= _HOST_CHARS
        and (user is None or (0 < len(user) <= 64 and user[0] != "-" and set(user) <= _USER_CHARS))
        and method in ("imap", "smtp", "nntp")
    )


def _control_path_ok(path: str) -> bool:
    name = os.path.basename(path)
    return (
        os.path.isabs(path)
        and len(name) == 18
        and name.startswith("m-")
        and set(name[2:]) <= _HEX
        and _private(os.path.dirname(path), True)
    )


def _route(record: list[str], method: str) -> Route | str | None:
    """record's decision: NO_ROUTE_DECISION, a Route, or None when it does not check."""
    if record == ["none"]:
        return NO_ROUTE_DECISION
    if len(record) < 5 or record[0] != "ssh" or method != "imap":
        return None
    expect, control_path, timeout_text, argv = record[1], record[2], record[3], record[4:]
    try:
        timeout = float(timeout_text)
    except ValueError:
        return None
    if not (0 < timeout <= 600) or expect not in (EXPECT_PREAUTH, EXPECT_READY):
        return None
    if not all(_clean(word) for word in argv) or not _control_path_ok(control_path):
        return None
    # What the full path's argv always has: never prompting, never a master of its own
    # (the fast path rides an existing one only), our control socket.
    pairs = set(itertools.pairwise(argv))
    needed = {
        ("-o", "BatchMode=yes"),
        ("-o", "ControlMaster=no"),
        ("-o", "ControlPath=" + control_path.replace("%", "%%")),
    }
    if not needed <= pairs or "--" not in argv or argv[0].startswith("-"):
        return None
    tail = argv[argv.index("--") :]
    if expect == EXPECT_PREAUTH and not (len(tail) >= 4 and tail[2] == "exec"):
        return None
    if expect == EXPECT_READY and (len(tail) != 2 or argv[-4] != "-W"):
        return None
    return Route(argv, expect, control_path, timeout)


NO_ROUTE_DECISION = "none"


def decide(entries: list[list[str]], key: list[str], idents: list[str]) -> Route | str | None:
    """The remembered decision for key, if its config identities still hold."""
    n = len(key)
    for fields in reversed(entries):
        if fields[:n] == key:
            if fields[n : n + len(idents)] != idents:
                return None
            return _route(fields[n + len(idents) :], key[2])
    return None


# -- the greeting ---------------------------------------------------------------------


def greeting_ok(data: bytes, expect: str) -> bool:
    """Whether data is one IMAP greeting a route of that kind accepts.

    The rules of transport.greeting.parse_greeting and opener._check_child_greeting, for
    IMAP only (tests/unit/test_connect_fast.py runs both on the same transcripts): one
    CRLF line, nothing after it, no stray NUL/CR/LF, "* PREAUTH" where PREAUTH is
    required, "* OK" where it is refused.
    """
    if not data or len(data) > MAX_GREETING:
        return False
    line, sep, rest = data.partition(b"\r\n")
    if not sep or rest or b"\0" in line or b"\n" in line or b"\r" in line:
        return False
    parts = line.split(b" ", 2)
    if len(parts) < 2 or parts[0] != b"*":
        return False
    status = parts[1].upper()
    return status == (b"PREAUTH" if expect == EXPECT_PREAUTH else b"OK")


# -- running --------------------------------------------------------------------------


def _answers(path: str) -> bool:
    """Whether a master accepts connections on path (one connect, as masters._answers)."""
    import _socket

    probe = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        return False
    finally:
        probe.close()
    return True


def _spawn(argv: list[str]) -> tuple[int, int, int, int]:
    """argv in a session of its own, stdin, stdout and stderr piped to us: (pid, in, out, err).

    As transport.process.spawn_on_socketpair: no shell, every other descriptor closed.
    Not the client's stdin itself: until the greeting checks, nothing the client sent may
    be taken, so that the full path, if it must take over, still gets all of it.
    """
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only async-signal-safe work until exec
        try:
            os.setsid()
            os.dup2(in_r, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.closerange(3, os.sysconf("SC_OPEN_MAX"))
            os.execvp(argv[0], argv)  # noqa: S606 - an argv list, as the full path runs
        except BaseException:
            os.write(2, b"pinesh connect: cannot start ssh\n")
        finally:
            os._exit(127)
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    return pid, in_w, out_r, err_r


def _end(pid: int) -> None:
    """SIGTERM the ssh child and reap it (a master it rode on is another process)."""
    try:
        os.kill(pid, SIGTERM)
        os.waitpid(pid, 0)
    except (OSError, ChildProcessError):
        pass


def _read_greeting(out_r: int, err_r: int, timeout: float) -> bytes | None:
    """The child's first CRLF line (and nothing else), or None by EOF, excess or timeout."""
    import select
    import time

    deadline = time.monotonic() + timeout
    data = b""
    watched = [out_r, err_r]
    while b"\r\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ready, _, _ = select.select(watched, [], [], remaining)
        if err_r in ready and not os.read(err_r, 4096):
            watched.remove(err_r)  # ssh said its piece (kept for nobody: see _serve)
        if out_r in ready:
            chunk = os.read(out_r, 4096)
            if not chunk:
                return None
            data += chunk
            if len(data) > MAX_GREETING:
                return None
    return data


def _serve(route: Route) -> int | None:
    """Run route's ssh; relay once the greeting checks; None: let the full path try."""
    pid, in_w, out_r, err_r = _spawn(route.argv)
    greeting = _read_greeting(out_r, err_r, route.timeout)
    if greeting is None or not greeting_ok(greeting, route.expect):
        # Whatever went wrong, the full path tries this route again, and says why with
        # ssh's own words; it also forgets what no longer works.
        _end(pid)
        for fd in (in_w, out_r, err_r):
            os.close(fd)
        return None
    _relay(greeting, in_w, out_r, err_r)
    _end(pid)
    return 0


def _client_to_server(in_w: int) -> None:
    """stdin to ssh until the client is done (then ssh sees EOF) or ssh is gone."""
    try:
        while data := os.read(0, 65536):
            view = memoryview(data)
            while view:
                view = view[os.write(in_w, view) :]
    except OSError:
        pass
    finally:
        os.close(in_w)


def _relay(greeting: bytes, in_w: int, out_r: int, err_r: int) -> None:
    """The greeting, then both directions until the server's side ends.

    As services.relay: one thread per direction, blocking I/O (no O_NONBLOCK on the
    descriptors we share with the client). ssh's stderr is read and dropped once the
    greeting checked, as on the full path.
    """
    import _thread
    import select

    try:
        _write_all(greeting)
        _thread.start_new_thread(_client_to_server, (in_w,))
        watched = [out_r, err_r]
        while out_r in watched:
            ready, _, _ = select.select(watched, [], [])
            for fd in ready:
                data = os.read(fd, 65536)
                if not data:
                    watched.remove(fd)
                elif fd == out_r:
                    _write_all(data)
    except OSError:
        pass  # the client or the server went away: the session is over either way
    finally:
        os.close(out_r)
        os.close(err_r)


def _write_all(data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(1, view) :]


def parse_words(words: list[str]) -> tuple[str | None, str | None, list[str]] | None:
    """`[--config F] [-p PINERC] connect SERVER [USER [METHOD]]` -> (config, pinerc, rest).

    Anything else (another command, another option, -h) is None: argparse's job.
    """
    config = pinerc = None
    i = 0
    while i < len(words) and words[i] != "connect":
        word = words[i]
        if word == "--config" and i + 1 < len(words):
            config, i = words[i + 1], i + 2
        elif word.startswith("--config=") and len(word) > 9:
            config, i = word[9:], i + 1
        elif word == "-p" and i + 1 < len(words):
            pinerc, i = words[i + 1], i + 2
        else:
            return None
    rest = words[i + 1 :]
    if i >= len(words) or not 1 <= len(rest) <= 3:
        return None
    return config, pinerc, rest


def try_connect(words: list[str]) -> int | None:
    """Serve `pinesh [opts] connect ...` from the plan cache, or None for the full path.

    PINESH_CONNECT_FAST=0 turns this off (the benchmark's "full path" rows use it).
    """
    if os.environ.get("PINESH_CONNECT_FAST") == "0":
        return None
    parsed = parse_words(words)
    if parsed is None:
        return None
    config, pinerc, rest = parsed
    server, user, method = rest[0], rest[1] if len(rest) > 1 else None, (rest + ["imap"] * 2)[2]
    if not plain_arguments(server, user, method):
        return None
    config_path, pinerc_path = config_paths(config, pinerc)
    key = request_key(server, user, method, config_path, pinerc_path, login_name())
    decision = decide(
        read_entries(runtime_dir()), key, [identity(config_path), identity(pinerc_path)]
    )
    if decision == NO_ROUTE_DECISION:
        print(
            f"pinesh connect: no ssh route to {server} for {method}; the client should go on",
            file=sys.stderr,
            flush=True,
        )
        return NO_SSH_ROUTE
    if isinstance(decision, Route) and _answers(decision.control_path):
        return _serve(decision)
    return None
