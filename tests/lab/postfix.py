"""The lab's Postfix: a private instance on loopback that relays only for the inside address.

The instance has its own config, queue and data directories and log file under a lab
directory (`postfix -c DIR`). It listens on one free port on 127.0.0.1 and [::1]. The
ISP's inside network is modelled as ::1 alone: a client on 127.0.0.1 may only send to the
lab domain, while a client on ::1 (such as sshd forwarding an `ssh -W` channel) may relay
anywhere. Every accepted message, whatever its recipient, lands in one Maildir owned by
the lab user; nothing ever leaves the machine. The exceptions, for the tests of the mbox
driver, are two addresses that virtual(8) delivers into mbox files with Postfix's own
locking: MBOX_ADDRESS into ``LabPostfix.mbox`` with Debian's default
``virtual_mailbox_lock = fcntl, dotlock`` (dot-lock, then open, then fcntl), and
MBOX_FCNTL_ADDRESS into ``LabPostfix.mbox_fcntl`` with ``fcntl`` only (open, then fcntl:
the delivery agent has the file open while it waits for the lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.lab.common import (
    LAB_DOMAIN,
    LabError,
    LabUser,
    free_port,
    live_program,
    require_root,
    run,
    wait_for_port,
    which,
)

POSTFIX = "/usr/sbin/postfix"
SENDMAIL = "/usr/sbin/sendmail"
POSTCONF = "/usr/sbin/postconf"
DIR_PREFIX = "pinesh-lab-postfix-"  # what make_lab_dir("postfix") names its directories
SINK_ADDRESS = f"sink@{LAB_DOMAIN}"
# Delivered into the mbox file mail/mbox (a virtual mailbox path without a trailing "/"),
# and with fcntl locking only into mail/mbox-fcntl (by the transport virtual-fcntl).
MBOX_ADDRESS = f"mbox@{LAB_DOMAIN}"
MBOX_FCNTL_ADDRESS = f"mbox-fcntl@{LAB_DOMAIN}"
POSTQUEUE = "/usr/sbin/postqueue"
# Serialises edits of the system main.cf between concurrent test sessions.
SYSTEM_CONF_LOCK = Path("/run/pinesh-lab-postfix.lock")
SYSTEM_MAIN_CF = Path("/etc/postfix/main.cf")

# Only the services a loopback-only instance needs; nothing chrooted (the queue directory
# holds none of the files a chroot needs), no smtp client (nothing is relayed out).
MASTER_CF = """\
{port}      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
virtual-fcntl unix -    n       n       -       -       virtual
  -o virtual_mailbox_lock=fcntl
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
maillog_file = {log}
maillog_file_prefixes = {directory}
myhostname = mail.{domain}
mydomain = {domain}
myorigin = {domain}
mydestination =
alias_maps =
alias_database =
inet_interfaces = {interfaces}
inet_protocols = {protocols}
smtpd_banner = $myhostname ESMTP pinesh lab
# No DNS here: a reverse lookup of the client could only waste time.
smtpd_peername_lookup = no
biff = no

# The inside network: on loopback the shell server's own address, ::1, and nothing else.
mynetworks = {mynetworks}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination

# Nothing leaves: every recipient is rewritten to one sink address, whose domain is
# delivered by virtual(8) into one Maildir; anything else would hit an error transport.
# Only the MBOX addresses stay themselves, and go into mbox files.
relayhost =
default_transport = error:the pinesh lab never sends mail out
relay_transport = error:the pinesh lab never sends mail out
virtual_alias_domains =
virtual_alias_maps = regexp:{config}/virtual_alias
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {directory}
virtual_mailbox_maps = regexp:{config}/virtual_mailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
transport_maps = regexp:{config}/transport
"""


@dataclass(frozen=True)
class Submission:
    """A submission service (RFC 6409) with AUTH only after STARTTLS, checked by Dovecot.

    sasl_path is Dovecot's auth client socket for Postfix (an absolute path: smtpd is not
    chrooted here); cert_file and key_file are read by smtpd before it drops root.
    """

    port: int
    sasl_path: Path
    cert_file: Path
    key_file: Path


# The submission service: TLS required before anything, AUTH only inside it, and only
# authenticated clients may send.
SUBMISSION_MASTER_CF = """\
{port}      inet  n       -       n       -       -       smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
"""

SUBMISSION_MAIN_CF = """
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_sasl_type = dovecot
smtpd_sasl_path = {sasl_path}
"""


@dataclass
class LabPostfix:
    """A running Postfix instance, its ports and the Maildir that receives all its mail."""

    host: str  # outside address: may only send to the lab domain
    inside_host: str  # inside address: relaying allowed
    port: int
    directory: Path
    config_dir: Path
    maildir: Path
    sendmail: list[str]  # this instance's sendmail; append options (-t, -i) and recipients
    log: Path
    domain: str

    def log_text(self) -> str:
        """What Postfix has logged so far."""
        try:
            return self.log.read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"

    def delivered(self) -> list[bytes]:
        """The raw messages delivered so far, oldest first."""
        files = [
            path
            for sub in ("new", "cur")
            if (self.maildir / sub).is_dir()
            for path in (self.maildir / sub).iterdir()
        ]
        # Maildir names start with the delivery time in seconds; the mtime breaks ties.
        files.sort(key=lambda path: (path.stat().st_mtime_ns, path.name))
        return [path.read_bytes() for path in files]

    def wait_for_delivery(self, marker: bytes, timeout: float = 20) -> bytes:
        """The first delivered message that contains marker, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self.delivered():
                if marker in message:
                    return message
            if time.monotonic() > deadline:
                raise LabError(
                    f"postfix delivered nothing containing {marker!r} in {timeout:.0f} s\n"
                    f"--- its log ---\n{self.log_text()}"
                )
            time.sleep(0.02)

    @property
    def mbox(self) -> Path:
        """The mbox file that virtual(8) delivers MBOX_ADDRESS's mail into."""
        return self.directory / "mail" / "mbox"

    @property
    def mbox_fcntl(self) -> Path:
        """The mbox file for MBOX_FCNTL_ADDRESS (locked with fcntl only)."""
        return self.directory / "mail" / "mbox-fcntl"

    def queue_listing(self) -> str:
        """What `postqueue -p` says about this instance's queue."""
        return run([POSTQUEUE, "-c", str(self.config_dir), "-p"], what="list the lab postfix queue")

    def wait_for_empty_queue(self, timeout: float = 60) -> None:
        """Wait until every accepted message has left the queue (delivered or bounced).

        Deferred mail (e.g. a mailbox that stayed locked) would wait minutes for the next
        queue run; it is flushed (`postqueue -f`) every few seconds instead.
        """
        deadline = time.monotonic() + timeout
        flushed = time.monotonic()
        while True:
            listing = self.queue_listing()
            if "Mail queue is empty" in listing:
                return
            if time.monotonic() > deadline:
                raise LabError(
                    f"the lab postfix queue did not drain in {timeout:.0f} s:\n{listing}"
                    f"--- its log ---\n{self.log_text()}"
                )
            if time.monotonic() - flushed > 3:
                run([POSTQUEUE, "-c", str(self.config_dir), "-f"], what="flush the queue")
                flushed = time.monotonic()
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop this instance (`postfix stop`), make sure its master is gone, unregister it."""
        with contextlib.suppress(LabError):  # the master is killed by its pid below
            run([POSTFIX, "-c", str(self.config_dir), "stop"], what="stop the lab postfix")
        _kill_master(self.directory)
        _update_alternate_config_dirs(remove=self.config_dir)


def start_postfix(
    user: LabUser,
    directory: Path,
    *,
    outside: str = "127.0.0.1",
    inside: str = "::1",
    mynetworks: str = "[::1]/128",
    port: int | None = None,
    namespace: str | None = None,
    submission: Submission | None = None,
) -> LabPostfix:
    """Write a private Postfix instance under directory, start it and wait for its port.

    It listens on the outside and inside addresses (one address when they are the same)
    and relays only for mynetworks; with namespace, it runs inside that namespace. With
    submission, it also offers submission with STARTTLS and AUTH on that port.
    """
    require_root()
    which(POSTFIX, "postfix")
    _reap_stale_instances()
    directory.chmod(0o755)
    config, queue, data = directory / "etc", directory / "queue", directory / "data"
    maildir = directory / "Maildir"
    log = directory / "postfix.log"
    for path in (config, queue):
        path.mkdir(mode=0o755, exist_ok=True)
    data.mkdir(mode=0o700, exist_ok=True)
    postfix_user = pwd.getpwnam("postfix")
    os.chown(data, postfix_user.pw_uid, postfix_user.pw_gid)
    # Created ahead so that virtual(8), running as the lab user, need not create its parent.
    for sub in ("", "new", "cur", "tmp"):
        (maildir / sub).mkdir(mode=0o700, exist_ok=True)
        os.chown(maildir / sub, user.uid, user.gid)
    # The mbox's directory, where virtual(8) (as the lab user) makes its dot-lock files.
    (directory / "mail").mkdir(mode=0o700, exist_ok=True)
    os.chown(directory / "mail", user.uid, user.gid)
    (directory / "session.pid").write_text(f"{os.getpid()}\n")

    port = port or free_port(outside)
    listen = list(dict.fromkeys([outside, inside]))
    master_cf = MASTER_CF.format(port=port)
    main_extra = ""
    if submission is not None:
        master_cf += SUBMISSION_MASTER_CF.format(port=submission.port)
        main_extra = SUBMISSION_MAIN_CF.format(
            cert=submission.cert_file, key=submission.key_file, sasl_path=submission.sasl_path
        )
    (config / "master.cf").write_text(master_cf)
    (config / "main.cf").write_text(
        MAIN_CF.format(
            queue=queue,
            data=data,
            log=log,
            directory=directory,
            config=config,
            domain=LAB_DOMAIN,
            uid=user.uid,
            gid=user.gid,
            interfaces=", ".join(f"[{a}]" if ":" in a else a for a in listen),
            protocols="all" if any(":" in a for a in listen) else "ipv4",
            mynetworks=mynetworks,
        )
        + main_extra
    )
    # Every recipient goes to the sink (MBOX_ADDRESS stays itself); an address that maps to
    # itself ends the expansion.
    mbox, fcntl_only = re.escape(MBOX_ADDRESS), re.escape(MBOX_FCNTL_ADDRESS)
    (config / "virtual_alias").write_text(
        f"/^{mbox}$/ {MBOX_ADDRESS}\n/^{fcntl_only}$/ {MBOX_FCNTL_ADDRESS}\n/.*/ {SINK_ADDRESS}\n"
    )
    (config / "virtual_mailbox").write_text(
        f"/^{mbox}$/ mail/mbox\n/^{fcntl_only}$/ mail/mbox-fcntl\n/.*/ Maildir/\n"
    )
    (config / "transport").write_text(f"/^{fcntl_only}$/ virtual-fcntl:\n")
    # Postfix waits, in steps of 300 ms, until main.cf is a few seconds old ("let it finish
    # being updated"): a fresh file would cost every postfix command about 2 s.
    for path in config.iterdir():
        _backdate(path)

    # The lab user's sendmail (e.g. over ssh) runs the set-gid postdrop, which accepts a
    # non-default config directory only when the system main.cf lists it.
    _update_alternate_config_dirs(add=config)
    lab = LabPostfix(
        host=outside,
        inside_host=inside,
        port=port,
        directory=directory,
        config_dir=config,
        maildir=maildir,
        sendmail=[SENDMAIL, "-C", str(config)],
        log=log,
        domain=LAB_DOMAIN,
    )
    try:
        start = [POSTFIX, "-c", str(config), "start"]
        if namespace is not None:
            start = ["ip", "netns", "exec", namespace, *start]
        run(start, what="start the lab postfix")
        for host in listen:
            wait_for_port(host, port, timeout=10, namespace=namespace)
            if submission is not None:
                wait_for_port(host, submission.port, timeout=10, namespace=namespace)
    except LabError as exc:
        lab.stop()
        raise LabError(f"{exc}\n--- postfix log ---\n{lab.log_text()}") from exc
    return lab


def _backdate(path: Path) -> None:
    """Give a config file an old mtime, so that Postfix reads it without waiting."""
    past = time.time() - 60
    os.utime(path, (past, past))


def _master_pid(directory: Path) -> int | None:
    try:
        return int((directory / "queue" / "pid" / "master.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _kill_master(directory: Path, timeout: float = 10) -> None:
    """Make sure the master of the instance under directory is gone (TERM, then KILL)."""
    pid = _master_pid(directory)
    if pid is None or not live_program(pid, "master"):
        return
    for signal in (15, 9):
        try:
            os.kill(pid, signal)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not live_program(pid, "master"):
                return
            time.sleep(0.05)


def _session_alive(directory: Path) -> bool:
    """Whether the test session that made an instance directory is still running."""
    try:
        return live_program(int((directory / "session.pid").read_text().split()[0]))
    except (OSError, ValueError, IndexError):
        return False


def _reap_stale_instances() -> None:
    """Stop instances left running by test sessions that died before their teardown."""
    for directory in Path(tempfile.gettempdir()).glob(f"{DIR_PREFIX}*"):
        if directory.is_dir() and not _session_alive(directory):
            _kill_master(directory)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _update_alternate_config_dirs(*, add: Path | None = None, remove: Path | None = None) -> None:
    """Add or remove a lab config directory in the system main.cf, dropping dead sessions'."""
    with _locked(SYSTEM_CONF_LOCK):
        current = run([POSTCONF, "-h", "alternate_config_directories"], what="read postconf")
        entries = [entry for entry in re.split(r"[\s,]+", current) if entry]

        def keep(entry: str) -> bool:
            path = Path(entry)
            if entry in (str(add), str(remove)):
                return False
            return DIR_PREFIX not in path.parent.name or _session_alive(path.parent)

        wanted = [entry for entry in entries if keep(entry)]
        if add is not None:
            wanted.append(str(add))
        if wanted != entries:
            run(
                [POSTCONF, "-e", f"alternate_config_directories = {', '.join(wanted)}"],
                what="register the lab postfix config directory in /etc/postfix/main.cf",
            )
            # Every postfix command reads the default main.cf too.
            _backdate(SYSTEM_MAIN_CF)
