"""Pressing the initial keystrokes (Alpine's -I, the pinerc's initial-keystroke-list) once
the client is up, each after the last one's work is done.

Alpine opens a folder before it reads the next key; pinesh opens it in a worker, so a
key pressed at once would reach an index with no messages yet. Each key therefore waits
until no worker is running (the folder opened, the message read) or SETTLE_LIMIT passed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from textual import events
from textual.app import App
from textual.worker import WorkerState

from pinesh.config.keystrokes import Keystroke

SETTLE_LIMIT = 30.0  # seconds a key waits for the last one's work (a slow ssh login)
QUIET_CHECKS = 2  # polls in a row with nothing running: the screen has settled
POLL_SECONDS = 0.02


def key_event(key: Keystroke) -> events.Key:
    """The Key event a terminal would send for key."""
    if key.character is None:
        assert key.name is not None
        return events.Key(key.name, " " if key.name == "space" else None)
    char = key.character
    return events.Key(char if char.isalnum() else _name_of(char), char)


def _name_of(char: str) -> str:
    # Textual names a key that types punctuation by its Unicode name ("greater_than_sign");
    # bindings are written with those names. Its own converter is private, so this uses the
    # same one behind a guard, with the rule it applies as the fallback.
    try:
        from textual.keys import _character_to_key

        return _character_to_key(char)
    except ImportError:  # pragma: no cover - a Textual without it
        import unicodedata

        return unicodedata.name(char, char).lower().replace("-", "_").replace(" ", "_")


async def press_initial_keys(app: App[Any], keys: Sequence[Keystroke]) -> None:
    """Press keys in order, each once the app has settled from the one before."""
    for key in keys:
        await _settled(app)
        if not app.is_running:
            return
        app.post_message(key_event(key))
    await _settled(app)


async def _settled(app: App[Any]) -> None:
    deadline = time.monotonic() + SETTLE_LIMIT
    quiet = 0
    while quiet < QUIET_CHECKS and time.monotonic() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        busy = any(
            worker.state in (WorkerState.PENDING, WorkerState.RUNNING) and worker.name != PRESSING
            for worker in app.workers
        )
        quiet = 0 if busy else quiet + 1


PRESSING = "initial keystrokes"  # this worker's name: it does not wait for itself
