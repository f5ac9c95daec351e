"""Pine's two-line key menu: its layout (pure), O OTHER CMDS and clicks (through Pilot)."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from pinesh.ui.app import PineshApp
from pinesh.ui.index_screen import IndexScreen
from pinesh.ui.key_menu import OTHER, KeyMenu, MenuKey, key_label, lay_out, render_menu
from pinesh.ui.message_screen import MessageScreen
from tests.ui.test_index_screen import make_session, press, run_index
from tests.ui.test_message_screen import maildir_with


def _keys(*pairs: str) -> list[MenuKey]:
    return [MenuKey(key, key_label(key), description, True) for key, description in
            (pair.split(" ", 1) for pair in pairs)]  # fmt: skip


INDEX_KEYS = _keys(
    "question_mark Help", "less_than_sign FldrList", "greater_than_sign ViewMsg",
    "p PrevMsg", "n NextMsg", "minus PrevPage", "space NextPage", "d Delete", "u Undelete",
)  # fmt: skip


def _lines(cells: list) -> list[str]:  # type: ignore[type-arg]
    return [line.rstrip() for line in render_menu(cells).plain.split("\n")]


def test_a_menu_that_fits_is_one_page_with_help_alone_in_the_first_column() -> None:
    pages = lay_out(INDEX_KEYS, 200)
    assert len(pages) == 1
    assert _lines(pages[0]) == [
        "? Help  < FldrList  P PrevMsg    - PrevPage  D Delete",
        "        > ViewMsg   N NextMsg  Spc NextPage  U Undelete",
    ]


def test_a_menu_wider_than_the_screen_pages_with_other_cmds_under_help() -> None:
    pages = lay_out(INDEX_KEYS, 40)
    assert [_lines(page) for page in pages] == [
        [
            "? Help        < FldrList  P PrevMsg",
            "O OTHER CMDS  > ViewMsg   N NextMsg",
        ],
        [
            "? Help          - PrevPage  D Delete",
            "O OTHER CMDS  Spc NextPage  U Undelete",
        ],
    ]
    every = {cell.entry for page in pages for cell in page}
    assert every == {*INDEX_KEYS, OTHER}


def test_a_screen_narrower_than_one_column_still_shows_a_column_a_page() -> None:
    pages = lay_out(_keys("a Apply", "b Bounce", "c Compose"), 3)
    assert [[cell.entry.description for cell in page] for page in pages] == [
        ["OTHER CMDS", "Apply", "Bounce"],
        ["OTHER CMDS", "Compose"],
    ]


def test_a_disabled_command_is_drawn_dim_and_keys_in_reverse() -> None:
    entries = [MenuKey("d", "D", "Delete", False), MenuKey("u", "U", "Undelete", True)]
    text = render_menu(lay_out(entries, 80)[0])
    styles = {text.plain[span.start : span.end]: span.style for span in text.spans}
    assert styles["D"].reverse and styles["D"].dim  # type: ignore[union-attr]
    assert styles["U"].reverse and not styles["U"].dim  # type: ignore[union-attr]


def _menu_text(app: PineshApp) -> str:
    menu = app.screen.query_one(KeyMenu)
    return render_menu(menu._cells).plain


def test_o_shows_the_other_commands_and_comes_back(tmp_path: Path) -> None:
    maildir = maildir_with(tmp_path)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await pilot.resize_terminal(80, 24)
        await press(app, pilot)
        first = _menu_text(app)
        assert "ViewMsg" in first and "Expunge" not in first and "OTHER CMDS" in first
        await press(app, pilot, "o")
        second = _menu_text(app)
        assert "Expunge" in second and "ViewMsg" not in second
        seen = {second}
        for _ in range(5):  # the pages go round: back to the first
            await press(app, pilot, "o")
            seen.add(_menu_text(app))
            if _menu_text(app) == first:
                break
        assert _menu_text(app) == first and len(seen) >= 2

    run_index(make_session(maildir, tmp_path), scenario)


def test_clicking_a_command_in_the_menu_presses_its_key(tmp_path: Path) -> None:
    maildir = maildir_with(tmp_path)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        assert isinstance(app.screen, IndexScreen)
        menu = app.screen.query_one(KeyMenu)
        view = next(cell for cell in menu._cells if cell.entry.description == "ViewMsg")
        await pilot.click(KeyMenu, offset=(view.start + 1, view.row))
        await press(app, pilot)
        assert isinstance(app.screen, MessageScreen)

    run_index(make_session(maildir, tmp_path), scenario)
