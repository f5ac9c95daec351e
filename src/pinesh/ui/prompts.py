"""Pine's one-line questions: yes/no, a line of text, a choice of keys.

Each is a modal screen docked at the bottom, above the key menu, as Pine asks on its
status line. Prompts may quote text from a server, so the text is drawn as ``Text``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar, TypeVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from pinesh.textsafe import safe_line

if TYPE_CHECKING:  # the start does not load the sealing (email.generator): the composer does
    from pinesh.services.sealing import Seal

T = TypeVar("T")


class _Question(ModalScreen[T]):
    """A question that is answered once.

    Keys typed quickly are queued to the screen that was on top when they came: a second
    Enter (or y, or a choice key) can reach a question already answered, and dismiss()
    would then close the screen under it, the composer or the index, or the last screen
    (a crash). Only the answer given while the question is on top counts."""

    def answer(self, value: T) -> None:
        if self.is_active:
            self.dismiss(value)


class ConfirmScreen(_Question[bool]):
    """A yes/no question: y or n; Enter takes the default; Escape or Ctrl-C is no."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center bottom; background: $background 0%; }
    ConfirmScreen > Static { width: 100%; height: 1; margin-bottom: 3;
        background: $warning; color: $text; text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,Y", "answer(True)", "Yes"),
        Binding("n,N", "answer(False)", "No"),
        Binding("enter", "default", "Default", show=False),
        Binding("escape,ctrl+c,ctrl+g", "answer(False)", "Cancel", show=False),
    ]

    def __init__(self, question: str, *, default: bool = False) -> None:
        super().__init__()
        self.question = question
        self.default = default

    def compose(self) -> ComposeResult:
        hint = "[y]" if self.default else "[n]"
        yield Static(Text(f"{safe_line(self.question)} (y/n) {hint}: "), id="question")

    def action_answer(self, value: bool) -> None:
        self.answer(value)

    def action_default(self) -> None:
        self.answer(self.default)


class PromptScreen(_Question[str | None]):
    """A line of text: Enter gives it; Escape or Ctrl-C gives None (cancelled)."""

    DEFAULT_CSS = """
    PromptScreen { align: center bottom; background: $background 0%; }
    PromptScreen > Horizontal { width: 100%; height: 1; margin-bottom: 3; background: $warning; }
    PromptScreen Static { width: auto; height: 1; color: $text; text-style: bold; }
    PromptScreen Input, PromptScreen Input:focus {
        width: 1fr; height: 1; border: none; padding: 0;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,ctrl+c,ctrl+g", "cancel", "Cancel"),
    ]

    def __init__(self, prompt: str, *, initial: str = "", password: bool = False) -> None:
        super().__init__()
        self.prompt = prompt
        self.initial = initial
        self.password = password

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Static(Text(safe_line(self.prompt) + " "))
            # compact: one line, with no border (a focused Input's tall border would fill
            # the line and hide what is typed).
            yield Input(
                value=self.initial,
                password=self.password,
                select_on_focus=False,
                compact=True,
                id="answer",
            )

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.answer(event.value)

    def action_cancel(self) -> None:
        self.answer(None)


class ChoiceScreen(_Question[str | None]):
    """A choice of keys, e.g. ``[("a", "all"), ("s", "sender")]``; Escape gives None."""

    DEFAULT_CSS = """
    ChoiceScreen { align: center bottom; background: $background 0%; }
    ChoiceScreen > Static { width: 100%; height: auto; margin-bottom: 3;
        background: $warning; color: $text; text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,ctrl+c,ctrl+g", "cancel", "Cancel"),
    ]

    def __init__(self, prompt: str, choices: list[tuple[str, str]]) -> None:
        super().__init__()
        self.prompt = prompt
        self.choices = choices

    def compose(self) -> ComposeResult:
        keys = "  ".join(f"{key} {safe_line(label)}" for key, label in self.choices)
        yield Static(Text(f"{safe_line(self.prompt)}  [{keys}]  ^C Cancel"))

    def on_key(self, event: events.Key) -> None:
        if not self.is_active:
            return  # answered already: the key goes on to the bindings of the screen on top
        typed = (event.character or "").lower()
        for key, _label in self.choices:
            if event.key == key or typed == key.lower():  # Pine takes S as well as s
                event.stop()
                self.answer(key)
                return

    def action_cancel(self) -> None:
        self.answer(None)


class SendScreen(_Question["Seal | None"]):
    """Pine's "Send message?", with the protection chosen on the same line: y sends it
    as the line says, n (Escape, ^C) does not; G turns signing on and off, E encrypting,
    M switches between PGP/MIME and S/MIME. Enter takes the default."""

    DEFAULT_CSS = """
    SendScreen { align: center bottom; background: $background 0%; }
    SendScreen > Static { width: 100%; height: 1; margin-bottom: 3;
        background: $warning; color: $text; text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,Y", "send", "Yes"),
        Binding("n,N", "cancel", "No"),
        Binding("g,G", "flip('sign')", "Sign"),
        Binding("e,E", "flip('encrypt')", "Encrypt"),
        Binding("m,M", "flip('smime')", "S/MIME"),
        Binding("enter", "default", "Default", show=False),
        Binding("escape,ctrl+c,ctrl+g", "cancel", "Cancel", show=False),
    ]

    def __init__(self, question: str, seal: Seal, *, default: bool = True) -> None:
        super().__init__()
        self.question = question
        self.seal = seal
        self.default = default

    def line(self) -> Text:
        """The question as it stands: what the message will be, and the keys."""
        hint = "[y]" if self.default else "[n]"
        question = safe_line(self.question).rstrip("?")
        scheme = "PGP" if self.seal.smime else "S/MIME"
        return Text(
            f"{question}, {self.seal.describe()}? (y/n) {hint}"
            f"   G Sign  E Encrypt  M {scheme} instead"
        )

    def compose(self) -> ComposeResult:
        yield Static(self.line(), id="question")

    def action_flip(self, what: str) -> None:
        self.seal = replace(self.seal, **{what: not getattr(self.seal, what)})
        self.query_one("#question", Static).update(self.line())

    def action_send(self) -> None:
        self.answer(self.seal)

    def action_cancel(self) -> None:
        self.answer(None)

    def action_default(self) -> None:
        self.answer(self.seal if self.default else None)
