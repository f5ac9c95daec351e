"""The order a folder's index opens in: the pinerc's sort-key, as in Pine."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from pinesh.ui.app import PineshApp
from tests.ui.test_index_expunge import plain_maildir
from tests.ui.test_index_screen import drawn, index_of, make_session, run_index


def _two_seen(maildir: Path) -> Path:
    """Messages 1 and 2 seen: the first unseen is message 3."""
    for n in (1, 2):
        (path,) = (maildir / "new").glob(f"*.m{n}.pinesh")
        path.rename(maildir / "cur" / f"{path.name}:2,S")
    return maildir


def _first_rows(app: PineshApp, count: int) -> list[str]:
    return [line.split("message ")[1].split()[0] for line in drawn(app)[:count]]


def test_sort_key_date_reverse_opens_newest_first(tmp_path: Path) -> None:
    maildir = plain_maildir(tmp_path, 5)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        assert _first_rows(app, 5) == ["5", "4", "3", "2", "1"]
        assert index_of(app).count == 5

    run_index(make_session(maildir, tmp_path, "sort-key=Date/Reverse\n"), scenario)


def test_without_sort_key_the_index_is_in_arrival_order(tmp_path: Path) -> None:
    maildir = plain_maildir(tmp_path, 5)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        assert _first_rows(app, 5) == ["1", "2", "3", "4", "5"]

    run_index(make_session(maildir, tmp_path), scenario)


def test_incoming_startup_rule_first_and_last_place_the_cursor(tmp_path: Path) -> None:
    for rule, expected in (("first", 0), ("last", 4)):
        maildir = _two_seen(plain_maildir(tmp_path / rule, 5))  # first-unseen would be 2

        async def scenario(app: PineshApp, pilot: Pilot[None], expected: int = expected) -> None:
            assert index_of(app).cursor == expected

        session = make_session(maildir, tmp_path / rule, f"incoming-startup-rule={rule}\n")
        run_index(session, scenario)


def test_first_unseen_is_the_default_start(tmp_path: Path) -> None:
    maildir = _two_seen(plain_maildir(tmp_path, 5))

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        assert index_of(app).cursor == 2

    run_index(make_session(maildir, tmp_path), scenario)


def test_the_pinercs_index_format_is_the_columns_drawn(tmp_path: Path) -> None:
    maildir = plain_maildir(tmp_path, 3)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        assert drawn(app)[0].split()[:3] == ["1", "message", "1"]  # no status, no date

    run_index(make_session(maildir, tmp_path, "index-format=MSGNO SUBJECT(30) FROM\n"), scenario)


def test_save_offers_the_folder_saved_msg_name_rule_names(tmp_path: Path) -> None:
    from textual.widgets import Input

    from pinesh.ui.prompts import PromptScreen
    from tests.ui.test_index_screen import press

    maildir = plain_maildir(tmp_path, 3)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "home", "s")
        assert isinstance(app.screen, PromptScreen)
        assert app.screen.query_one(Input).value == "a1"  # From: a1@example.org

    run_index(make_session(maildir, tmp_path, "saved-msg-name-rule=by-from\n"), scenario)


def test_threading_display_style_reaches_the_index_and_a_wrong_one_is_a_problem(
    tmp_path: Path,
) -> None:
    maildir = plain_maildir(tmp_path, 3)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        assert index_of(app).thread_style == "indent-subject-1"

    run_index(
        make_session(maildir, tmp_path, "threading-display-style=indent-subject-1\n"), scenario
    )
    rc = make_session(maildir, tmp_path, "threading-display-style=mutt-like\n").connections.pinerc
    assert "'mutt-like' is not a rule pinesh follows" in str(rc.problems[0])
