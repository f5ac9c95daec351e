"""Addresses for outgoing mail: typed ones parsed, and each checked before it may reach
a header or an SMTP envelope."""

from __future__ import annotations

import re
from email import headerregistry, policy

from pinesh.senders.base import ComposeError
from pinesh.stores.base import Address
from pinesh.textsafe import safe_line

_DOMAIN = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f.:]+\]")
# A dot-atom local part (RFC 5322 3.4.1), UTF-8 allowed (RFC 6532); no quoted strings.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u00a0-\U0010ffff-]+"
_LOCAL_PART = re.compile(_ATOM + r"(\." + _ATOM + ")*")
CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")  # C0 but tab, DEL, C1


def ascii_domain(domain: str, what: str) -> str:
    """domain as ASCII: an internationalized name becomes its IDNA A-label form."""
    text = domain.strip()
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            raise ComposeError(f"{what}: {safe_line(domain)!r} is not a valid domain") from None
    if not _DOMAIN.fullmatch(text) or len(text) > 253:
        raise ComposeError(
            f"{what}: {safe_line(domain)!r} is not a domain name",
            hint="a domain looks like example.org",
        )
    return text


def header_address(address: Address, field: str) -> headerregistry.Address:
    """address as the email package's Address, checked, its domain made ASCII."""
    name, addr = address.name, address.email.strip()
    if CONTROLS.search(name) or CONTROLS.search(addr):
        raise ComposeError(f"{field}: {safe_line(addr)!r} holds control characters")
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain:
        raise ComposeError(
            f"{field}: {safe_line(addr)!r} is not an address",
            hint="an address looks like name@example.org",
        )
    if not _LOCAL_PART.fullmatch(local):
        raise ComposeError(
            f"{field}: {safe_line(addr)!r} is not an address pinesh can send to",
            hint="the part before @ may hold letters, digits and !#$%&'*+-/=?^_`{|}~. only",
        )
    domain = ascii_domain(domain, f"{field}: {safe_line(addr)!r}")
    return headerregistry.Address(display_name=name, username=local, domain=domain)


_TOLERATED_DEFECTS = ("addr-spec local part with no domain", "empty element in address-list")


def parse_typed_addresses(
    text: str, field: str, *, default_domain: str | None = None
) -> tuple[Address, ...]:
    """Addresses typed in the composer ("Jane <jane@x.org>, bob"), each checked.

    A name without a domain gets default_domain (Pine's user-domain), as Pine does.
    """
    if CONTROLS.search(text):
        raise ComposeError(f"{field}: the addresses hold control characters or line breaks")
    try:
        parsed = policy.default.header_factory(field, text)
        addresses = list(parsed.addresses)
    except Exception:
        # The stdlib parser raises IndexError, AttributeError, TypeError... on some inputs
        # (e.g. "jane@", '.g:é<?=;'): any of them means the text cannot be read.
        raise ComposeError(
            f"{field}: cannot read the addresses {safe_line(text)!r}",
            hint="separate addresses with commas: Jane <jane@example.org>, bob@example.org",
        ) from None
    problems = [str(d) for d in parsed.defects if str(d) not in _TOLERATED_DEFECTS]
    problems = [p for p in problems if "non-ascii" not in p.lower()]
    if problems:
        raise ComposeError(
            f"{field}: {problems[0]} in {safe_line(text)!r}",
            hint="separate addresses with commas: Jane <jane@example.org>, bob@example.org",
        )
    out: list[Address] = []
    for address in addresses:
        domain = address.domain or default_domain
        if not address.username or not domain:
            raise ComposeError(
                f"{field}: {safe_line(address.addr_spec)!r} has no domain",
                hint="write name@domain, or set user-domain for short names",
            )
        out.append(Address(address.display_name, f"{address.username}@{domain}"))
    return tuple(out)
