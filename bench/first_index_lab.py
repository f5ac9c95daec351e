"""bench.first_index against the lab's Dovecot over ssh preauth, for source trees in turn.

    flock /tmp/pinesh-lab.lock nice -n 5 .venv/bin/python -m bench.first_index_lab \
        [--rounds 9] [--timeline] [--profile DIR] [--user NAME] [SRC_DIR ...]

Needs root, like the test suite: it starts the lab's sshd and prepares Dovecot's preauth;
the lab user's ~/Maildir is used as it is (bench_ui_launch fills it with 100,000
messages; the test suite leaves a few; `--user pineshbench` reads bench_network's user,
whose INBOX holds 100,000). Each SRC_DIR (default: this tree's src) holds a pinesh
package, e.g. a copy of an older commit (`git archive COMMIT src | tar -x -C DIR`); the
trees run in turn, round after round, after one unmeasured round (bytecode, Dovecot's
index, the ssh master, which stays up: these are warm launches, with the header cache
warm too). Prints each launch's line from bench.first_index; --profile adds one launch
per tree under cProfile (main thread), written to DIR/first-index-N.pstats.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.integration.helpers import PREAUTH_RULE, write_config
from tests.lab.common import ensure_lab_user, make_lab_dir
from tests.lab.dovecot import prepare_preauth
from tests.lab.sshd import start_sshd

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--timeline", action="store_true", help="one more launch each, timed")
    parser.add_argument(
        "--user", default=None, help="the lab user whose ~/Maildir is read (default: the tests')"
    )
    parser.add_argument(
        "--profile", metavar="DIR", help="one more launch each, a cProfile written in DIR"
    )
    parser.add_argument("trees", nargs="*", default=[str(ROOT / "src")])
    args = parser.parse_args()
    user = ensure_lab_user(args.user) if args.user else ensure_lab_user()
    prepare_preauth(user)
    lab = start_sshd(user, make_lab_dir("first-index"))
    work = Path(tempfile.mkdtemp(prefix="fi-", dir="/tmp"))
    work.chmod(0o700)
    try:
        config = write_config(lab, work, PREAUTH_RULE, timeout=30)
        pinerc = work / "pinerc"
        pinerc.write_text(f"user-domain=pinesh.test\ninbox-path={{lab/user={user.name}}}INBOX\n")
        env = {**os.environ, "PINESH_CONFIG": str(config), "HOME": str(work)}
        env["PINESH_CLIENT_SERVER"] = "0"
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode cached, as installed
        command = [sys.executable, "-m", "bench.first_index", "-p", str(pinerc), "-f", "INBOX"]
        for round_number in range(args.rounds + 1):
            for tree in args.trees:
                line = _run(command, {**env, "PYTHONPATH": tree})
                if round_number:  # round 0 is not measured
                    print(f"{tree}: {line.splitlines()[-1]}", flush=True)
        for tree in args.trees if args.timeline else ():
            print(f"--- {tree}\n{_run([*command, '--timeline'], {**env, 'PYTHONPATH': tree})}")
        for number, tree in enumerate(args.trees if args.profile else ()):
            out = Path(args.profile) / f"first-index-{number}.pstats"
            line = _run([*command, "--profile", str(out)], {**env, "PYTHONPATH": tree})
            print(f"--- {tree}: {line.splitlines()[-1]} (profile: {out})")
        stop = [sys.executable, "-m", "pinesh", "--config", str(config), "ssh", "stop"]
        subprocess.run(stop, env=env, capture_output=True, check=False)
    finally:
        lab.stop()
        shutil.rmtree(work, ignore_errors=True)


def _run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout.strip()


if __name__ == "__main__":
    main()
