"""Helpers for tests on the lab's network: pinesh's files for a user at home, and runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.lab.netlab import NetLab

BIN = Path(sys.executable).parent
PINESH = str(BIN / "pinesh")

# The case study's ISP rules: SMTP and NNTP through the ISP's shell server. At the ISP
# itself (its DNS domain), straight to the servers, which relay for their own network.
ISP_RULES = """
[[rule]]
servers = ["smtp.isp.example"]
services = ["smtp"]
login = "shell.isp.example"
fallback = ["plain"]
direct_when = { domain = "isp.example" }

[[rule]]
servers = ["news.isp.example"]
services = ["nntp"]
login = "shell.isp.example"
fallback = ["plain"]
direct_when = { domain = "isp.example" }
"""


def write_home_files(
    lab: NetLab, work: Path, rules: str = ISP_RULES, *, timeout: float = 5
) -> Path:
    """pinesh's config (ssh reaches the lab by name, private control and state dirs, rules)
    and a pinerc for the lab's network under work/; returns the config's path."""
    config = work / "config.toml"
    config.write_text(
        f"""open_timeout = {timeout}
state_dir = "{work / "state"}"

[ssh]
control_dir = "{work / "ctl"}"
persist = 60
options = ["-F", "{lab.ssh_config}"]
{rules}"""
    )
    (work / "pinerc").write_text(
        f"""personal-name=Lab User
user-domain=home.example
inbox-path={{{lab.mailhost_name}/user={lab.user.name}}}INBOX
smtp-server={lab.smtp_name}
nntp-server={lab.news_name}
"""
    )
    return config


def pinesh_argv(work: Path, *args: str) -> list[str]:
    return [PINESH, "--config", str(work / "config.toml"), "-p", str(work / "pinerc"), *args]


def run_pinesh(
    lab: NetLab, work: Path, *args: str, where: str = "home", input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """pinesh with work's files, run at home (or inside the ISP's network)."""
    argv = pinesh_argv(work, *args)
    argv = lab.home(argv) if where == "home" else lab.at_isp(argv)
    return subprocess.run(
        argv, input=input, capture_output=True, text=True, timeout=120, check=False
    )


def pinesh_json(
    lab: NetLab, work: Path, *args: str, where: str = "home", input: str | None = None
) -> Any:
    done = run_pinesh(lab, work, "--json", *args, where=where, input=input)
    assert done.returncode == 0, f"pinesh {' '.join(args)}: {done.stdout}{done.stderr}"
    return json.loads(done.stdout)


def stop_masters(work: Path) -> None:
    subprocess.run(
        [PINESH, "--config", str(work / "config.toml"), "ssh", "stop"],
        capture_output=True,
        timeout=30,
        check=False,
    )
