"""The case study's servers on the lab's network (see netlab_network for the topology).

- the ISP (namespace isp): its shell server (sshd on shell.isp.example:22), its SMTP server
  (Postfix on smtp.isp.example:25, relaying only for the ISP's network 198.51.100.0/24) and
  its news server (a private INN on news.isp.example:119, readers and posters only from
  the ISP's network);
- the mail host (namespace mail): sshd on mailhost.example.org:22, where the lab user's
  `exec /etc/rimapd` greets PREAUTH, and Dovecot with IMAPS on 993 (password logins);
- home (namespace home): where pinesh, Alpine and mutt run, behind the slow link.

The lab user's ssh key is accepted by both sshds; ``ssh_config`` reaches both by name from
home (or from the ISP), with a known_hosts file holding both host keys.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab.common import LabError, LabUser, make_lab_dir, run, which
from tests.lab.dovecot import LabDovecot, prepare_preauth, start_dovecot
from tests.lab.inn_private import PrivateInn, start_private_inn
from tests.lab.netlab_network import (
    ISP_DOMAIN,
    ISP_NETWORK,
    MAILHOST_ADDRESS,
    MAILHOST_NAME,
    NEWS_ADDRESS,
    NEWS_NAME,
    SHELL_ADDRESS,
    SHELL_NAME,
    SMTP_ADDRESS,
    SMTP_NAME,
    Network,
    build_network,
)
from tests.lab.netns import ns_argv
from tests.lab.postfix import LabPostfix, start_postfix
from tests.lab.sshd import LabSshd, check_login, host_key_line, start_sshd

IMAPS_PORT = 993


@dataclass
class NetLab:
    """The running network and its servers; stop() ends them and removes the network."""

    net: Network
    user: LabUser
    directory: Path
    shell: LabSshd
    mailhost: LabSshd
    postfix: LabPostfix
    inn: PrivateInn
    dovecot: LabDovecot
    ssh_config: Path  # reaches shell.isp.example and mailhost.example.org by name
    identity: Path
    known_hosts: Path
    _stoppers: list[object] = field(default_factory=list, repr=False)

    shell_name: str = SHELL_NAME
    smtp_name: str = SMTP_NAME
    news_name: str = NEWS_NAME
    mailhost_name: str = MAILHOST_NAME

    def home(self, argv: Sequence[str]) -> list[str]:
        """argv run at home (behind the slow link)."""
        return ns_argv(self.net.home, argv)

    def at_isp(self, argv: Sequence[str]) -> list[str]:
        """argv run inside the ISP's network."""
        return ns_argv(self.net.isp, argv)

    @contextlib.contextmanager
    def blackholed(self, namespace: str, port: int) -> Iterator[None]:
        """Drop every packet to port in namespace (connect() hangs), for the with block."""
        which("iptables", "iptables")
        rule = ["INPUT", "-p", "tcp", "--dport", str(port), "-j", "DROP"]
        run(ns_argv(namespace, ["iptables", "-I", *rule]), what="blackhole a port")
        try:
            yield
        finally:
            run(ns_argv(namespace, ["iptables", "-D", *rule]), what="remove the blackhole")

    def stop(self) -> None:
        for server in (self.dovecot, self.inn, self.postfix, self.mailhost, self.shell):
            with contextlib.suppress(Exception):
                server.stop()
        self.net.stop()


def _client_files(directory: Path, shell: LabSshd, mailhost: LabSshd, identity: Path) -> Path:
    known_hosts = directory / "known_hosts"
    known_hosts.write_text(
        host_key_line(shell, SHELL_NAME, SHELL_ADDRESS)
        + host_key_line(mailhost, MAILHOST_NAME, MAILHOST_ADDRESS)
    )
    config = directory / "ssh_config"
    config.write_text(
        f"""# The lab user's ~/.ssh/config for the lab's network (no HostName: /etc/hosts has them).
Host {SHELL_NAME} {MAILHOST_NAME}
    User {shell.user.name}
    IdentityFile {identity}
    IdentitiesOnly yes
    UserKnownHostsFile {known_hosts}
    StrictHostKeyChecking yes
    BatchMode yes
"""
    )
    config.chmod(0o644)
    return config


def start_netlab(user: LabUser, *, rtt_ms: float = 4.0) -> NetLab:
    """Build the network and start every server on it; LabError with their output if not."""
    prepare_preauth(user)
    directory = make_lab_dir("net")
    net = build_network(rtt_ms=rtt_ms)
    started: list[object] = []
    try:
        identity = directory / "client_ed25519"
        run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pinesh-netlab", "-f",
             str(identity)],
            what="make the netlab's client key",
        )  # fmt: skip
        shell = start_sshd(
            user, directory / "shell", host=SHELL_ADDRESS, port=22, namespace=net.isp,
            identity=identity, alias=SHELL_NAME,
        )  # fmt: skip
        started.append(shell)
        mailhost = start_sshd(
            user, directory / "mailhost", host=MAILHOST_ADDRESS, port=22, namespace=net.mail,
            identity=identity, alias=MAILHOST_NAME,
        )  # fmt: skip
        started.append(mailhost)
        postfix = start_postfix(
            user, make_lab_dir("postfix"), outside=SMTP_ADDRESS, inside=SMTP_ADDRESS,
            mynetworks=ISP_NETWORK, port=25, namespace=net.isp,
        )  # fmt: skip
        started.append(postfix)
        inn = start_private_inn(
            net.isp, make_lab_dir("inn"), host=NEWS_ADDRESS, port=119, domain=ISP_DOMAIN,
            readers=ISP_NETWORK,
        )  # fmt: skip
        started.append(inn)
        dovecot = start_dovecot(
            user, directory / "dovecot", host=MAILHOST_ADDRESS, ports=(143, IMAPS_PORT),
            namespace=net.mail, dns_names=(MAILHOST_NAME,),
        )  # fmt: skip
        started.append(dovecot)
        ssh_config = _client_files(directory, shell, mailhost, identity)
        for sshd in (shell, mailhost):
            check_login(sshd, client_namespace=net.home)
    except BaseException:
        for server in reversed(started):
            with contextlib.suppress(Exception):
                server.stop()  # type: ignore[attr-defined]
        net.stop()
        raise
    return NetLab(
        net, user, directory, shell, mailhost, postfix, inn, dovecot, ssh_config, identity,
        directory / "known_hosts",
    )  # fmt: skip


def home_run(
    lab: NetLab, argv: Sequence[str], *, input: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run argv at home and return what it did (never raises for its exit status)."""
    try:
        return subprocess.run(
            lab.home(argv), input=input, capture_output=True, text=True, timeout=timeout,
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{' '.join(argv)} at home did not finish in {timeout:.0f} s") from exc
