"""HTML mail as text: tables in columns, lists numbered, quotes marked, links numbered and
listed, images as their alt text, hidden text left out, nothing fetched, no text lost."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from pinesh.services.html_text import DECEPTIVE_WARNING, html_to_text


def test_a_data_table_keeps_its_cells_apart_and_its_columns_aligned() -> None:
    text = html_to_text(
        "<table><tr><th>Name</th><th>Qty</th></tr>"
        "<tr><td>Apples</td><td>3</td></tr><tr><td>Cherry pie</td><td>12</td></tr></table>"
    )
    lines = [line for line in text.splitlines() if line.strip()]
    assert [line.split() for line in lines] == [
        ["Name", "Qty"],
        ["Apples", "3"],
        ["Cherry", "pie", "12"],
    ]
    columns = {line.index(word) for line, word in zip(lines, ["Qty", "3", "12"], strict=True)}
    assert len(columns) == 1


def test_a_layout_table_stacks_its_cells_instead_of_side_by_side_columns() -> None:
    column = "<p>" + "word " * 40 + "</p>"
    text = html_to_text(
        f'<table role="presentation"><tr><td>{column}</td><td><h2>Side</h2>{column}</td>'
        "</tr></table>"
    )
    assert max(len(line) for line in text.splitlines()) < 250  # one paragraph, no more
    assert "Side" in text.splitlines()


def test_ordered_lists_are_numbered_from_their_start() -> None:
    text = html_to_text(
        "<ol><li>one</li><li>two<ol><li>inner</li></ol></li></ol>"
        '<ol start="7"><li>seven</li><li>eight</li></ol><ul><li>dot</li></ul>'
    )
    assert " 1. one" in text and " 2. two" in text and "1. inner" in text
    assert "7. seven" in text and "8. eight" in text and "* dot" in text


def test_quotes_are_marked_by_depth_and_read_as_one() -> None:
    text = html_to_text(
        "<p>Above</p><blockquote><p>one</p><p>two</p>"
        "<blockquote>deeper</blockquote></blockquote><p>Below</p>"
    )
    assert "> one\n>\n> two" in text
    assert "> > deeper" in text
    assert "\nBelow" in text and "> Below" not in text and "> Above" not in text


def test_links_are_numbered_in_the_text_and_listed_at_the_end() -> None:
    text = html_to_text(
        '<p>See <a href="https://example.org/one">the first</a>, '
        '<a href="https://example.org/two"><b>a second</b></a> and '
        '<a href="https://example.org/one">the first again</a>.</p>'
        '<p><a href="https://example.org/plain">https://example.org/plain</a> '
        '<a href="javascript:alert(1)">script</a> <a href="#top">top</a> '
        '<a href="mailto:me@example.org">write</a></p>'
    )
    assert "the first[1]" in text and "a second[2]" in text and "the first again[1]" in text
    assert "https://example.org/plain " in text  # its text is its address: no number
    assert "script " in text and "top " in text  # nowhere to go: not numbered
    assert text.endswith(
        "Links:\n[1] https://example.org/one\n[2] https://example.org/two\n"
        "[3] mailto:me@example.org\n"
    )
    assert "javascript" not in text


def test_a_link_showing_another_address_says_where_it_goes() -> None:
    text = html_to_text(
        '<p><a href="https://evil.example.com/x">https://bank.example.org/login</a> '
        '<a href="https://mail.example.org/">example.org</a></p>'
    )
    assert text.startswith(DECEPTIVE_WARNING)
    assert "https://bank.example.org/login[1: goes to evil.example.com]" in text
    assert "example.org[2]" in text  # a host under the one shown is not deceptive
    assert "[1] https://evil.example.com/x" in text


def test_images_show_their_alt_text() -> None:
    text = html_to_text(
        '<p><a href="https://example.org/"><img src="https://example.org/logo.png" '
        'alt="Company logo"></a> and <img src="https://t.example/p.gif" alt=""></p>'
    )
    assert "[Company logo][1]" in text
    assert "p.gif" not in text and "[]" not in text


def test_hidden_text_is_left_out() -> None:
    text = html_to_text(
        '<div style="display: none !important; max-height: 0">Preheader teaser</div>'
        '<span style="mso-hide:all">Outlook only</span><p hidden>Hidden</p><p>Shown</p>'
    )
    assert text == "Shown\n"


def test_nothing_is_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the network was used")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    text = html_to_text(
        '<html><head><link rel="stylesheet" href="https://example.org/s.css">'
        '<base href="https://example.org/"></head><body>'
        '<img src="https://example.org/pixel.gif" alt="pixel">'
        '<iframe src="https://example.org/frame"></iframe>'
        '<p style="background:url(https://example.org/bg.png)">Text</p></body></html>'
    )
    assert "[pixel]" in text and "Text" in text


def test_inline_styles_cannot_blow_the_text_up() -> None:
    markup = '<p style="margin-top:99999em;padding-left:99999px">x</p>' * 1000
    text = html_to_text(markup)
    assert text.count("x") == 1000 and len(text) < 10_000


@pytest.mark.parametrize("depth", [300, 1500])
def test_text_after_deep_nesting_is_not_lost(depth: int) -> None:
    # libxml2 alone stops at 256 levels, silently, and everything after is lost.
    text = html_to_text(
        "<p>before</p>" + "<div>" * depth + "deep" + "</div>" * depth + "<p>after</p>"
    )
    assert [w for w in text.split() if w.isalpha()] == ["before", "deep", "after"]


def test_nesting_past_what_can_be_parsed_shows_the_words_and_says_why() -> None:
    text = html_to_text(
        "<p>before</p>" + "<div>" * 5000 + "deep" + "</div>" * 5000 + "<p>after</p>"
    )
    assert "before" in text and "deep" in text and "after" in text
    assert "nests too deep to lay out" in text


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("", ""),
        ("</p></div>", ""),
        ("<!-- only a comment -->", ""),
        (
            '<?xml version="1.0" encoding="utf-8"?><p>after the declaration</p>',
            "after the declaration\n",
        ),
        ("<p>a\ud800b</p>", "a\ufffdb\n"),  # a lone surrogate must not cut the text
        ("<p>nul\x00here</p>", "nul\ufffdhere\n"),
        (
            "<p>escape \x1b[2J stays for the screen to neutralise</p>",
            "escape \x1b[2J stays for the screen to neutralise\n",
        ),
        ("plain text, no tags", "plain text, no tags\n"),
    ],
)
def test_odd_documents(markup: str, expected: str) -> None:
    assert html_to_text(markup) == expected
