"""What an HTML-to-text converter is given: cut to MAX_HTML, every '<' a complete plain
tag, the rewriting linear; and html.parser, the parser most sensitive to unfinished
constructs (what makes it quadratic), never meets one given that."""

from __future__ import annotations

import html.parser
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pinesh.services import html_text
from pinesh.services.html_input import MAX_HTML, READ_AGAIN_BUDGET, bound_html
from pinesh.services.reading import html_to_text

# What makes html.parser scan to the end again and again, and their relatives.
HOSTILE_UNITS = [
    "<a",
    "<a x ",
    "<a/",
    "<a\n",
    "<a b='",
    '<a b="',
    "<a b=x ",
    "<a b='x' ",
    "<!--",
    "<!-",
    "</",
    "</a",
    "<!",
    "<!DOCTYPE",
    "<?",
    "<![CDATA[",
    "&#",
    "&",
    "<script>",
    "<style><",
    "<a b='<a b=\"",
    "<<a",
]
# A complete tag as the rewriter writes one, and text with no '<'.
PLAIN = re.compile(
    r"(?:[^<]+"
    r"|<[A-Za-z][A-Za-z0-9:_.-]*(?: [^\t\n\f\r />\"'=<]+(?:=\"[^\"<>]*\")?)*(?: /)?>"
    r"|</[A-Za-z][A-Za-z0-9:_.-]*>)*"
)


def _hostile(unit: str, size: int = 60_000) -> str:
    return unit * (size // len(unit))


@pytest.mark.parametrize("unit", HOSTILE_UNITS)
def test_every_lt_left_starts_a_complete_plain_tag(unit: str) -> None:
    markup = _hostile(unit)
    bounded = bound_html(markup)
    assert PLAIN.fullmatch(bounded.html)
    assert bounded.cut == 0
    # Linear: what is read again is within the budget (plus at most one last attempt).
    assert bounded.read_again <= (READ_AGAIN_BUDGET + 1) * len(markup) + 4096
    assert len(bounded.html) <= 4 * len(markup)  # '<' to '&lt;' at worst


def test_a_huge_document_is_cut_before_a_tag_and_the_rest_counted() -> None:
    markup = "<p>" + "word " * (MAX_HTML // 5) + "<b>bold</b>" + "x" * 10_000
    bounded = bound_html(markup)
    assert bounded.html == markup[:MAX_HTML]  # the cut fell in text
    assert bounded.cut == len(markup) - MAX_HTML
    cut_in_tag = "x" * (MAX_HTML - 3) + '<a href="far">' + "y" * 10
    bounded = bound_html(cut_in_tag)
    assert bounded.html == "x" * (MAX_HTML - 3)  # not an escaped half tag
    assert bounded.cut == len('<a href="far">') + 10


def test_the_converter_is_handed_only_bounded_plain_html(monkeypatch: pytest.MonkeyPatch) -> None:
    handed: list[str] = []
    convert = html_text._convert

    def recorded(markup: str) -> str:
        handed.append(markup)
        return convert(markup)

    monkeypatch.setattr(html_text, "_convert", recorded)
    text = html_to_text("<a\n" * 300_000)
    assert len(handed) == 1 and len(handed[0]) <= 4 * MAX_HTML
    assert PLAIN.fullmatch(handed[0])
    assert text.rstrip().endswith("KB; save the part to see it all]")
    assert "KB more of HTML not shown" in text


def _incomplete_constructs() -> Iterator[Callable[..., Any]]:
    yield html.parser.HTMLParser.parse_starttag
    yield html.parser.HTMLParser.parse_endtag
    yield html.parser.HTMLParser.parse_html_declaration
    yield html.parser.HTMLParser.parse_pi
    yield html.parser.HTMLParser.parse_bogus_comment
    yield html.parser.HTMLParser.parse_comment


@pytest.mark.parametrize("unit", HOSTILE_UNITS)
def test_html_parser_given_the_plain_form_meets_no_unfinished_construct(
    unit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # html.parser is quadratic because each construct that does not end (a parse_*
    # returning -1) is scanned to the end of the input, then the next one again.
    unfinished: list[str] = []
    for method in _incomplete_constructs():

        def counted(self: Any, i: int, *rest: Any, _method: Any = method) -> Any:
            result = _method(self, i, *rest)
            if result < 0:
                unfinished.append(_method.__name__)
            return result

        monkeypatch.setattr(html.parser.HTMLParser, method.__name__, counted)
    # The converter is lxml's now; the bound is kept for whichever parser comes next, and
    # html.parser (the most sensitive one) is the measure of it.
    _parse_with_html_parser(bound_html(_hostile(unit, 3_000)).html)  # small: else quadratic
    assert unfinished == []
    _parse_with_html_parser("<a x " * 20)  # not rewritten, such markup is counted
    assert unfinished


def _parse_with_html_parser(markup: str) -> None:
    parser = html.parser.HTMLParser(convert_charrefs=True)
    parser.feed(markup)
    parser.close()


def test_ordinary_html_keeps_its_tags_attributes_and_text() -> None:
    markup = (
        "<!DOCTYPE html><html><head><title>T</title><style>p { color: red }</style>"
        "<script>if (a < b && c > d) { x = '</div>' }</script></head>"
        "<body><!-- hidden --><p class=intro>Hello &amp; <b>welcome</b>, a < b!</p>"
        '<a href=\'https://example.org/?q=1&amp;r="2"\' title="x > y">link</a><br/>'
        "<![CDATA[ gone ]]><?php echo 1 ?><ul><li>one<li>two</ul></body></html>"
    )
    bounded = bound_html(markup)
    assert PLAIN.fullmatch(bounded.html)
    assert '<p class="intro">' in bounded.html
    assert (
        '<a href="https://example.org/?q=1&amp;r=&quot;2&quot;" title="x &gt; y">' in bounded.html
    )
    assert "<br />" in bounded.html and "hidden" not in bounded.html
    assert "color" not in bounded.html and "x = " not in bounded.html
    text = html_to_text(markup)
    assert "Hello & welcome, a < b!" in text
    assert "\nlink[1]\n" in text and "* one\n  * two" in text
    assert text.endswith('Links:\n[1] https://example.org/?q=1&r="2"\n')
    assert "gone" not in text and "php" not in text


def test_an_unfinished_script_or_comment() -> None:
    assert html_to_text("<p>before</p><script>var x = 1; hidden") == "before\n"
    assert html_to_text("<p>before</p><!-- not closed") == "before\n\n<!-- not closed\n"
