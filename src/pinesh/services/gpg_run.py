"""Running the user's gpg or gpgsm for one operation, the same safe way every time.

- An argv list, in batch mode with no terminal (``--batch --no-tty``), never asking a
  key server or a domain's key directory (``--no-auto-key-retrieve``, ``--auto-key-locate
  clear,local``), with the user's keyring (GNUPGHOME, else ~/.gnupg): pinesh has no
  keyring of its own.
- The input and the output go through files in a private temporary directory, removed
  afterwards; the status lines (``--status-fd 1``) are all that is read of the answer.
- A passphrase is never asked on the terminal. Without one, gpg may use its agent's cache
  but not its pinentry (``--pinentry-mode error``), so a locked key says so and the caller
  asks in its own dialog; with one, it goes to gpg on a pipe (loopback), never to a file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

GPG_TIMEOUT = 60.0  # seconds an operation may take (no key server is ever asked)


class GpgMissing(Exception):  # noqa: N818 - names the state, as FileNotFoundError does
    """The program is not installed."""


@dataclass(frozen=True)
class GpgResult:
    """What one run gave: its status lines, the output file's bytes (b"" when it wrote
    none), its exit code, and the last line it wrote for people (for a failure's why)."""

    status: bytes
    output: bytes
    returncode: int
    complaint: str


def run_gpg(
    args: Sequence[str],
    inputs: Mapping[str, bytes],
    *,
    program: str = "gpg",
    passphrase: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> GpgResult:
    """Run program with args, in which an argument ``{name}`` stands for the file holding
    inputs[name] and ``{output}`` for the file it may write. GpgMissing if it is not
    installed; OSError or TimeoutExpired if it could not run."""
    found = shutil.which(program)
    if found is None:
        raise GpgMissing(f"{program} is not installed")
    env = dict(os.environ if environ is None else environ)
    with tempfile.TemporaryDirectory(prefix="pinesh-gpg-") as work:
        files = {name: Path(work) / name for name in inputs}
        for name, data in inputs.items():
            files[name].write_bytes(data)
        output = Path(work) / "output"
        names = {name: str(path) for name, path in files.items()} | {"output": str(output)}
        argv = [found, "--batch", "--no-tty", "--status-fd", "1"]
        if program == "gpg":
            # No key server, no WKD lookup of a recipient's domain: who one writes to and
            # what one reads is nobody's business, and a fetched key is not checked.
            argv += ["--no-auto-key-retrieve", "--auto-key-locate", "clear,local"]
        if passphrase is None:
            argv += ["--pinentry-mode", "error"]
        else:
            argv += ["--pinentry-mode", "loopback", "--passphrase-fd", "0"]
        # Only a whole "{name}" argument names a file: an address may hold braces.
        argv += [names.get(arg[1:-1], arg) if arg[:1] + arg[-1:] == "{}" else arg for arg in args]
        done = subprocess.run(
            argv,
            input=(passphrase + "\n").encode() if passphrase is not None else b"",
            capture_output=True,
            env=env,
            timeout=GPG_TIMEOUT,
            check=False,
        )
        written = output.read_bytes() if output.exists() else b""
    lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
    return GpgResult(done.stdout, written, done.returncode, lines[-1] if lines else "")


def program_for(cms: bool) -> str:
    """gpgsm for S/MIME's CMS, gpg for OpenPGP."""
    return "gpgsm" if cms else "gpg"


def cms_input(data: bytes) -> list[str]:
    """gpgsm's option for reading a CMS object: base64 text (as S/MIME mail carries it,
    after its transfer encoding is undone it is DER) must be said, DER need not. DER
    starts with a SEQUENCE (0x30); base64 of one starts with "M"."""
    return [] if data.lstrip()[:1] == b"\x30" else ["--assume-base64"]
