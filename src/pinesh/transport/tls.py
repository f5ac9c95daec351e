"""TLS for direct routes: verified by default, or against a CA file or a pinned fingerprint."""

from __future__ import annotations

import hashlib
import hmac
import socket
import ssl

from pinesh.config.names import normalize_fingerprint
from pinesh.transport.routes import TlsPolicy


class TlsError(Exception):
    """The TLS handshake failed or the peer is not who it should be."""


def make_context(policy: TlsPolicy) -> ssl.SSLContext:
    """An SSL context for the policy (TLS 1.2 at least)."""
    context = ssl.create_default_context(cafile=policy.ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if policy.fingerprint or not policy.verify:
        # A pinned certificate is checked by its hash after the handshake instead.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def wrap(sock: socket.socket, host: str, policy: TlsPolicy) -> ssl.SSLSocket:
    """Do the TLS handshake on sock and check the peer per policy."""
    context = make_context(policy)
    try:
        tls = context.wrap_socket(sock, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        raise TlsError(f"the certificate of {host} is not trusted: {exc.verify_message}") from exc
    except TimeoutError:
        raise  # a timeout, not a TLS failure: the caller remembers the route as slow
    except (ssl.SSLError, OSError) as exc:
        raise TlsError(f"TLS handshake with {host} failed: {exc}") from exc
    if policy.fingerprint:
        der = tls.getpeercert(binary_form=True) or b""
        seen = hashlib.sha256(der).hexdigest()
        if not hmac.compare_digest(seen, normalize_fingerprint(policy.fingerprint)):
            tls.close()
            raise TlsError(
                f"the certificate of {host} does not match the pinned fingerprint "
                f"(it is sha256:{seen})"
            )
    return tls
