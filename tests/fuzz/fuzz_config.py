"""Family 7: configuration text: the pinerc (config/pinerc.py, pine_settings.py,
remote_shell.py), pinesh's TOML (config/pinesh_toml.py), server specifications
(config/server_spec.py) and mailbox names (stores/names.py).

Allowed errors: none from parse_pinerc() and pine_settings() (problems are collected);
ConfigError from parse_settings(); PineshError (UnsafeNameError among them) from
parse_server_spec() and parse_mailbox_name(). Invariants: a pinerc value's line is a line
of the file; a parsed server's host and user pass check_host/check_user and
parse_server_spec(spec.format()) == spec (but for the hazard format() names: an
unbracketed IPv6 host with a port); parse_mailbox_name(m.format(c), c) == m (but for the
hazards format() names: an IMAP mailbox called "#news.x", white space at a name's end).
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from pinesh.config.names import check_host, check_user
from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.pinesh_toml import parse_settings
from pinesh.config.server_spec import ServerSpec, parse_server_spec
from pinesh.errors import ConfigError, PineshError
from pinesh.stores.names import Driver, NameContext, parse_mailbox_name
from tests.fuzz.common import check, pick

# A real, empty home: local names are looked up in it (a Maildir is a directory with cur/).
_HOME = Path(tempfile.mkdtemp(prefix="pinesh-fuzz-home-"))
_CONTEXT = NameContext(_HOME, None, ServerSpec("news.example.org"), "me")

SEEDS = [
    b"\x00# comment\npersonal-name=Jane Doe\nsmtp-server=mail.example.org:587/tls/user=jane,\n"
    b'  "smtp2.example.org/ssl"\nfolder-collections="My Mail" {imap.example.org}mail/[],\n'
    b"\tlocal mail/[]\nnntp-server=news.example.org/nntp\nssh-path=/usr/bin/ssh\n"
    b"ssh-command=%s %s -l %s exec /etc/r%sd\nssh-open-timeout=-5\nfeature-list=no-x,y\n",
    b"\x00  orphan continuation\nnot a line\n=x\nname with space=1\r\ninbox-path=#md/Maildir\n",
    b'\x01[ssh]\nlogin = "shell"\n[[rule]]\nserver = "*.example.org"\nservice = "imap"\n'
    b'via = "ssh"\n[[forward]]\nlocal = 1143\n',
    b'\x01open_timeout = -1\nstate_dir = "~/x"\n[client]\nserver_idle = 0\n',
    b"\x01[[rule]\nx = ",
    b"\x02mail.example.org:993/imap/ssl/novalidate-cert/user=jane@example.org",
    b"\x02[2001:db8::1]:143/tls",
    b"\x02-oProxyCommand=x/user=a b",
    b"\x02host/notls/tls",
    b"\x03{imap.example.org/user=jane}INBOX/Sent",
    b"\x03#news.comp.lang.python",
    b"\x03{news.example.org/nntp}#news.local.test",
    b"\x03#md/~/Maildir",
    b"\x03~/mail/saved-messages",
    b"\x03{host",
]


def _server(text: str) -> None:
    spec = parse_server_spec(text)
    check_host(spec.host)
    if spec.mailbox_user is not None:
        check_user(spec.mailbox_user)
    hazard = spec.port is not None and ":" in spec.host and not spec.host.startswith("[")
    if not hazard:
        check(parse_server_spec(spec.format()) == spec, f"{spec.format()!r} reads back wrong")


def _mailbox(text: str) -> None:
    name = parse_mailbox_name(text, _CONTEXT)
    hazard = (name.driver is Driver.IMAP and name.mailbox.startswith("#news.")) or (
        name.mailbox != name.mailbox.rstrip()
    )
    if not hazard:
        again = parse_mailbox_name(name.format(_CONTEXT), _CONTEXT)
        check(again == name, f"{name.format(_CONTEXT)!r} reads back as {again!r}")


def TestOneInput(data: bytes) -> None:  # noqa: N802 - the name fuzzing engines call
    which, rest = pick(data, 4)
    text = rest.decode("utf-8", "replace")  # as the files are read
    if which == 0:
        rc = parse_pinerc(text, "pinerc")
        lines = len(text.split("\n"))
        check(all(1 <= v.line <= lines for v in rc.values.values()), "a value's line is off")
        pine_settings(rc)
    elif which == 1:
        with contextlib.suppress(ConfigError):
            parse_settings(text, "config.toml")
    else:
        with contextlib.suppress(PineshError):
            (_server if which == 2 else _mailbox)(text)
