"""Snapshots of each screen, at a pinned terminal size, over fixed data (snapshot_data).

Update with ``pytest tests/ui/test_snapshots.py --snapshot-update`` after looking at the
new pictures (``__snapshots__/*.svg``); a changed picture fails the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from textual.pilot import Pilot

from pinesh.ui.app import PineshApp
from tests.ui.snapshot_data import READING_BOX, READING_MESSAGES, fixed_root, fixed_session

SIZE = (100, 30)
Compare = Callable[..., bool]


@pytest.fixture(autouse=True)
def _own_root() -> Iterator[None]:
    with fixed_root():
        yield


async def settle(pilot: Pilot[None]) -> None:
    """Wait for every worker (folder loads) and the redraw after it."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_main_menu(snap_compare: Compare, monkeypatch: pytest.MonkeyPatch) -> None:
    app = PineshApp(fixed_session(monkeypatch))
    assert snap_compare(app, terminal_size=SIZE)


def test_main_menu_help(snap_compare: Compare, monkeypatch: pytest.MonkeyPatch) -> None:
    app = PineshApp(fixed_session(monkeypatch))
    assert snap_compare(app, terminal_size=SIZE, press=["question_mark"])


def test_quit_question(snap_compare: Compare, monkeypatch: pytest.MonkeyPatch) -> None:
    app = PineshApp(fixed_session(monkeypatch))
    assert snap_compare(app, terminal_size=SIZE, press=["q"])


def test_message_index(snap_compare: Compare, monkeypatch: pytest.MonkeyPatch) -> None:
    app = PineshApp(fixed_session(monkeypatch))
    assert snap_compare(app, terminal_size=SIZE, press=["i"], run_before=settle)


def test_message_index_help(snap_compare: Compare, monkeypatch: pytest.MonkeyPatch) -> None:
    app = PineshApp(fixed_session(monkeypatch))

    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.press("i")
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_message_text_of_the_hostile_message(
    snap_compare: Compare, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = PineshApp(fixed_session(monkeypatch))

    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.press("i")
        await settle(pilot)
        await pilot.press("home", "enter")  # the hostile message is the oldest
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_folder_list(snap_compare: Compare, monkeypatch: pytest.MonkeyPatch) -> None:
    app = PineshApp(fixed_session(monkeypatch))
    assert snap_compare(app, terminal_size=SIZE, press=["l"], run_before=settle)


def test_compose(snap_compare: Compare, monkeypatch: pytest.MonkeyPatch) -> None:
    app = PineshApp(fixed_session(monkeypatch))

    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press(*"bob", "tab", "tab", "tab", "tab", *"Lunch", "enter", *"Noon?")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_address_book(snap_compare: Compare, monkeypatch: pytest.MonkeyPatch) -> None:
    app = PineshApp(fixed_session(monkeypatch))
    assert snap_compare(app, terminal_size=SIZE, press=["a"], run_before=settle)


def test_setup(snap_compare: Compare, monkeypatch: pytest.MonkeyPatch) -> None:
    app = PineshApp(fixed_session(monkeypatch))
    assert snap_compare(app, terminal_size=SIZE, press=["s"], run_before=settle)


@pytest.mark.parametrize("name", READING_MESSAGES)
def test_message_text_of_a_message_read_right(
    name: str, snap_compare: Compare, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The HTML newsletter (a table, links, a list, a quote), the digest (its topics, its
    footer, its messages listed) and the multi-part message (two text parts, an
    attachment), each in the MESSAGE TEXT screen."""
    number = READING_MESSAGES.index(name) + 1
    app = PineshApp(
        fixed_session(monkeypatch), str(READING_BOX), start_in_index=True, start_number=number
    )

    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(100, 44), run_before=run_before)
