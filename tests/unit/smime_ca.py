"""A test CA made with the openssl command, and a gpgsm keyring that trusts it: Jane's
certificate with its secret key (no passphrase), Bob's certificate alone. Bob's key
stays in files, for openssl to sign and decrypt as he would in another mail program."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

EXTENSIONS = """[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[user]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = email:${ENV::EMAIL}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


@dataclass(frozen=True)
class SmimeCa:
    """Where the test CA's files and the gpgsm keyring are."""

    home: Path  # GNUPGHOME: Jane's secret key, Bob's and the CA's certificates
    ca: Path  # the CA certificate (PEM)
    bob_cert: Path
    bob_key: Path
    jane_cert: Path


def _run(argv: list[str], *, email: str = "none", data: bytes = b"") -> bytes:
    assert shutil.which(argv[0]), f"{argv[0]} is not installed (scripts/install-test-deps.sh)"
    env = {**os.environ, "EMAIL": email}
    return subprocess.run(argv, input=data, capture_output=True, env=env, timeout=120,
                          check=True).stdout  # fmt: skip


def make_ca(where: Path) -> SmimeCa:
    """The CA, Jane's and Bob's certificates, and the keyring, under where."""
    where.mkdir(parents=True, exist_ok=True)
    config = where / "ca.cnf"
    config.write_text(EXTENSIONS)
    ca_key, ca = where / "ca.key", where / "ca.pem"
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key),
          "-out", str(ca), "-days", "3650", "-subj", "/CN=pinesh test CA", "-config",
          str(config), "-extensions", "ca"])  # fmt: skip
    for user in ("jane", "bob"):
        email = f"{user}@example.org"
        _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout",
              str(where / f"{user}.key"), "-out", str(where / f"{user}.csr"), "-subj",
              f"/CN={user}", "-config", str(config)], email=email)  # fmt: skip
        _run(["openssl", "x509", "-req", "-in", str(where / f"{user}.csr"), "-CA", str(ca),
              "-CAkey", str(ca_key), "-CAcreateserial", "-out", str(where / f"{user}.pem"),
              "-days", "3650", "-extfile", str(config), "-extensions", "user"],
             email=email)  # fmt: skip
    # gpgsm 2.2 reads only the old PKCS#12 ciphers (3DES), not OpenSSL 3's default AES.
    p12 = where / "jane.p12"
    _run(["openssl", "pkcs12", "-export", "-inkey", str(where / "jane.key"), "-in",
          str(where / "jane.pem"), "-certfile", str(ca), "-out", str(p12), "-passout", "pass:",
          "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"])  # fmt: skip
    home = where / "gnupg"
    home.mkdir(mode=0o700)
    # No CRL can be fetched for a test CA; the keyring trusts the CA as a root ("S").
    (home / "gpgsm.conf").write_text("disable-crl-checks\n")
    gpgsm = ["gpgsm", "--homedir", str(home), "--batch"]
    _run([*gpgsm, "--import", str(ca)])
    _run([*gpgsm, "--pinentry-mode", "loopback", "--passphrase-fd", "0", "--import", str(p12)],
         data=b"\n")  # fmt: skip
    _run([*gpgsm, "--import", str(where / "bob.pem")])
    fingerprint = _run(["openssl", "x509", "-in", str(ca), "-noout", "-fingerprint", "-sha1"])
    hex_digits = fingerprint.decode().split("=", 1)[1].strip().replace(":", "")
    (home / "trustlist.txt").write_text(f"{hex_digits} S relax\n")
    return SmimeCa(home, ca, where / "bob.pem", where / "bob.key", where / "jane.pem")


def openssl_smime(*args: str, data: bytes = b"") -> bytes:
    """The openssl smime command's output (another mail program's S/MIME)."""
    return _run(["openssl", "smime", *args], data=data)
