"""The index's virtual list when the view under it is replaced (the header cache's view by
the server's): what a load of the view before says is not shown, and the new view loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from pinesh.services.folder_view import FolderView
from pinesh.ui.app import PineshApp
from pinesh.ui.index_list import IndexList
from tests.ui.test_index_screen import (
    filled_maildir,
    index_of,
    make_session,
    rows,
    run_index,
    settle,
    status,
)


def test_a_failed_load_of_a_view_replaced_meanwhile_is_not_shown(tmp_path: Path) -> None:
    maildir, _ = filled_maildir(tmp_path)
    session = make_session(maildir, tmp_path)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        before = status(app)
        replaced = FolderView.open(session, "INBOX")
        replaced.close()
        index_of(app).post_message(IndexList.LoadFailed("INBOX is closed", replaced))
        await settle(app, pilot)
        assert status(app) == before
        assert "closed" not in status(app)

    run_index(session, scenario)


def test_a_view_attached_while_a_window_loads_loads_that_window_itself(tmp_path: Path) -> None:
    maildir, _ = filled_maildir(tmp_path)
    session = make_session(maildir, tmp_path)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        index = index_of(app)
        shown = index.view
        assert shown is not None
        fresh = FolderView.open(session, "INBOX")
        height = max(index.scrollable_content_region.height, 1)
        top = round(index.scroll_offset.y)
        # As if the view before were still loading the very window the new one shows.
        index._loading = (max(0, top - height // 2), min(fresh.count, top + height + height // 2))
        index.attach(fresh, index.cursor)
        await settle(app, pilot)
        assert all(line.strip() and "..." not in line for line in rows(app)[:5]), rows(app)
        shown.close()

    run_index(session, scenario)


def test_an_index_format_draws_its_columns_in_terminal_cells() -> None:
    from datetime import datetime

    from rich.cells import cell_len

    from pinesh.config.index_format import parse_index_format
    from pinesh.stores.base import Address, Envelope
    from pinesh.ui.index_list import index_line, layout_for

    columns, _ = parse_index_format("MSGNO(4) FROM(12) SUBJECT(40%) SIZE")
    layout = layout_for(80, 100, columns)
    assert [w for _, w in layout.columns][:2] == [4, 12]
    for name in ("Jane Doe", "山田太郎さんと佐藤花子さん", "Ünïcødé"):
        envelope = Envelope(
            1,
            None,
            (Address(name, "x@example.org"),),
            (),
            (),
            "日本語の件名",
            None,
            None,
            (),
            2048,
            frozenset(),
        )
        line = index_line(envelope, 7, 0, False, (), layout, datetime(2026, 12, 7))
        assert line.startswith("   7 ")
        # Each column ends where the next begins, whatever the names' character widths.
        assert cell_len(line) == sum(w for _, w in layout.columns) + len(layout.columns) - 1
        from_column = line[5:]
        assert cell_len(from_column.split(" 日本語")[0]) <= 12 + 1


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        ("show-thread-structure", "    > "),
        ("none", ""),
        ("indent-subject-1", "  "),
        ("indent-subject-2", "    "),
    ],
)
def test_threading_display_style_indents_a_reply_at_depth_two(style: str, expected: str) -> None:
    from pinesh.ui.index_list import thread_indent

    assert thread_indent(2, style) == expected
    assert thread_indent(0, style) == ""


def test_convert_dates_to_localtime_in_the_index() -> None:
    from datetime import datetime, timedelta, timezone

    from pinesh.stores.base import Envelope
    from pinesh.ui.index_list import index_line, layout_for

    sent = datetime(2026, 3, 5, 23, 30, tzinfo=timezone(timedelta(hours=-12)))  # Mar 6 east
    envelope = Envelope(1, sent, (), (), (), "s", None, None, (), 1, frozenset())
    today = datetime(2026, 12, 7)
    as_sent = index_line(envelope, 1, 0, False, (), layout_for(80, 1), today)
    local = index_line(envelope, 1, 0, False, (), layout_for(80, 1, local_dates=True), today)
    assert "Mar 05" in as_sent
    assert sent.astimezone().strftime("%b %d") in local  # Mar 06 anywhere east of UTC-12
