"""ssh's questions (passphrases, passwords, unknown host keys) in pinesh's own dialog.

The askpass server (pinesh.transport.askpass) calls the handler in one of its threads; the
handler shows a PromptScreen (masked, unless ssh asks a yes/no question) on the UI thread
and waits for the answer, or takes the dialog down when ssh stops waiting. The answer is
handed back once and kept nowhere.
"""

from __future__ import annotations

import contextlib
import queue
from typing import Any

from textual.app import App
from textual.screen import Screen

from pinesh.errors import PineshError
from pinesh.services.connections import Connections
from pinesh.textsafe import safe_line
from pinesh.transport.askpass import AskpassRequest, AskpassServer
from pinesh.ui.prompts import ConfirmScreen, PromptScreen

POLL = 0.1  # seconds between checks that ssh still waits for the answer


class DialogHandler:
    """Answers askpass requests with app's dialogs (called from non-UI threads only)."""

    def __init__(self, app: App[Any]) -> None:
        self.app = app

    def __call__(self, request: AskpassRequest) -> str | None:
        prompt = request.prompt.strip()
        if request.kind == "none":  # a notice ("touch your security key"): no answer
            with contextlib.suppress(RuntimeError):
                self.app.call_from_thread(
                    self.app.notify, safe_line(prompt), timeout=10, markup=False
                )
            return ""
        answers: queue.Queue[object] = queue.Queue()

        def show() -> Screen[Any]:
            screen: Screen[Any]
            if request.kind == "confirm":
                screen = ConfirmScreen(prompt)
            else:
                # A host key question is answered "yes" in the open; anything else is secret.
                screen = PromptScreen(prompt, password="(yes/no" not in prompt)
            self.app.push_screen(screen, answers.put)
            return screen

        try:
            screen = self.app.call_from_thread(show)
        except RuntimeError:  # the app is not running (any more)
            return None
        while True:
            try:
                answer = answers.get(timeout=POLL)
                break
            except queue.Empty:
                if request.cancelled.is_set():
                    with contextlib.suppress(RuntimeError):
                        self.app.call_from_thread(self._take_down, screen)
                    return None
        if request.kind == "confirm":
            return "" if answer is True else None
        return answer if isinstance(answer, str) else None

    def _take_down(self, screen: Screen[Any]) -> None:
        """Dismiss the dialog nobody waits for (only when it is on top: dismiss pops the top)."""
        if self.app.screen is screen:
            screen.dismiss(None)


def askpass_server_of(app: App[Any]) -> AskpassServer | None:
    """The askpass server of app's session's ssh masters, if the client started one."""
    connections = getattr(getattr(app, "session", None), "connections", None)
    if not isinstance(connections, Connections):
        return None
    try:
        return connections.masters().askpass
    except PineshError:
        return None


def install_askpass(
    app: App[Any], server: AskpassServer | None = None
) -> contextlib.AbstractContextManager[None]:
    """While the returned context is entered, app answers server's questions (default: the
    server of app.session's masters; nothing to do when there is none).

    Enter it once app is running with its first screen (on_mount), exit it on unmount.
    """
    server = server if server is not None else askpass_server_of(app)
    if server is None:
        return contextlib.nullcontext()
    return server.handler(DialogHandler(app))
