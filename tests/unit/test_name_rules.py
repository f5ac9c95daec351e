"""The folder Save and Fcc offer under Pine's saved-msg-name-rule and fcc-name-rule."""

from __future__ import annotations

import pytest

from pinesh.services.name_rules import folder_for, offered_fcc, offered_save
from pinesh.stores.base import Address, Envelope

JANE = Address("Jane Doe", "jane.doe@example.org")
BOB = Address("", "bob@example.net")
ENVELOPE = Envelope(1, None, (JANE,), (BOB,), (), "hi", None, None, (), 10, frozenset())


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("default-folder", "saved-messages"),
        ("by-from", "jane.doe"),
        ("by-sender", "jane.doe"),
        ("by-replyto", "jane.doe"),
        ("by-recipient", "bob"),
        ("by-realname-of-from", "Jane Doe"),
        ("last-folder-used", "projects"),
    ],
)
def test_save_offers_the_rules_folder(rule: str, expected: str) -> None:
    assert offered_save(rule, ENVELOPE, "projects", "saved-messages") == expected


def test_save_offers_the_default_when_the_rule_has_nothing_to_go_on() -> None:
    assert offered_save("last-folder-used", ENVELOPE, "", "saved-messages") == "saved-messages"
    assert offered_save("by-from", None, "", "saved-messages") == "saved-messages"


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (Address("", "../etc@example.org"), "etc"),  # no way out of the collection
        (Address("", "a/b@example.org"), "ab"),
        (Address("", "\x1b[2Jx@example.org"), "[2Jx"),  # control characters left out
        (Address("", "...@example.org"), None),
        (Address("", "{imap.evil}x@example.org"), "imap.evilx"),  # no other server
    ],
)
def test_a_name_from_an_address_is_made_a_plain_folder_name(
    address: Address, expected: str | None
) -> None:
    assert folder_for((address,)) == expected


def test_fcc_by_recipient_and_last_used() -> None:
    assert offered_fcc("by-recipient", (BOB, JANE), "", "sent-mail") == "bob"
    assert offered_fcc("by-recipient", (), "", "sent-mail") == "sent-mail"
    assert offered_fcc("last-fcc-used", (), "old-fcc", "sent-mail") == "old-fcc"
    assert offered_fcc("default-fcc", (BOB,), "old-fcc", "sent-mail") == "sent-mail"
