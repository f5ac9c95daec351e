"""Reading Pine's index-format into columns, from literal pinerc values."""

from __future__ import annotations

import pytest

from pinesh.config.index_format import IndexColumn, IndexFormatError, parse_index_format
from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc


def test_alpines_own_example_reads_with_its_widths() -> None:
    columns, left_out = parse_index_format("STATUS MSGNO DATE FROMORTO(33%) SIZE SUBJKEY(67%)")
    assert columns == (
        IndexColumn("STATUS"),
        IndexColumn("MSGNO"),
        IndexColumn("DATE"),
        IndexColumn("FROMORTO", percent=33),
        IndexColumn("SIZE"),
        IndexColumn("SUBJKEY", percent=67),
    )
    assert left_out == []


def test_cells_lowercase_and_unknown_tokens() -> None:
    columns, left_out = parse_index_format("msgno(5) from(20)  ATT SCORE subject")
    assert columns == (
        IndexColumn("MSGNO", cells=5),
        IndexColumn("FROM", cells=20),
        IndexColumn("SUBJECT"),
    )
    assert left_out == ["ATT", "SCORE"]


@pytest.mark.parametrize(
    "text",
    [
        "STATUS MSGNO(",
        "FROM(33%%)",
        "SUBJECT(0%)",
        "FROM(101%)",
        "FROM(-3)",
        "ATT SCORE",
        "",
        "STATUS\x1b[2J",
    ],
)
def test_a_format_that_cannot_be_read_is_refused_naming_it(text: str) -> None:
    with pytest.raises(IndexFormatError):
        parse_index_format(text)


def test_the_pinercs_format_is_read_and_its_problems_named() -> None:
    rc = parse_pinerc("index-format=MSGNO ATT SUBJECT\n", "/rc")
    assert pine_settings(rc).index_format == (IndexColumn("MSGNO"), IndexColumn("SUBJECT"))
    assert "pinesh does not draw ATT: left out" in str(rc.problems[0])
    rc = parse_pinerc("index-format=MSGNO(\n", "/rc")
    assert pine_settings(rc).index_format is None
    assert "Pine's columns are used" in str(rc.problems[0])
