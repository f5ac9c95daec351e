"""Whether a command route encrypts: known to, not known, or known cleartext.

A command the user configured (Pine's ``ssh-path``/``rsh-path``) is a local pipe: nobody
on the network can write into it, so a PREAUTH read from it is the command's own. Whether
what the command sends over the network is encrypted pinesh can only know by its name.
"""

from __future__ import annotations

import enum
from pathlib import PurePosixPath


class Encryption(enum.Enum):
    """What pinesh knows about a command's encryption on the network."""

    ENCRYPTED = "encrypted"  # OpenSSH, or pinesh's own connection command
    NOT_KNOWN = "not known"  # any other program: a wrapper script, a tunnel of the user's
    CLEARTEXT = "cleartext"  # the BSD r-commands: everything crosses the network in clear

    @property
    def allows_preauth(self) -> bool:
        """Whether a PREAUTH read from the command may be believed (not from cleartext)."""
        return self is not Encryption.CLEARTEXT

    @property
    def allows_password(self) -> bool:
        """Whether a password may cross the command: only when known to be encrypted."""
        return self is Encryption.ENCRYPTED

    def describe(self) -> str:
        """For the status line and doctor: 'command, encryption not known', 'cleartext'."""
        if self is Encryption.NOT_KNOWN:
            return "command, encryption not known"
        return str(self.value)


ENCRYPTING_PROGRAMS = frozenset({"ssh", "slogin", "pinesh-connect", "pinesh"})
CLEARTEXT_PROGRAMS = frozenset({"rsh", "remsh", "rlogin"})


def command_encryption(program: str) -> Encryption:
    """How far a command is trusted, by its program's basename.

    ``/usr/bin/ssh`` is encrypted; ``/usr/bin/rsh`` (or any program named rsh, remsh or
    rlogin, wherever it lives) is cleartext; anything else is not known.
    """
    name = PurePosixPath(program).name
    if name in ENCRYPTING_PROGRAMS:
        return Encryption.ENCRYPTED
    if name in CLEARTEXT_PROGRAMS:
        return Encryption.CLEARTEXT
    return Encryption.NOT_KNOWN
