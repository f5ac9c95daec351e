"""Pine's one-line questions and the help screen, through Textual's Pilot."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Input, Static

from pinesh.ui.app import PineshApp
from pinesh.ui.help_screen import HelpScreen, help_text
from pinesh.ui.key_menu import key_label
from pinesh.ui.prompts import ChoiceScreen, ConfirmScreen, PromptScreen
from tests.ui.test_index_screen import make_session, press, run_index, stack, status, typed_quickly
from tests.ui.test_message_screen import maildir_with, open_message


class Harness(App[None]):
    """An empty app that records what each prompt answered."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: list[object] = []

    def compose(self) -> ComposeResult:
        yield Static("harness")

    def record(self, value: object) -> None:
        self.answers.append(value)


def _run(keys: list[str], screen_factory: object) -> list[object]:
    app = Harness()

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            app.push_screen(screen_factory(), app.record)  # type: ignore[operator]
            await pilot.pause()
            await pilot.press(*keys)
            await pilot.pause()

    asyncio.run(scenario())
    return app.answers


def test_confirm_yes_no_default_and_cancel() -> None:
    assert _run(["y"], lambda: ConfirmScreen("Expunge?")) == [True]
    assert _run(["n"], lambda: ConfirmScreen("Expunge?", default=True)) == [False]
    assert _run(["enter"], lambda: ConfirmScreen("Quit?", default=True)) == [True]
    assert _run(["enter"], lambda: ConfirmScreen("Quit?")) == [False]
    assert _run(["escape"], lambda: ConfirmScreen("Quit?", default=True)) == [False]
    assert _run(["ctrl+c"], lambda: ConfirmScreen("Quit?", default=True)) == [False]


def test_prompt_gives_text_or_none() -> None:
    assert _run(["a", "b", "enter"], lambda: PromptScreen("Folder:", initial="x")) == ["xab"]
    assert _run(["a", "escape"], lambda: PromptScreen("Folder:")) == [None]
    assert _run(["s", "3", "ctrl+c"], lambda: PromptScreen("Password:", password=True)) == [None]


def test_choice_returns_the_key_pressed_and_ignores_others() -> None:
    choices = [("a", "all"), ("s", "sender")]
    assert _run(["z", "s"], lambda: ChoiceScreen("Reply to", choices)) == ["s"]
    assert _run(["escape"], lambda: ChoiceScreen("Reply to", choices)) == [None]


def test_a_hostile_question_is_drawn_inert() -> None:
    app = Harness()

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            app.push_screen(ConfirmScreen("Delete \x1b[2J[b]folder[/b]?"))
            await pilot.pause()
            shown = str(app.screen.query_one("#question", Static).render())
            assert "\x1b" not in shown and "\\x1b[2J[b]folder[/b]" in shown

    asyncio.run(scenario())


def test_help_text_lists_keys_in_pine_notation() -> None:
    assert key_label("ctrl+x") == "^X"
    assert key_label("ctrl+underscore") == "^_"
    assert key_label("question_mark") == "?"
    assert key_label("d") == "D"
    text = help_text("Message Index", "The index.", [("D", "Delete"), ("^X", "Send")])
    assert text.startswith("HELP FOR MESSAGE INDEX")
    assert "  D   Delete" in text and "  ^X  Send" in text


def test_help_screen_leaves_with_e() -> None:
    app = Harness()

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            app.push_screen(HelpScreen("Main Menu", "Some help.", [("Q", "Quit")]))
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            body = str(app.screen.query_one("#help-text", Static).render())
            assert "Some help." in body and "Q  Quit" in body
            await pilot.press("e")
            assert not isinstance(app.screen, HelpScreen)

    asyncio.run(scenario())


def test_what_is_typed_at_a_prompt_can_be_seen(tmp_path: Path) -> None:
    # A regression guard, not a reproduction: once, under tmux, a focused prompt's Input
    # drew Textual's tall focus border over its one line, and what was typed did not
    # show. The prompt's Input is now compact (one line, never a border).
    maildir = maildir_with(tmp_path)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "j", "1", "2")
        assert isinstance(app.screen, PromptScreen)
        field = app.screen.query_one(Input)
        assert field.has_focus
        assert field.content_region.height == 1
        assert "12" in "".join(s.text for s in field.render_line(0))

    run_index(make_session(maildir, tmp_path), scenario)


def test_two_quick_enters_at_a_prompt_close_only_the_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second Enter reached the answered prompt, whose dismiss() then closed the screen
    # under it (here the message view; with Enter held down, every screen: a crash).
    monkeypatch.setenv("HOME", str(tmp_path))
    maildir = maildir_with(tmp_path)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await open_message(app, pilot, 3)
        await press(app, pilot, "s")
        app.screen.query_one(Input).value = "kept"
        await typed_quickly(app, pilot, "enter", "enter", "enter")
        assert stack(app) == ["Screen", "MainMenu", "IndexScreen", "MessageScreen"]
        assert "Saved to kept (1 message" in status(app)

    run_index(make_session(maildir, tmp_path), scenario)


def test_a_key_typed_after_a_choice_goes_to_the_index(tmp_path: Path) -> None:
    # "$" "s" "s": sort by subject, then S (save). The second s reached the answered
    # choice, whose dismiss() closed the index.
    maildir = maildir_with(tmp_path)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "dollar_sign")
        assert isinstance(app.screen, ChoiceScreen)
        await typed_quickly(app, pilot, "s", "s")
        assert stack(app) == ["Screen", "MainMenu", "IndexScreen", "PromptScreen"]
        assert "SAVE" in str(app.screen.query_one(Static).render())

    run_index(make_session(maildir, tmp_path), scenario)
