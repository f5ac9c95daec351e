"""~/.newsrc parsing and formatting, and read-mark ranges, on literal file contents."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pinesh.stores.base import StoreError
from pinesh.stores.nntp.newsrc import (
    MAX_ARTICLE,
    GroupLine,
    Newsrc,
    OtherLine,
    add,
    contains,
    count_within,
    format_newsrc,
    format_ranges,
    parse_line,
    parse_newsrc,
    parse_ranges,
    ranges_of,
    remove,
)
from pinesh.stores.nntp.store import read_newsrc, write_newsrc

# A newsrc as tin, slrn and Pine leave them: an options line, both marks, odd spacing,
# a blank line and garbage.
NEWSRC = (
    "options -n all !alt.binaries.*\n"
    "comp.lang.python: 1-10,12,15-20\n"
    "alt.test! 1-5\n"
    "local.test:\n"
    "local.other:1-3\n"
    "\n"
    "this is not a group line\n"
    "de.comp.misc: 1-x,7,9-3, 11 ,-4,99999999999999999999\n"
)


# --- ranges ---------------------------------------------------------------------------------


def test_ranges_from_the_brief() -> None:
    assert parse_ranges("1-10,12,15-20") == ((1, 10), (12, 12), (15, 20))


@pytest.mark.parametrize(
    ("text", "ranges"),
    [
        ("", ()),
        (" ", ()),
        ("7", ((7, 7),)),
        ("15-20,1-10,5-12", ((1, 12), (15, 20))),  # unsorted and overlapping
        ("1-3,4-5", ((1, 5),)),  # adjacent pairs merge
        ("1-1", ((1, 1),)),
        (" 1 - 3 , 5 ", ((1, 3), (5, 5))),
        ("1-x,7,9-3, 11 ,-4,4-", ((7, 7), (11, 11))),  # bad pieces are ignored
        ("99999999999999999999,2", ((2, 2),)),
        (f"1-{MAX_ARTICLE}", ((1, MAX_ARTICLE),)),
        ("0-2", ((0, 2),)),
        ("\x1b[2J,3", ((3, 3),)),
    ],
)
def test_parse_ranges(text: str, ranges: tuple[tuple[int, int], ...]) -> None:
    assert parse_ranges(text) == ranges


def test_format_ranges() -> None:
    assert format_ranges(((1, 10), (12, 12), (15, 20))) == "1-10,12,15-20"
    assert format_ranges(()) == ""


def test_ranges_of_numbers() -> None:
    assert ranges_of([3, 1, 2, 7, 9, 8, 3]) == ((1, 3), (7, 9))
    assert ranges_of([-1, 4]) == ((4, 4),)


def test_add_and_remove() -> None:
    read = parse_ranges("1-10,12,15-20")
    assert add(read, ranges_of([11])) == ((1, 12), (15, 20))
    assert remove(read, ranges_of([5, 15, 20, 30])) == ((1, 4), (6, 10), (12, 12), (16, 19))
    assert remove(read, ((1, 100),)) == ()
    assert remove(read, ()) == read
    assert add((), ()) == ()


def test_huge_ranges_stay_pairs() -> None:
    read = parse_ranges("1-2000000000")
    assert remove(read, ranges_of([1000])) == ((1, 999), (1001, 2000000000))
    assert count_within(read, 1999999991, 2000000100) == 10


def test_contains_and_count_within() -> None:
    read = parse_ranges("1-10,12,15-20")
    assert contains(read, 1) and contains(read, 10) and contains(read, 12)
    assert not contains(read, 11) and not contains(read, 0) and not contains(read, 21)
    assert not contains((), 1)
    assert count_within(read, 5, 16) == 6 + 1 + 2
    assert count_within(read, 30, 40) == 0


# --- lines ----------------------------------------------------------------------------------


def test_subscribed_and_unsubscribed_lines() -> None:
    assert parse_line("comp.lang.python: 1-10,12") == GroupLine(
        "comp.lang.python", True, ((1, 10), (12, 12)), raw="comp.lang.python: 1-10,12"
    )
    line = parse_line("alt.test! 1-5")
    assert isinstance(line, GroupLine) and not line.subscribed and line.read == ((1, 5),)


@pytest.mark.parametrize(
    "text",
    ["", "options -n all", "# a comment: here", "no mark here", "  : 1-3", "a\x1bb: 1-2"],
)
def test_other_lines(text: str) -> None:
    assert parse_line(text) == OtherLine(text)


def test_parse_a_newsrc() -> None:
    newsrc = parse_newsrc(NEWSRC)
    assert newsrc.subscribed() == ["comp.lang.python", "local.test", "local.other", "de.comp.misc"]
    alt = newsrc.group("alt.test")
    assert alt is not None and not alt.subscribed
    assert newsrc.group("local.test") == GroupLine("local.test", True, (), raw="local.test:")
    misc = newsrc.group("de.comp.misc")
    assert misc is not None and misc.read == ((7, 7), (11, 11))
    assert newsrc.group("nope") is None


def test_unchanged_newsrc_is_written_back_as_it_was() -> None:
    assert format_newsrc(parse_newsrc(NEWSRC)) == NEWSRC


def test_changing_marks_rewrites_only_that_line() -> None:
    newsrc = parse_newsrc(NEWSRC)
    changed = newsrc.set_read("de.comp.misc", parse_ranges("1-20"))
    lines = format_newsrc(changed).splitlines()
    assert lines[-1] == "de.comp.misc: 1-20"
    assert lines[:-1] == NEWSRC.splitlines()[:-1]


def test_unsubscribe_keeps_marks_and_place() -> None:
    text = format_newsrc(parse_newsrc(NEWSRC).set_subscribed("comp.lang.python", False))
    assert text.splitlines()[1] == "comp.lang.python! 1-10,12,15-20"
    assert text.splitlines()[0] == "options -n all !alt.binaries.*"


def test_subscribe_again_and_to_a_new_group() -> None:
    newsrc = parse_newsrc(NEWSRC).set_subscribed("alt.test", True).set_subscribed("new.g", True)
    lines = format_newsrc(newsrc).splitlines()
    assert lines[2] == "alt.test: 1-5"
    assert lines[-1] == "new.g:"


def test_setting_what_is_already_there_changes_nothing() -> None:
    newsrc = parse_newsrc(NEWSRC)
    assert newsrc.set_subscribed("local.test", True) is newsrc
    assert newsrc.set_read("alt.test", ((1, 5),)) is newsrc


def test_marks_for_a_group_not_in_the_file_are_kept_unsubscribed() -> None:
    newsrc = parse_newsrc("").set_read("local.test", ranges_of([3, 4]))
    assert format_newsrc(newsrc) == "local.test! 3-4\n"


def test_duplicate_lines_change_only_the_first() -> None:
    newsrc = parse_newsrc("a.b: 1\na.b: 2\n").set_read("a.b", ((1, 5),))
    assert format_newsrc(newsrc) == "a.b: 1-5\na.b: 2\n"


def test_missing_final_newline_and_crlf() -> None:
    assert format_newsrc(parse_newsrc("a.b: 1-3")) == "a.b: 1-3\n"
    newsrc = parse_newsrc("a.b: 1-3\r\nc.d! 2\r\n")
    assert newsrc.group("c.d") == GroupLine("c.d", False, ((2, 2),), raw="c.d! 2")


def test_undecodable_bytes_survive_a_round_trip() -> None:
    raw = b"x.y: 1\n\xff\xfe garbage\n"
    text = raw.decode("utf-8", "surrogateescape")
    back = format_newsrc(parse_newsrc(text).set_read("x.y", ((1, 2),)))
    assert back.encode("utf-8", "surrogateescape") == b"x.y: 1-2\n\xff\xfe garbage\n"


def test_empty_newsrc() -> None:
    assert parse_newsrc("") == Newsrc()
    assert format_newsrc(Newsrc()) == ""


# --- the file on disk (pinesh.stores.nntp.store) --------------------------------------------------


def test_write_keeps_unknown_lines_mode_and_symlinks(tmp_path: Path) -> None:
    real = tmp_path / "real-newsrc"
    real.write_text(NEWSRC)
    real.chmod(0o640)
    link = tmp_path / ".newsrc"
    link.symlink_to(real)
    write_newsrc(link, read_newsrc(link).set_read("local.test", ((1, 4),)))
    assert link.is_symlink()  # the link stays; its target was replaced
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    lines = real.read_text().splitlines()
    assert lines[3] == "local.test: 1-4"
    assert lines[6] == "this is not a group line"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".newsrc", "real-newsrc"]


def test_new_newsrc_is_private(tmp_path: Path) -> None:
    path = tmp_path / ".newsrc"
    assert read_newsrc(path) == Newsrc()
    write_newsrc(path, Newsrc().set_subscribed("local.test", True))
    assert path.read_text() == "local.test:\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_unwritable_directory_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "missing-dir" / ".newsrc"
    with pytest.raises(StoreError, match="cannot write") as caught:
        write_newsrc(path, Newsrc().set_subscribed("a.b", True))
    assert caught.value.hint is not None


def test_unreadable_newsrc_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot read"):
        read_newsrc(tmp_path)  # a directory
