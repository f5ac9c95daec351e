"""Run a terminal program under tmux, type keys, and read the screen (as a person would)."""

from __future__ import annotations

import shlex
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence

from tests.lab.common import LabError, which


class TmuxScreen:
    """One detached tmux session running argv on a screen of a fixed size."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        width: int = 150,
        height: int = 45,
    ) -> None:
        self.tmux = which("tmux", "tmux")
        self.name = f"pinesh-{uuid.uuid4().hex[:8]}"
        assignments = [f"{k}={shlex.quote(v)}" for k, v in (env or {}).items()]
        command = " ".join(["env", *assignments, *(shlex.quote(a) for a in argv)])
        subprocess.run(
            [
                self.tmux,
                "new-session",
                "-d",
                "-s",
                self.name,
                "-x",
                str(width),
                "-y",
                str(height),
                command,
            ],
            check=True,
            timeout=10,
        )

    def text(self) -> str:
        done = subprocess.run(
            [self.tmux, "capture-pane", "-p", "-t", self.name],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return done.stdout

    def send(self, *keys: str) -> None:
        subprocess.run([self.tmux, "send-keys", "-t", self.name, *keys], check=True, timeout=10)

    def wait_for(self, wanted: str, timeout: float = 20) -> str:
        """Wait until wanted is on the screen; return the screen, or fail showing it."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.text()
            if wanted in screen:
                return screen
            if time.monotonic() > deadline:
                raise LabError(f"{wanted!r} did not appear on the screen:\n{screen}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(
            [self.tmux, "kill-session", "-t", self.name],
            capture_output=True,
            timeout=10,
            check=False,
        )
