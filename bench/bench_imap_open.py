"""Opening INBOX over ssh preauth: time to the first window of envelopes, and peak RSS;
a 50 MB attachment fetched through pinesh compared with a raw `ssh host cat FILE`.

    .venv/bin/python -m bench.bench_imap_open [--sizes 1000,10000,100000]

Needs root, like the test suite: it starts the lab's sshd, prepares Dovecot's preauth and
fills the lab user's ~/Maildir. Each size runs in a fresh child process, so its peak RSS
is its own. Results go to stdout as Markdown; docs/benchmarks.md quotes a run.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.lab.common import LabUser, chown_tree, ensure_lab_user, make_lab_dir
from tests.lab.dovecot import prepare_preauth, reset_maildir
from tests.lab.maildir_fill import fill_maildir
from tests.lab.sshd import start_sshd

from pinesh.config.server_spec import ServerSpec
from pinesh.config.settings import SshSettings
from pinesh.stores.imap.store import ImapStore
from pinesh.transport.masters import MasterPool
from pinesh.transport.opener import open_route
from pinesh.transport.routes import SshPreauthRoute, SshTarget
from pinesh.transport.service import Service

WINDOW = 50
ATTACHMENT_MB = 50


def _store(options: list[str], control: Path) -> ImapStore:
    pool = MasterPool(SshSettings(control_dir=control, persist=120))
    target = SshTarget("lab", options=tuple(options))
    route = SshPreauthRoute(target, ("/usr/lib/dovecot/imap",))
    return ImapStore(
        lambda: open_route(
            route,
            Service.IMAP,
            server=ServerSpec("lab"),
            deadline=time.monotonic() + 30,
            masters=pool,
        )
    )


def child_first_window(options: list[str], control: str) -> None:
    """In a fresh process: open INBOX and fetch the newest window; print JSON."""
    began = time.perf_counter()
    store = _store(options, Path(control))
    folder = store.open("INBOX", read_only=True)
    status = folder.status()
    uids = folder.uids()
    envelopes = folder.envelopes(uids[-WINDOW:])
    elapsed = time.perf_counter() - began
    assert len(envelopes) == min(WINDOW, status.count)
    folder.close()
    store.close()
    # VmHWM, not ru_maxrss: the latter keeps the parent's high-water mark across exec.
    status_text = Path("/proc/self/status").read_text()
    rss_mb = (
        int(next(line.split()[1] for line in status_text.splitlines() if line.startswith("VmHWM:")))
        / 1024
    )
    print(json.dumps({"count": status.count, "seconds": elapsed, "rss_mb": rss_mb}))


def _attachment_message(maildir: Path, user: LabUser) -> tuple[Path, str]:
    payload = os.urandom(ATTACHMENT_MB * 1024 * 1024)
    digest = hashlib.sha256(payload).hexdigest()
    encoded = base64.encodebytes(payload)
    body = (
        b"From: a@pinesh.test\r\nSubject: big\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
        b"Content-Type: text/plain\r\n\r\nbig one\r\n--B\r\n"
        b"Content-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename=big.bin\r\n\r\n"
        + encoded.replace(b"\n", b"\r\n")
        + b"--B--\r\n"
    )
    path = maildir / "cur" / f"{int(time.time())}.big.pinesh:2,S"
    path.write_bytes(body)
    chown_tree(maildir, user)
    return path, digest


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_first_window(json.loads(args.child[0]), args.child[1])
        return
    user = ensure_lab_user()
    prepare_preauth(user)
    lab = start_sshd(user, make_lab_dir("bench"))
    options = lab.ssh_options()
    control = Path(tempfile.mkdtemp(prefix="pb-", dir="/tmp"))
    rows = []
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            maildir = reset_maildir(user)
            began = time.perf_counter()
            fill_maildir(maildir, size, owner=user)
            fill_s = time.perf_counter() - began
            # Dovecot rescans a Maildir whose directories changed in the last second or
            # so; a real mailbox was not filled a moment ago. The first (cold) run below
            # still includes Dovecot building its index.
            time.sleep(3)
            runs = []
            for _ in range(3):  # the first run also warms the master and Dovecot's index
                out = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "bench.bench_imap_open",
                        "--child",
                        json.dumps(options),
                        str(control),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                runs.append(json.loads(out.stdout))
            rows.append((size, fill_s, runs))
        maildir = reset_maildir(user)
        path, digest = _attachment_message(maildir, user)
        store = _store(options, control)
        folder = store.open("INBOX", read_only=True)
        [uid] = folder.uids()
        part = next(p for p in folder.structure(uid).walk() if p.filename == "big.bin")
        began = time.perf_counter()
        sha = hashlib.sha256()
        for chunk in folder.fetch_part(uid, part.part_id):
            sha.update(chunk)
        pinesh_s = time.perf_counter() - began
        assert sha.hexdigest() == digest, "the attachment came back different"
        folder.close()
        store.close()
        began = time.perf_counter()
        raw = subprocess.run(
            ["ssh", *options, "lab", "cat", str(path)], capture_output=True, check=True
        )
        raw_s = time.perf_counter() - began
        raw_mb = len(raw.stdout) / 1e6
    finally:
        MasterPool(SshSettings(control_dir=control)).stop()
        shutil.rmtree(control, ignore_errors=True)
        lab.stop()
    print("| messages | fill s | first window s (cold, warm, warm) | peak RSS MB |")
    print("|---:|---:|---|---:|")
    for size, fill_s, runs in rows:
        times = ", ".join(f"{r['seconds']:.3f}" for r in runs)
        print(f"| {size} | {fill_s:.1f} | {times} | {max(r['rss_mb'] for r in runs):.0f} |")
    print()
    print(
        f"50 MB attachment: pinesh {ATTACHMENT_MB / pinesh_s:.1f} MB/s decoded "
        f"({pinesh_s:.2f} s); raw ssh cat {raw_mb / raw_s:.1f} MB/s of the encoded "
        f"message ({raw_s:.2f} s, {raw_mb:.0f} MB); pinesh time / raw time = "
        f"{raw_s / pinesh_s:.0%} of raw speed"
    )


if __name__ == "__main__":
    main()
