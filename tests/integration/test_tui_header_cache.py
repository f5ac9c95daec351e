"""The terminal client with a warm IMAP header cache, against the lab's real Dovecot: the
index appears from the cache before the server answers, marked as such (the status line,
and its rows drawn dim), then the server's answer replaces it; with the server unreachable
it stays, says "Offline", and messages read before open."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.pilot import Pilot

from pinesh.services.mail import MailSession
from pinesh.ui.app import PineshApp
from pinesh.ui.index_screen import IndexScreen
from pinesh.ui.message_screen import MessageScreen
from tests.integration.helpers import stop_masters
from tests.integration.test_imap_header_cache import MESSAGES, _session, _warmed, filled
from tests.lab.imap_wire import install_relay
from tests.lab.sshd import LabSshd
from tests.ui.test_index_screen import answer, index_of, rows, settle, status

pytestmark = pytest.mark.lab
__all__ = ["filled"]  # the fixture, used by name

SERVER_DELAY = 4  # seconds the server waits before its greeting


def _run(session: MailSession, scenario: object) -> None:
    app = PineshApp(session)

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            await scenario(app, pilot)  # type: ignore[operator]

    try:
        asyncio.run(main())
    finally:
        session.close()
        stop_masters(session.connections)


async def _until(pilot: Pilot[None], ready: object, tries: int = 30) -> None:
    for _ in range(tries):
        if ready():  # type: ignore[operator]
            return
        await pilot.pause(0.1)


def _warm_lab(
    sshd: LabSshd, filled: tuple[Path, Path, Path]
) -> tuple[Path, list[str], list[int], int]:
    """INBOX read once through the relay by a first session (_warmed): the work directory,
    the relay's command, INBOX's UIDs in order and the UID read."""
    work, relay_dir, _ = filled
    command, _ = install_relay(relay_dir)
    uids, read = _warmed(sshd, work, command)
    return work, command, uids, read


def _slowed(command: list[str]) -> list[str]:
    """command, started SERVER_DELAY seconds late (the server answers after the cache)."""
    return ["/bin/sh", "-c", f"sleep {SERVER_DELAY}; exec " + " ".join(command)]


def _first_row_dim(app: PineshApp) -> bool:
    """Whether the index's top row is drawn dim (the cache's rows, not yet confirmed)."""
    strip = index_of(app).render_line(0)
    return all(segment.style is not None and segment.style.dim for segment in strip if segment.text)


def test_the_index_paints_from_the_cache_before_the_server_answers(
    sshd: LabSshd, filled: tuple[Path, Path, Path]
) -> None:
    work, command, _, _ = _warm_lab(sshd, filled)
    slow = _slowed(command)
    seen: dict[str, object] = {}

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await pilot.press("i")
        await _until(pilot, lambda: "cached" in status(app))
        seen["early status"] = status(app)
        assert isinstance(app.screen, IndexScreen)
        seen["early count"] = index_of(app).count
        seen["early row"] = rows(app)[index_of(app).cursor]
        seen["early dim"] = _first_row_dim(app)
        await settle(app, pilot)  # the server's answer
        seen["late status"] = status(app)
        seen["late dim"] = _first_row_dim(app)

    _run(_session(sshd, work, slow, "slow"), scenario)
    assert "cached, not yet confirmed by the server" in str(seen["early status"])
    assert seen["early count"] == MESSAGES
    assert str(seen["early row"]).strip()
    assert "cached" not in str(seen["late status"])
    assert f"{MESSAGES} messages" in str(seen["late status"])
    assert seen["early dim"] is True and seen["late dim"] is False  # marked until confirmed


def test_offline_the_cached_index_stays_and_a_message_read_before_opens(
    sshd: LabSshd, filled: tuple[Path, Path, Path]
) -> None:
    work, _, uids, read = _warm_lab(sshd, filled)
    seen: dict[str, object] = {}

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await pilot.press("i")
        await settle(app, pilot)
        assert isinstance(app.screen, IndexScreen)
        seen["status"] = status(app)
        seen["count"] = index_of(app).count
        await pilot.press("j")
        await settle(app, pilot)
        await answer(app, pilot, str(uids.index(read) + 1))  # the message read before
        await pilot.press("enter")
        await settle(app, pilot)
        seen["screen"] = type(app.screen).__name__

    _run(_session(sshd, work, ["/bin/false"], "off"), scenario)
    assert str(seen["status"]).startswith("Offline"), seen
    assert seen["count"] == MESSAGES
    assert seen["screen"] == MessageScreen.__name__


def test_goto_a_folder_whose_server_is_unreachable_opens_it_from_the_cache(
    sshd: LabSshd, filled: tuple[Path, Path, Path]
) -> None:
    work, _, _, _ = _warm_lab(sshd, filled)
    seen: dict[str, object] = {}

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await pilot.press("g")
        await settle(app, pilot)
        await answer(app, pilot, "INBOX")
        await settle(app, pilot)
        seen["screen"] = type(app.screen).__name__
        seen["status"] = status(app)
        seen["count"] = index_of(app).count if isinstance(app.screen, IndexScreen) else None

    _run(_session(sshd, work, ["/bin/false"], "off"), scenario)
    assert seen["screen"] == IndexScreen.__name__, seen
    assert "(offline: " in str(seen["status"]) and f"{MESSAGES} messages" in str(seen["status"])
    assert seen["count"] == MESSAGES


def test_a_message_opened_before_the_server_answered_still_reads_after_it_did(
    sshd: LabSshd, filled: tuple[Path, Path, Path]
) -> None:
    work, command, uids, read = _warm_lab(sshd, filled)
    slow = _slowed(command)
    seen: dict[str, object] = {}

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await pilot.press("i")
        await _until(pilot, lambda: "cached" in status(app))
        await pilot.press("j")
        await _until(pilot, lambda: type(app.screen).__name__ == "PromptScreen")
        # Typed without waiting for the workers: the server's answer is seconds away.
        await pilot.press(*str(uids.index(read) + 1), "enter")
        await _until(pilot, lambda: isinstance(app.screen, IndexScreen))
        await pilot.press("enter")  # on the cached view, before the server's answer
        await _until(pilot, lambda: isinstance(app.screen, MessageScreen))
        seen["early"] = type(app.screen).__name__
        await settle(app, pilot)  # the server's view replaces the cached one underneath
        await pilot.press("p")  # the message before, through the view the screen holds
        await settle(app, pilot)
        seen["status"] = status(app)

    _run(_session(sshd, work, slow, "slow"), scenario)
    assert seen["early"] == MessageScreen.__name__
    assert "is closed" not in str(seen["status"]), seen
