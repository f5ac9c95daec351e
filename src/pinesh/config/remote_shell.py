"""Pine's remote-shell settings (rsh-*/ssh-*) and the command template they make.

Compatible with c-client: the template's four ``%s`` are path, host, user and method
(``imap``); default ``%s %s -l %s exec /etc/r%sd``; open timeout default 15, a non-zero
value below 5 counts as 5, 0 disables the method. The expanded command is split into an
argv on white space, never handed to a shell.
"""

from __future__ import annotations

from dataclasses import dataclass

from pinesh.config.names import check_host, check_user
from pinesh.config.pinerc import Pinerc

DEFAULT_TEMPLATE = "%s %s -l %s exec /etc/r%sd"
DEFAULT_TIMEOUT = 15
MIN_TIMEOUT = 5


@dataclass(frozen=True)
class RemoteShell:
    """One of Pine's remote-shell methods (ssh or rsh), as configured."""

    method: str  # "ssh" or "rsh": the setting names' prefix
    path: str
    template: str
    timeout: int  # seconds; 0 means the method is off

    @property
    def enabled(self) -> bool:
        return self.timeout > 0

    def argv(self, host: str, user: str, service: str = "imap") -> list[str]:
        """The command for host and user, split into words (no shell ever sees it)."""
        return expand_template(
            self.template, self.path, check_host(host), check_user(user), service
        )


def expand_template(template: str, path: str, host: str, user: str, service: str) -> list[str]:
    """Fill the template's %s with path, host, user, service, word by word (c-client order).

    Splitting first and filling after means no value can add or split words. ``%%`` is
    a literal percent sign.
    """
    values = iter([path, host, user, service])
    words = []
    for word in template.split():
        out, i = [], 0
        while i < len(word):
            if word.startswith("%s", i):
                try:
                    out.append(next(values))
                except StopIteration:
                    raise ValueError(
                        f"the command template {template!r} has more than four %s"
                    ) from None
                i += 2
            elif word.startswith("%%", i):
                out.append("%")
                i += 2
            else:
                out.append(word[i])
                i += 1
        words.append("".join(out))
    if not words:
        raise ValueError("the command template is empty")
    return words


def _timeout(rc: Pinerc, name: str) -> int:
    text = rc.get(name)
    if text is None:
        return DEFAULT_TIMEOUT
    try:
        value = int(text)
    except ValueError:
        rc.problems.append(
            rc.error(
                name,
                f"{text!r} is not a number of seconds; using {DEFAULT_TIMEOUT}",
                hint="write a whole number, or 0 to turn the method off",
            )
        )
        return DEFAULT_TIMEOUT
    if value < 0:
        rc.problems.append(rc.error(name, f"{value} is negative; using 0 (off)"))
        return 0
    return value if value == 0 else max(value, MIN_TIMEOUT)


def remote_shells(rc: Pinerc) -> list[RemoteShell]:
    """The remote-shell methods to try, in c-client's order: ssh, then rsh.

    Each is used only when its path is set. (c-client also tries /usr/bin/rsh by default;
    pinesh never runs rsh unless asked to by name, since rsh sends everything in clear.)
    """
    shells = []
    for method in ("ssh", "rsh"):
        path = rc.get(f"{method}-path")
        if path is None:
            continue
        template = rc.get(f"{method}-command") or DEFAULT_TEMPLATE
        try:
            expand_template(template, "p", "h", "u", "imap")
        except ValueError as exc:
            rc.problems.append(
                rc.error(
                    f"{method}-command",
                    str(exc),
                    hint="use at most four %s: path, host, user, method",
                )
            )
            continue
        shells.append(RemoteShell(method, path, template, _timeout(rc, f"{method}-open-timeout")))
    return shells
