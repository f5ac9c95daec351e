"""senders/addresses.py: addresses typed in the composer, parsed and checked."""

from __future__ import annotations

import pytest

from pinesh.senders.addresses import parse_typed_addresses
from pinesh.senders.base import ComposeError
from pinesh.stores.base import Address


def test_parse_addresses() -> None:
    assert parse_typed_addresses(
        'Jane <jane@x.org>, "Doe, J" <j@d.org>, bob', "To", default_domain="pinesh.test"
    ) == (
        Address("Jane", "jane@x.org"),
        Address("Doe, J", "j@d.org"),
        Address("", "bob@pinesh.test"),
    )
    assert parse_typed_addresses("a@b.c,,d@e.f", "Cc") == (
        Address("", "a@b.c"),
        Address("", "d@e.f"),
    )
    for bad in ("bob", "a@b c@d", "jane@", "x@y\nBcc: z@q", "Jane <jane@x.org"):
        with pytest.raises(ComposeError, match="To"):
            parse_typed_addresses(bad, "To")


def test_addresses_the_stdlib_parser_trips_on_are_a_clear_error() -> None:
    with pytest.raises(ComposeError, match="cannot read the addresses"):
        parse_typed_addresses(".g:é<?=;", "To")
