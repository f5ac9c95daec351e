"""command_encryption: what a configured command is trusted with, by its program's name."""

from __future__ import annotations

import pytest

from pinesh.transport.encryption import Encryption, command_encryption
from pinesh.transport.routes import CommandRoute, SshChannelRoute, SshTarget, is_secure


@pytest.mark.parametrize(
    ("program", "encryption"),
    [
        ("/usr/bin/ssh", Encryption.ENCRYPTED),
        ("ssh", Encryption.ENCRYPTED),
        ("/usr/bin/slogin", Encryption.ENCRYPTED),
        ("/usr/local/bin/pinesh-connect", Encryption.ENCRYPTED),
        ("/usr/bin/rsh", Encryption.CLEARTEXT),
        ("/home/jane/bin/rsh", Encryption.CLEARTEXT),  # by basename, wherever it lives
        ("remsh", Encryption.CLEARTEXT),
        ("/usr/bin/rlogin", Encryption.CLEARTEXT),
        ("/path/to/script", Encryption.NOT_KNOWN),  # the case study's wrapper
        ("/usr/bin/ssh-wrapper", Encryption.NOT_KNOWN),
        ("/usr/bin/rsh.sh", Encryption.NOT_KNOWN),
        ("/opt/ssh/bin/tunnel", Encryption.NOT_KNOWN),  # a directory named ssh is no ssh
    ],
)
def test_command_encryption_by_program_name(program: str, encryption: Encryption) -> None:
    assert command_encryption(program) is encryption


def test_only_cleartext_refuses_preauth() -> None:
    assert Encryption.ENCRYPTED.allows_preauth
    assert Encryption.NOT_KNOWN.allows_preauth
    assert not Encryption.CLEARTEXT.allows_preauth


def test_only_known_encryption_allows_a_password() -> None:
    assert Encryption.ENCRYPTED.allows_password
    assert not Encryption.NOT_KNOWN.allows_password
    assert not Encryption.CLEARTEXT.allows_password


def test_is_secure_counts_not_known_as_not_encrypted() -> None:
    assert is_secure(CommandRoute(("/usr/bin/ssh", "host")))
    assert not is_secure(CommandRoute(("/path/to/script", "host")))
    assert not is_secure(CommandRoute(("/usr/bin/rsh", "host")))


def test_not_known_is_said_plainly() -> None:
    assert Encryption.NOT_KNOWN.describe() == "command, encryption not known"
    assert Encryption.CLEARTEXT.describe() == "cleartext"


@pytest.mark.parametrize(
    ("host", "private_hop", "secure"),
    [
        ("localhost", False, True),  # the login host itself: ssh all the way
        ("LOCALHOST", False, True),
        ("127.0.0.1", False, True),
        ("127.0.1.1", False, True),
        ("::1", False, True),
        ("[::1]", False, True),
        ("mail.example.org", False, False),  # plain TCP from the login host on
        ("10.0.0.25", False, False),
        ("shell.example.org", False, False),  # even the login host's name: see the docstring
        ("localhost.example.org", False, False),
        ("mail.example.org", True, True),  # the user's word that the hop is private
    ],
)
def test_is_secure_for_a_channel_counts_only_ssh_to_the_login_host(
    host: str, private_hop: bool, secure: bool
) -> None:
    route = SshChannelRoute(SshTarget("shell.example.org"), host, 143, private_hop)
    assert is_secure(route) is secure
