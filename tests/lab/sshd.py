"""The lab's OpenSSH server: its own port, host key and client key; key logins only."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from tests.lab.common import LabError, LabUser, ServerProcess, free_port, run, which

SSH_ALIAS = "lab"


@dataclass
class LabSshd:
    """A running sshd and the client files that reach it (`ssh -F client_config lab`)."""

    host: str
    port: int
    user: LabUser
    directory: Path
    client_config: Path
    identity: Path
    known_hosts: Path
    log: Path
    server: ServerProcess
    alias: str = SSH_ALIAS  # the Host name the client config defines for this server

    def ssh_options(self) -> list[str]:
        """Options that make any ssh command reach this server by its alias."""
        return ["-F", str(self.client_config)]

    def authentications(self) -> int:
        """How many ssh authentications sshd has accepted so far (from its log)."""
        text = self.log.read_text(errors="replace")
        return len(re.findall(r"Accepted publickey for ", text))

    def stop(self) -> None:
        self.server.stop()


def start_sshd(
    user: LabUser,
    directory: Path,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    namespace: str | None = None,
    identity: Path | None = None,
    alias: str = SSH_ALIAS,
) -> LabSshd:
    """Start sshd (on a free loopback port, or host:port inside namespace) and write a
    client config that reaches it as alias; identity is the client key it accepts (made
    in directory when None)."""
    sshd = which("/usr/sbin/sshd", "openssh-server")
    keygen = which("ssh-keygen", "openssh-client")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    host_key = directory / "ssh_host_ed25519_key"
    identity = identity or directory / "client_ed25519"
    for key in (host_key, identity):
        if not key.exists():
            run(
                [keygen, "-q", "-t", "ed25519", "-N", "", "-C", "pinesh-lab", "-f", str(key)],
                what="make a lab ssh key",
            )
    authorized = directory / "authorized_keys"
    authorized.write_text(Path(f"{identity}.pub").read_text())
    authorized.chmod(0o644)

    port = port or free_port(host)
    log = directory / "sshd.log"
    config = directory / "sshd_config"
    config.write_text(
        f"""Port {port}
ListenAddress {host}
HostKey {host_key}
PidFile {directory / "sshd.pid"}
AuthorizedKeysFile {authorized}
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers {user.name}
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
MaxSessions 100
MaxStartups 100
LogLevel VERBOSE
"""
    )
    known_hosts = directory / "known_hosts"
    host_pub = Path(f"{host_key}.pub").read_text().split()
    known_hosts.write_text(f"{known_host_name(host, port)} {host_pub[0]} {host_pub[1]}\n")
    client_config = directory / "ssh_config"
    client_config.write_text(
        f"""Host {alias}
    HostName {host}
    Port {port}
    User {user.name}
    IdentityFile {identity}
    IdentitiesOnly yes
    UserKnownHostsFile {known_hosts}
    StrictHostKeyChecking yes
    BatchMode yes
"""
    )
    os.chmod(client_config, 0o644)
    run([sshd, "-t", "-f", str(config)], what="check the lab sshd config")
    server = ServerProcess(
        "sshd", [sshd, "-D", "-f", str(config), "-E", str(log)], log, namespace=namespace
    )
    server.wait_for_port(host, port)
    return LabSshd(
        host, port, user, directory, client_config, identity, known_hosts, log, server, alias
    )


def known_host_name(host: str, port: int) -> str:
    """How known_hosts names host:port (a bare name for port 22)."""
    return host if port == 22 else f"[{host}]:{port}"


def host_key_line(lab: LabSshd, *names: str) -> str:
    """A known_hosts line for lab's host key under names (its address when none)."""
    key = (lab.directory / "ssh_host_ed25519_key.pub").read_text().split()
    hosts = ",".join(known_host_name(name, lab.port) for name in names or (lab.host,))
    return f"{hosts} {key[0]} {key[1]}\n"


def check_login(lab: LabSshd, client_namespace: str | None = None) -> None:
    """One real login (from client_namespace), so a broken lab fails here with ssh's words."""
    argv = ["ssh", *lab.ssh_options(), lab.alias, "true"]
    if client_namespace is not None:
        argv = ["ip", "netns", "exec", client_namespace, *argv]
    try:
        run(argv, what="log in to the lab sshd")
    except LabError as exc:
        raise LabError(f"{exc}\n--- sshd log ---\n{lab.log.read_text(errors='replace')}") from exc
