"""Who the user is, as a From: address (Pine's defaults). Apart from services.sending so
that the index (which marks the user's own messages) does not load the senders."""

from __future__ import annotations

import getpass
import socket

from pinesh.services.mail import MailSession
from pinesh.stores.base import Address


def user_address(session: MailSession) -> Address:
    """From: personal-name and login@user-domain (Pine's defaults)."""
    domain = session.pine.user_domain or socket.gethostname()
    return Address(session.pine.personal_name or "", f"{getpass.getuser()}@{domain}")
