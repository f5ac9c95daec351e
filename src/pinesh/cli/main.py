"""`pinesh` and `pinesh-connect`: parse arguments, run one command, map errors to exits."""

from __future__ import annotations

import sys

from pinesh import __version__

# Imported when used: `pinesh` with the fork server on must reach its socket having loaded
# next to nothing (cli/client_server.py); so not even typing (it imports re).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence

    from pinesh.services.mail import MailSession
    from pinesh.transport.askpass import AskpassServer


CONNECT_DESCRIPTION = (
    "Run SERVER's remote IMAP server through the shared ssh master and relay it on "
    "stdin/stdout. Exits 1 at once when SERVER has no ssh route, so the client moves on "
    "to its next method."
)


def _connect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("server")
    parser.add_argument("user", nargs="?")
    parser.add_argument("method", nargs="?", default="imap")


def _is_message_number(text: str) -> bool:
    """-n's value: 1, 2, ... (ASCII digits only: int() also takes other scripts' digits)."""
    return text.isascii() and text.isdigit() and int(text) > 0


def _message_number(text: str) -> int:
    import argparse

    if not _is_message_number(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a message number (1, 2, ...)")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    import argparse

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
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "-f",
        dest="folder",
        metavar="FOLDER",
        help="open the client on this folder's MESSAGE INDEX (as Alpine's -f); without -f "
        "it opens on the MAIN MENU, with INBOX as the current folder",
    )
    parser.add_argument(
        "-i",
        dest="in_index",
        action="store_true",
        help="open the client on the MESSAGE INDEX of INBOX, or of -f's folder (as Alpine's -i)",
    )
    parser.add_argument(
        "-n",
        dest="number",
        metavar="N",
        type=_message_number,
        help="the index starts on message N (as Alpine's -n)",
    )
    parser.add_argument(
        "-I",
        dest="keys",
        metavar="KEYS",
        help="keys pressed at the start, comma-separated (as Alpine's -I): e.g. i,j,1,3,CR,v "
        'views message 13; ^X, SPACE, TAB, CR, UP, DOWN, LEFT, RIGHT, F1-F12, "text"',
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # --config, -p and --json are taken after the command too (`pinesh index INBOX --json`).
    # SUPPRESS: a command that is not given one leaves the value from before the command.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help="as above")
    common.add_argument("-p", dest="pinerc", metavar="PINERC", default=argparse.SUPPRESS,
                        help="as above")  # fmt: skip
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="machine-readable output")  # fmt: skip

    folders = sub.add_parser(
        "folders", parents=[common], help="list the folders of a collection (or all)"
    )
    folders.add_argument("collection", nargs="?", help="a collection's label or name")
    index = sub.add_parser("index", parents=[common], help="the message index of a folder")
    index.add_argument("folder", help="a mailbox name: INBOX, {host}name, #news.group, path")
    index.add_argument(
        "--range",
        dest="range_text",
        metavar="A-B",
        help="message numbers A-B, N, or -N for the last N (default: last 50)",
    )
    index.add_argument(
        "--sort", default="arrival", choices=["arrival", "date", "from", "subject", "size", "to"]
    )
    index.add_argument("--reverse", action="store_true")
    show = sub.add_parser("show", parents=[common], help="show message N of a folder")
    show.add_argument("folder")
    show.add_argument("number", type=int)
    show.add_argument("--raw", action="store_true", help="the whole source, as it is")
    send = sub.add_parser(
        "send", parents=[common], help="send a message (body, or whole message, on stdin)"
    )
    send.add_argument("--to", action="append", default=[])
    send.add_argument("--cc", action="append", default=[])
    send.add_argument("--bcc", action="append", default=[])
    send.add_argument("--subject")
    send.add_argument("-a", "--attach", action="append", default=[], metavar="FILE")
    send.add_argument("--fcc", help="folder for the copy (default: the pinerc's default-fcc)")
    send.add_argument("--sign", action="store_true", help="sign with your key (PGP/MIME)")
    send.add_argument(
        "--encrypt", action="store_true", help="encrypt to every recipient and to you"
    )
    send.add_argument(
        "--smime", action="store_true", help="sign or encrypt as S/MIME (gpgsm), not PGP"
    )
    send.add_argument(
        "--as-is", action="store_true", help="leave out what the config's [[seal]] rules add"
    )
    post = sub.add_parser(
        "post", parents=[common], help="post a news article (body, or whole article, on stdin)"
    )
    post.add_argument("--newsgroups", action="append", default=[])
    post.add_argument("--subject")
    post.add_argument("--references")
    post.add_argument("--sign", action="store_true", help="clear-sign the article (inline PGP)")
    outbox = sub.add_parser(
        "outbox", parents=[common], help="messages not yet sent; `outbox flush` retries them"
    )
    outbox.add_argument("action", nargs="?", choices=["flush"])

    connect = sub.add_parser(
        "connect",
        help="be a client's ssh/rsh/tunnel command (Alpine, mutt, mbsync)",
        description=CONNECT_DESCRIPTION,
        # Every word is a value the client filled in, never an option: a host or user
        # like '-oProxyCommand=x' must reach the name checks (and be refused there), not
        # argparse. So no '-' prefix here, and -h/--help are handled by hand in main().
        prefix_chars="+",
        add_help=False,
    )
    _connect_arguments(connect)

    forward = sub.add_parser(
        "forward",
        parents=[common],
        help="set up the SMTP/NNTP forwards a TCP-only client needs",
        description="With no arguments, every [[forward]] of the config; else one forward.",
    )
    forward.add_argument("server", nargs="?")
    forward.add_argument("service", nargs="?", choices=["smtp", "nntp", "imap"])
    forward.add_argument(
        "--listen",
        help="a Unix socket path (default: one in the runtime directory, which only you "
        "can enter), or PORT / 127.0.0.1:PORT: a loopback port every local user can reach",
    )

    ssh = sub.add_parser("ssh", parents=[common], help="the shared ssh masters: status, stop")
    ssh_sub = ssh.add_subparsers(dest="ssh_command", metavar="ACTION", required=True)
    ssh_sub.add_parser("status", parents=[common], help="list the masters and whether they run")
    stop = ssh_sub.add_parser("stop", parents=[common], help="end the masters (of one host)")
    stop.add_argument("host", nargs="?")

    doctor = sub.add_parser(
        "doctor", parents=[common], help="try every route of every server and report"
    )
    doctor.add_argument("servers", nargs="*", help="only these servers")
    doctor.add_argument("--service", choices=["imap", "smtp", "nntp"])
    return parser


def _connect_help() -> str:
    """`pinesh connect`'s help: the subparser has no -h of its own (see _parser)."""
    import argparse

    parser = argparse.ArgumentParser(prog="pinesh connect", description=CONNECT_DESCRIPTION)
    _connect_arguments(parser)
    return parser.format_help()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `pinesh`."""
    if argv is None:  # the command line itself (a fork server's child passes its argv)
        if "connect" in sys.argv[1:6]:  # after --config FILE -p PINERC at most
            from pinesh.connect_fast import try_connect

            fast = try_connect(sys.argv[1:])
            if fast is not None:
                return fast
        from pinesh.cli.client_server import try_server

        served = try_server(sys.argv[1:])
        if served is not None:
            return served
    from pinesh.errors import PineshError
    from pinesh.textsafe import safe_text

    # A terminal that cannot show a character gets an escape, never a crash.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    client = _plain_client(sys.argv[1:] if argv is None else argv)
    try:
        if client is not None:  # the terminal client: no argparse (its import, its parser)
            return _run_client(client)
        args = _parser().parse_args(argv)
        if args.json and args.command in (None, "connect"):
            raise PineshError(
                "--json is not for " + ("`pinesh connect`, which relays the server's own bytes"
                                        if args.command else "the terminal client"),
                hint="every other command takes it: folders, index, show, send, post, outbox, "
                "forward, ssh, doctor",
            )  # fmt: skip
        if args.command == "connect":
            from pinesh.cli.connect import run_connect

            if args.server in ("-h", "--help") and args.user is None:
                print(_connect_help(), end="")
                return 0

            return run_connect(args.config, args.pinerc, args.server, args.user, args.method)
        if args.command == "forward":
            from pinesh.cli.forward import run_forward

            return run_forward(
                args.config, args.pinerc, args.server, args.service, args.listen, args.json
            )
        if args.command == "ssh":
            from pinesh.cli.ssh_masters import run_ssh

            return run_ssh(args.config, args.ssh_command, getattr(args, "host", None), args.json)
        if args.command in MAIL_COMMANDS:
            return _run_mail(args)
        if args.command == "doctor":
            from pinesh.cli.doctor import run_doctor

            return run_doctor(args.config, args.pinerc, args.servers, args.service, args.json)
        return _run_client(
            _client_start(
                args.config, args.pinerc, args.folder, args.in_index, args.number, args.keys
            )
        )
    except PineshError as exc:
        print(f"pinesh: {safe_text(str(exc))}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`pinesh index INBOX | head`): stop quietly, as cat does.
        # stdout is pointed at /dev/null so the interpreter's own flush at exit cannot
        # raise again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a writer killed by it
    except OSError as exc:
        print(f"pinesh: {safe_text(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


CLIENT_OPTIONS = {"--config": "config", "-p": "pinerc", "-f": "folder", "-n": "number",
                  "-I": "keys"}  # fmt: skip


class ClientStart:
    """How the terminal client starts: its config files, and where (Alpine's -f, -i, -n, -I).

    A plain class: not a dataclass or NamedTuple, whose imports (re, typing) the fork
    server's path must not pay.
    """

    __slots__ = ("config", "folder", "keys", "number", "pinerc")

    def __init__(
        self,
        config: str | None = None,
        pinerc: str | None = None,
        folder: str | None = None,
        number: int | None = None,
        keys: str | None = None,
    ) -> None:
        self.config = config
        self.pinerc = pinerc
        self.folder = folder  # open its MESSAGE INDEX at once; None: the MAIN MENU
        self.number = number  # the message the index starts on (-n), 1 the first
        self.keys = keys  # -I's keystroke list, as written

    def _values(self) -> tuple[str | int | None, ...]:
        return (self.config, self.pinerc, self.folder, self.number, self.keys)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClientStart) and self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ClientStart{self._values()!r}"


def _client_start(
    config: str | None,
    pinerc: str | None,
    folder: str | None,
    in_index: bool,
    number: int | None,
    keys: str | None,
) -> ClientStart:
    """-i without -f is INBOX's index; -n alone says where INBOX's index starts when opened."""
    return ClientStart(config, pinerc, folder or ("INBOX" if in_index else None), number, keys)


def _plain_client(argv: Sequence[str]) -> ClientStart | None:
    """How a plain `pinesh [--config FILE] [-p PINERC] [-f FOLDER] [-i] [-n N] [-I KEYS]`
    starts (each option a word of its own, or --config=FILE), as argparse would read it;
    None for anything else, which argparse then parses (and reports)."""
    found: dict[str, str | None] = dict.fromkeys(CLIENT_OPTIONS.values())
    words = list(argv)
    in_index = False
    while words:
        word = words.pop(0)
        if word == "-i":  # Alpine's -i: start in the index (of INBOX, unless -f says)
            in_index = True
            continue
        option, value = word, None
        if word.startswith("--config="):
            option, value = "--config", word.partition("=")[2]
        elif word in CLIENT_OPTIONS and words and not words[0].startswith("-"):
            value = words.pop(0)
        if option not in CLIENT_OPTIONS or value is None:
            return None
        found[CLIENT_OPTIONS[option]] = value
    number = found["number"]
    if number is not None and not _is_message_number(number):
        return None  # argparse says what is wrong
    return _client_start(
        found["config"],
        found["pinerc"],
        found["folder"],
        in_index,
        int(number) if number is not None else None,
        found["keys"],
    )


MAIL_COMMANDS = {"folders", "index", "show", "send", "post", "outbox"}


def _run_mail(args: argparse.Namespace) -> int:
    from pinesh.cli.folders import run_folders, run_index, run_show
    from pinesh.cli.output import note, tty_password
    from pinesh.cli.send import SendOptions, run_outbox, run_post, run_send
    from pinesh.services.mail import open_session
    from pinesh.services.sealing import Seal

    session = open_session(args.config, args.pinerc, ask_password=tty_password)
    session.listen_reopened(lambda notice: note(notice.describe()))
    try:
        if args.command == "folders":
            return run_folders(session, args.collection, args.json)
        if args.command == "index":
            return run_index(
                session, args.folder, args.range_text, args.sort, args.reverse, args.json
            )
        if args.command == "show":
            return run_show(session, args.folder, args.number, args.raw, args.json)
        if args.command == "send":
            seal = Seal(args.sign, args.encrypt, args.smime)
            return run_send(
                session,
                SendOptions(
                    args.to,
                    args.cc,
                    args.bcc,
                    args.subject,
                    args.attach,
                    args.fcc,
                    seal,
                    by_rules=not args.as_is,
                ),
                args.json,
            )
        if args.command == "post":
            return run_post(
                session, args.newsgroups, args.subject, args.references, args.json, args.sign
            )
        return run_outbox(session, args.action == "flush", args.json)
    finally:
        session.close()


# Seconds the cyclic garbage collector stays off while the client starts: start-up makes
# hundreds of thousands of objects (modules, widgets, styles) and no garbage worth a
# collection; measured, that is 11 % less CPU to the first index (docs/benchmarks.md).
GC_PAUSE_SECONDS = 3.0


def _run_client(start: ClientStart) -> int:
    """The terminal client. The folder's server is opened (ssh login included) in a thread
    before Textual is imported, so the two overlap; see services.prewarm."""
    import gc
    import threading

    gc.disable()
    resume = threading.Timer(GC_PAUSE_SECONDS, gc.enable)
    resume.daemon = True
    resume.start()
    try:
        return _start_client(start)
    finally:
        resume.cancel()
        gc.enable()


def _start_client(start: ClientStart) -> int:
    from pinesh.config.keystrokes import parse_keystrokes, split_keystrokes
    from pinesh.services.prewarm import discard_early, early_session

    # A wrong -I is said before anything starts (the pinerc's list is reported in SETUP).
    keys = parse_keystrokes(split_keystrokes(start.keys)) if start.keys is not None else None
    session = early_session(start.config, start.pinerc)
    askpass = _start_askpass(session)
    session.ask_password = _dialog_password(askpass)
    folder = start.folder or "INBOX"
    early = session.open_early(folder)
    try:
        from pinesh.ui.app import PineshApp

        PineshApp(
            session,
            folder,
            start_in_index=start.folder is not None,
            start_number=start.number,
            keystrokes=session.pine.initial_keystrokes if keys is None else keys,
        ).run()
    finally:
        discard_early(early)
        if askpass is not None:
            askpass.close()
    return 0


def _start_askpass(session: MailSession) -> AskpassServer | None:
    """Listen for ssh's questions, and let this session's ssh ask them (no BatchMode)."""
    from pinesh.errors import PineshError
    from pinesh.transport.askpass import AskpassServer

    try:
        masters = session.connections.masters()
        askpass = AskpassServer.start(masters.directory)
    except (PineshError, OSError):
        # ssh keeps BatchMode: a key that needs a passphrase fails, and the screen that
        # opened the folder shows ssh's reason (a runtime dir problem is reported there too).
        return None
    masters.askpass = askpass
    return askpass


def _dialog_password(askpass: AskpassServer | None) -> Callable[[str], str]:
    """A server password asked in the client's dialog (the one ssh's questions use)."""

    from pinesh.errors import PineshError

    def ask(prompt: str) -> str:
        answer = askpass.ask_password(prompt) if askpass is not None else None
        if answer is None:
            raise PineshError(f"{prompt.rstrip(': ')}: not given")
        return answer

    return ask


def connect_main() -> int:
    """Entry point of `pinesh-connect SERVER USER METHOD` (for Pine's rsh-path/ssh-path)."""
    from pinesh.connect_fast import try_connect

    # A remembered decision first, served with the standard library alone (connect_fast).
    fast = try_connect(["connect", *sys.argv[1:]])
    return fast if fast is not None else main(["connect", *sys.argv[1:]])
