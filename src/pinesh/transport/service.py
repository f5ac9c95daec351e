"""The protocols pinesh connects to, with their well-known ports."""

from __future__ import annotations

import enum


class Service(enum.Enum):
    """A protocol pinesh speaks to a server."""

    IMAP = "imap"
    SMTP = "smtp"
    NNTP = "nntp"

    @property
    def plain_port(self) -> int:
        """The port of the cleartext (and STARTTLS) service."""
        return {Service.IMAP: 143, Service.SMTP: 25, Service.NNTP: 119}[self]

    @property
    def tls_port(self) -> int:
        """The port of the implicit-TLS service."""
        return {Service.IMAP: 993, Service.SMTP: 465, Service.NNTP: 563}[self]

    @classmethod
    def parse(cls, name: str) -> Service:
        """The service for a name as Pine writes it ('imap', 'smtp', 'nntp')."""
        try:
            return cls(name.strip().lower())
        except ValueError:
            raise ValueError(f"unknown service {name!r} (expected imap, smtp or nntp)") from None
