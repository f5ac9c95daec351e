"""`pinesh` and `pinesh-connect`: parse arguments, run one command, map errors to exits."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pinesh import __version__
from pinesh.errors import PineshError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pinesh",
        description="A Pine-style mail and news client; remote access through one shared "
        "OpenSSH connection per host.",
    )
    parser.add_argument("--version", action="version", version=f"pinesh {__version__}")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="pinesh's own config (default $PINESH_CONFIG or ~/.config/pinesh/config.toml)",
    )
    parser.add_argument(
        "-p",
        dest="pinerc",
        metavar="PINERC",
        help="use this pinerc instead of ~/.pinerc (as Alpine's -p)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    connect = sub.add_parser(
        "connect",
        help="be a client's ssh/rsh/tunnel command (Alpine, mutt, mbsync)",
        description="Run SERVER's remote IMAP server through the shared ssh master and "
        "relay it on stdin/stdout. Exits 1 at once when SERVER has no ssh route, so the "
        "client moves on to its next method.",
    )
    connect.add_argument("server")
    connect.add_argument("user", nargs="?")
    connect.add_argument("method", nargs="?", default="imap")

    forward = sub.add_parser(
        "forward",
        help="set up the SMTP/NNTP forwards a TCP-only client needs",
        description="With no arguments, every [[forward]] of the config; else one forward.",
    )
    forward.add_argument("server", nargs="?")
    forward.add_argument("service", nargs="?", choices=["smtp", "nntp", "imap"])
    forward.add_argument("--listen", help="PORT, 127.0.0.1:PORT or a Unix socket path")

    ssh = sub.add_parser("ssh", help="the shared ssh masters: status, stop")
    ssh_sub = ssh.add_subparsers(dest="ssh_command", metavar="ACTION", required=True)
    ssh_sub.add_parser("status", help="list the masters and whether they run")
    stop = ssh_sub.add_parser("stop", help="end the masters (of one host)")
    stop.add_argument("host", nargs="?")

    doctor = sub.add_parser("doctor", help="try every route of every server and report")
    doctor.add_argument("servers", nargs="*", help="only these servers")
    doctor.add_argument("--service", choices=["imap", "smtp", "nntp"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `pinesh`."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "connect":
            from pinesh.cli.connect import run_connect

            return run_connect(args.config, args.pinerc, args.server, args.user, args.method)
        if args.command == "forward":
            from pinesh.cli.forward import run_forward

            return run_forward(args.config, args.pinerc, args.server, args.service, args.listen)
        if args.command == "ssh":
            from pinesh.cli.ssh_masters import run_ssh

            return run_ssh(args.config, args.ssh_command, getattr(args, "host", None))
        if args.command == "doctor":
            from pinesh.cli.doctor import run_doctor

            return run_doctor(args.config, args.pinerc, args.servers, args.service)
        _parser().print_help()
        return 0
    except PineshError as exc:
        print(f"pinesh: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def connect_main() -> int:
    """Entry point of `pinesh-connect SERVER USER METHOD` (for Pine's rsh-path/ssh-path)."""
    return main(["connect", *sys.argv[1:]])
