"""The lab's Dovecot: preauthenticated IMAP over ssh, and a daemon with STARTTLS and IMAPS.

Preauthenticated IMAP (`ssh lab exec /usr/lib/dovecot/imap`, or Pine's `exec /etc/rimapd`)
runs the system binary with the system config, so prepare_preauth() changes the system.
It does so idempotently at every test session:

- /etc/dovecot/local.conf (included last by Debian's dovecot.conf) sets
  `mail_location = maildir:~/Maildir` (Debian's default is mbox) and turns the stats writer
  off, so a running system Dovecot can never cause a "stats-writer: Permission denied" line.
- /etc/rimapd becomes a symlink to /usr/lib/dovecot/imap (Pine's default rimap command).
- The lab user's login shell becomes PREAUTH_SHELL, a wrapper around /bin/sh. The standalone
  imap binary logs to stderr whatever the config says (log_path is ignored when no Dovecot
  master started it), and at LOGOUT it writes "Info: Disconnected: Logged out ...". For the
  exact commands `exec /usr/lib/dovecot/imap` and `exec /etc/rimapd` the wrapper sends that
  stderr to /dev/null; every other command runs through /bin/sh unchanged.

The daemon is our own `dovecot -F -c CONF` with its own base_dir, state_dir and log in a lab
dir, a test CA, and password logins for the lab user, on 127.0.0.2 (see LAB_DOVECOT_HOST).
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import re
import shutil
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab.common import LabError, LabUser, ServerProcess, free_port, run, which

IMAP_BINARY = "/usr/lib/dovecot/imap"
RIMAPD = "/etc/rimapd"
SYSTEM_LOCAL_CONF = Path("/etc/dovecot/local.conf")
PREAUTH_SHELL = Path("/usr/local/lib/pinesh-lab/preauth-shell")
PREAUTH_COMMANDS = (f"exec {IMAP_BINARY}", f"exec {RIMAPD}")

# Dovecot treats a connection whose remote address equals its local address as secure and
# then allows plaintext LOGIN before STARTTLS; no setting turns that off. Our clients come
# from 127.0.0.1, so the daemon listens on another loopback address.
LAB_DOVECOT_HOST = "127.0.0.2"
SERVER_NAME = "imap.pinesh.test"
SERVER_DNS_NAMES = ("localhost", SERVER_NAME)
SERVER_IPS = ("127.0.0.1", LAB_DOVECOT_HOST)

_MARKER = "# Written by the pinesh test lab (tests/lab/dovecot.py); rewritten every session."

LOCAL_CONF = f"""{_MARKER}
# Preauthenticated IMAP over ssh (/usr/lib/dovecot/imap, /etc/rimapd) reads this config.
mail_location = maildir:~/Maildir
# No stats client: a running system Dovecot's stats-writer socket refuses other users, and
# the standalone imap would report that on stderr, inside the client's IMAP stream.
stats_writer_socket_path =
"""

PREAUTH_SHELL_SCRIPT = f"""#!/bin/sh
{_MARKER}
# Login shell of the pinesh lab user. Dovecot's standalone imap logs to stderr whatever its
# config says, and writes "Info: Disconnected: Logged out" there at LOGOUT; a client that
# merges stderr into the IMAP stream (Pine) must not see it. Only the two preauth commands
# are changed; everything else runs through /bin/sh as before.
if [ "$#" -eq 2 ] && [ "$1" = "-c" ]; then
    case "$2" in
        "{PREAUTH_COMMANDS[0]}") exec {IMAP_BINARY} 2>/dev/null ;;
        "{PREAUTH_COMMANDS[1]}") exec {RIMAPD} 2>/dev/null ;;
    esac
fi
exec /bin/sh "$@"
"""

_LOGIN_LINE = re.compile(r"imap-login: Info: Login: user=<")


@dataclass
class LabDovecot:
    """A running lab Dovecot and what reaches it (password logins and preauth commands)."""

    host: str
    imap_port: int
    imaps_port: int
    ca_file: Path
    cert_sha256: str
    user: LabUser
    preauth_command: list[str]
    rimapd: str
    log: Path
    directory: Path
    server: ServerProcess = field(repr=False)
    server_name: str = SERVER_NAME

    def logins(self) -> int:
        """Successful password logins seen so far in the daemon's log."""
        return len(_LOGIN_LINE.findall(self.log.read_text(errors="replace")))

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts only the lab's test CA (hostname checks on)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def stop(self) -> None:
        self.server.stop()


def _write_if_changed(path: Path, text: str, mode: int) -> None:
    """Write a root-owned file only when its content differs, so set-up stays idempotent."""
    try:
        if path.read_text() == text:
            path.chmod(mode)
            return
    except FileNotFoundError:
        pass
    # A per-process name: test sessions may run side by side.
    tmp = path.with_name(f".{path.name}.pinesh-lab-{os.getpid()}")
    tmp.write_text(text)
    tmp.chmod(mode)
    os.replace(tmp, path)


def _install_local_conf() -> None:
    if SYSTEM_LOCAL_CONF.exists():
        current = SYSTEM_LOCAL_CONF.read_text(errors="replace")
        if not current.startswith(_MARKER):
            raise LabError(
                f"{SYSTEM_LOCAL_CONF} exists and was not written by the lab; the preauth IMAP "
                f"needs these settings in it:\n{LOCAL_CONF}"
            )
    _write_if_changed(SYSTEM_LOCAL_CONF, LOCAL_CONF, 0o644)


def _install_rimapd() -> None:
    link = Path(RIMAPD)
    if link.is_symlink():
        if os.readlink(link) == IMAP_BINARY:
            return
        link.unlink()
    elif link.exists():
        raise LabError(f"{RIMAPD} exists and is not a symlink; it should point to {IMAP_BINARY}")
    try:
        link.symlink_to(IMAP_BINARY)
    except FileExistsError:
        # Another test session made it just now.
        if os.readlink(link) != IMAP_BINARY:
            raise


def _install_preauth_shell(user: LabUser) -> None:
    PREAUTH_SHELL.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    _write_if_changed(PREAUTH_SHELL, PREAUTH_SHELL_SCRIPT, 0o755)
    if pwd.getpwnam(user.name).pw_shell != str(PREAUTH_SHELL):
        run(["usermod", "-s", str(PREAUTH_SHELL), user.name], what="set the lab user's shell")


def _run_as(user: LabUser, argv: list[str], stdin: str) -> subprocess.CompletedProcess[str]:
    """Run argv as the lab user in its home, with the environment sshd would give it."""
    env = {
        "HOME": str(user.home),
        "USER": user.name,
        "LOGNAME": user.name,
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "SHELL": str(PREAUTH_SHELL),
    }
    try:
        return subprocess.run(
            argv,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
            user=user.uid,
            group=user.gid,
            extra_groups=[],
            env=env,
            cwd=user.home,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"run {' '.join(argv)} as {user.name}: {exc}") from exc


def check_preauth(user: LabUser) -> None:
    """Run both preauth commands the way sshd does; raise LabError with imap's own output."""
    for command in PREAUTH_COMMANDS:
        done = _run_as(user, [str(PREAUTH_SHELL), "-c", command], "a LOGOUT\r\n")
        if not done.stdout.startswith("* PREAUTH") or done.stderr or done.returncode != 0:
            # Run the binary without the wrapper too: its stderr says what is wrong.
            raw = _run_as(user, [IMAP_BINARY], "a LOGOUT\r\n")
            raise LabError(
                f"preauth IMAP `{command}` as {user.name} exited {done.returncode}\n"
                f"--- stdout ---\n{done.stdout}--- stderr ---\n{done.stderr}"
                f"--- {IMAP_BINARY} run directly: stderr ---\n{raw.stderr}"
            )


def prepare_preauth(user: LabUser) -> None:
    """Make `ssh lab exec /usr/lib/dovecot/imap` and `exec /etc/rimapd` greet PREAUTH quietly."""
    which(IMAP_BINARY, "dovecot-imapd")
    _install_local_conf()
    _install_rimapd()
    _install_preauth_shell(user)
    ensure_maildir(user)
    check_preauth(user)


def ensure_maildir(user: LabUser) -> Path:
    """Make sure the lab user's ~/Maildir exists with cur/new/tmp, owned by the lab user."""
    maildir = user.maildir
    for path in (maildir, maildir / "cur", maildir / "new", maildir / "tmp"):
        path.mkdir(mode=0o700, exist_ok=True)
        os.lchown(path, user.uid, user.gid)
    return maildir


def reset_maildir(user: LabUser) -> Path:
    """Empty the lab user's ~/Maildir (messages, folders, Dovecot's indexes) and recreate it."""
    maildir = user.maildir
    if maildir.is_symlink():
        maildir.unlink()
    elif maildir.exists():
        shutil.rmtree(maildir)
    return ensure_maildir(user)


@dataclass(frozen=True)
class LabCA:
    """A test CA and one server certificate it signed (PEM files)."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    @property
    def cert_sha256(self) -> str:
        """The server certificate's sha256 fingerprint, lowercase hex without colons."""
        der = ssl.PEM_cert_to_DER_cert(self.cert_file.read_text())
        return hashlib.sha256(der).hexdigest()


def make_test_ca(
    directory: Path,
    dns_names: tuple[str, ...] = SERVER_DNS_NAMES,
    ips: tuple[str, ...] = SERVER_IPS,
) -> LabCA:
    """Make a CA and a server certificate for the lab's names and addresses with openssl."""
    openssl = which("openssl", "openssl")
    ca_file, ca_key = directory / "ca.pem", directory / "ca.key"
    cert_file, key_file = directory / "server.pem", directory / "server.key"

    def request(subject: str, key: Path, cert: Path, extensions: list[str], *sign: str) -> None:
        argv = [openssl, "req", "-x509", *sign, "-newkey", "ec", "-noenc", "-days", "30"]
        argv += ["-pkeyopt", "ec_paramgen_curve:prime256v1", "-subj", subject]
        argv += ["-keyout", str(key), "-out", str(cert)]
        for extension in extensions:
            argv += ["-addext", extension]
        run(argv, what=f"make the certificate {subject}")

    request(
        "/CN=pinesh test lab CA",
        ca_key,
        ca_file,
        ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"],
    )
    names = [f"DNS:{name}" for name in dns_names] + [f"IP:{ip}" for ip in ips]
    request(
        f"/CN={dns_names[-1]}",
        key_file,
        cert_file,
        [
            f"subjectAltName={','.join(names)}",
            "basicConstraints=critical,CA:FALSE",
            "keyUsage=critical,digitalSignature",
            "extendedKeyUsage=serverAuth",
        ],
        *("-CA", str(ca_file), "-CAkey", str(ca_key)),
    )
    for key in (ca_key, key_file):
        key.chmod(0o600)
    for cert in (ca_file, cert_file):
        cert.chmod(0o644)
    return LabCA(ca_file, cert_file, key_file)


def _daemon_config(
    user: LabUser,
    directory: Path,
    ca: LabCA,
    passwd: Path,
    log: Path,
    ports: tuple[int, int],
    host: str,
    extra: str,
) -> str:
    imap_port, imaps_port = ports
    return f"""{_MARKER}
protocols = imap
listen = {host}
base_dir = {directory / "run"}
state_dir = {directory / "state"}
instance_name = pinesh-lab
log_path = {log}
auth_verbose = yes
# A wrong password is answered in under 0.5 s (auth's failure queue runs twice a second)
# instead of 2 s, so tests of failed logins stay fast.
auth_failure_delay = 0
ssl = yes
ssl_cert = <{ca.cert_file}
ssl_key = <{ca.key_file}
disable_plaintext_auth = yes
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = static
  args = uid={user.uid} gid={user.gid} home={user.home}
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {imaps_port}
    ssl = yes
  }}
}}
service stats {{
  # imap runs as the lab user and reports to stats; keep its log free of EACCES lines.
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
{extra}"""


def _disable_auth_penalty(server: ServerProcess, run_dir: Path, timeout: float = 10) -> None:
    """Remove anvil's auth-penalty socket before any login, which turns the penalty off.

    Dovecot delays every login from an address that failed one (2 s, 4 s, ... 15 s). All lab
    clients share 127.0.0.1, so one wrong-password test would slow every later login. The
    auth process skips the penalty, silently, when that socket does not exist.
    """
    socket_path = run_dir / "anvil-auth-penalty"
    deadline = time.monotonic() + timeout
    while not socket_path.exists():
        why = None
        if server.process.poll() is not None:
            why = f"dovecot exited with {server.process.returncode}"
        elif time.monotonic() > deadline:
            why = f"{socket_path} did not appear after {timeout:.0f} s"
        if why is not None:
            server.stop()
            raise server.fail(why)
        time.sleep(0.01)
    socket_path.unlink()


def start_dovecot(
    user: LabUser,
    directory: Path,
    *,
    host: str = LAB_DOVECOT_HOST,
    ports: tuple[int, int] | None = None,
    namespace: str | None = None,
    dns_names: tuple[str, ...] = SERVER_DNS_NAMES,
    extra_config: str = "",
) -> LabDovecot:
    """Start `dovecot -F` with its own config: IMAP+STARTTLS and IMAPS on host (by default
    LAB_DOVECOT_HOST on free ports; with namespace, inside it), its certificate for
    dns_names and host; extra_config is appended to the config."""
    dovecot = which("/usr/sbin/dovecot", "dovecot-core")
    which(IMAP_BINARY, "dovecot-imapd")
    if ":" in user.password:
        raise LabError("the lab password must not contain ':' (passwd-file format)")
    ensure_maildir(user)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    for sub in ("run", "state"):
        (directory / sub).mkdir(mode=0o755, exist_ok=True)
    ips = SERVER_IPS if host == LAB_DOVECOT_HOST else (host,)
    ca = make_test_ca(directory, dns_names, ips)

    # The auth process runs as Dovecot's internal user and reads the password file.
    passwd = directory / "passwd"
    passwd.write_text(f"{user.name}:{{PLAIN}}{user.password}\n")
    passwd.chmod(0o640)
    try:
        os.chown(passwd, 0, grp.getgrnam("dovecot").gr_gid)
    except KeyError as exc:
        raise LabError("group dovecot is missing (Debian package dovecot-core)") from exc

    if ports is None:
        imap_port = free_port(host)
        imaps_port = free_port(host)
        while imaps_port == imap_port:
            imaps_port = free_port(host)
        ports = (imap_port, imaps_port)
    log = directory / "dovecot.log"
    config = directory / "dovecot.conf"
    config.write_text(_daemon_config(user, directory, ca, passwd, log, ports, host, extra_config))
    # The master's own stderr (config errors before its log is open) goes to the same file.
    server = ServerProcess("dovecot", [dovecot, "-F", "-c", str(config)], log, namespace=namespace)
    _disable_auth_penalty(server, directory / "run")
    for port in ports:
        server.wait_for_port(host, port)
    return LabDovecot(
        host=host,
        imap_port=ports[0],
        imaps_port=ports[1],
        ca_file=ca.ca_file,
        cert_sha256=ca.cert_sha256,
        user=user,
        preauth_command=[IMAP_BINARY],
        rimapd=RIMAPD,
        log=log,
        directory=directory,
        server=server,
        server_name=dns_names[-1],
    )
