"""The folder Save and Fcc offer, by the pinerc's saved-msg-name-rule and fcc-name-rule
(Pine's rules, config/pine_settings.py SAVE_RULES and FCC_RULES: a folder named after the
sender or recipient, the last one used, or the default folder)."""

from __future__ import annotations

from collections.abc import Sequence

from pinesh.stores.base import Address, Envelope


def folder_for(addresses: Sequence[Address], *, real_name: bool = False) -> str | None:
    """A folder named after the first address: its mailbox ("jane" of jane@example.org)
    or, real_name, its personal name; None when there is none to use. What a folder name
    cannot hold (/, leading dots, control characters) is left out."""
    if not addresses:
        return None
    first = addresses[0]
    text = first.name if real_name and first.name else first.email.partition("@")[0]
    safe = "".join(c for c in text if c.isprintable() and c not in "/\\{}").strip().lstrip(".")
    return safe or None


def offered_save(rule: str, envelope: Envelope | None, last: str, default: str) -> str:
    """The folder Save offers for a message under rule (last: the one saved to last)."""
    if rule == "last-folder-used":
        return last or default
    if envelope is None or rule == "default-folder":
        return default
    if rule == "by-recipient":
        found = folder_for(envelope.to)
    elif rule == "by-realname-of-from":
        found = folder_for(envelope.sender, real_name=True)
    else:  # by-sender, by-from, by-replyto: the envelope holds From for all three
        found = folder_for(envelope.sender)
    return found or default


def offered_fcc(rule: str, to: Sequence[Address], last: str, default: str) -> str:
    """The Fcc a message gets under rule, once its To is known."""
    if rule == "last-fcc-used":
        return last or default
    if rule == "by-recipient":
        return folder_for(to) or default
    return default
