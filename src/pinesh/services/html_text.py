"""HTML as readable text, for reading a message (reading.html_to_text loads this module
when a message has HTML: the client's start need not import the HTML parser)."""

from __future__ import annotations

import html
import html.parser
import io
from typing import ClassVar

from pinesh.services.html_input import MAX_HTML, bound_html


class _HtmlToText(html.parser.HTMLParser):
    """HTML as readable text: block elements make line breaks, scripts and styles vanish."""

    BLOCK: ClassVar[frozenset[str]] = frozenset(
        [
            "p",
            "div",
            "br",
            "li",
            "tr",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "blockquote",
            "pre",
            "table",
            "ul",
            "ol",
            "hr",
        ]
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = io.StringIO()
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self.skip += 1
        elif tag in self.BLOCK:
            self.out.write("\n")
        if tag == "li":
            self.out.write("  * ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCK:
            self.out.write("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.write(data)


def html_to_text(markup: str) -> str:
    """Readable text from HTML (never raises on broken markup), in time linear in its
    size: the converter only ever sees what html_input.bound_html made of it."""
    bounded = bound_html(markup)
    text = _convert(bounded.html)
    if bounded.cut:
        text += (
            f"\n[{bounded.cut // 1024 + 1} KB more of HTML not shown: cut at "
            f"{MAX_HTML // 1024} KB; save the part to see it all]\n"
        )
    return text


def _convert(markup: str) -> str:
    """The HTML-to-text converter proper (markup is bound_html's output)."""
    parser = _HtmlToText()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # broken markup must not stop reading: fall back to the raw text
        return html.unescape(markup)
    lines = [" ".join(line.split()) for line in parser.out.getvalue().splitlines()]
    text, blank = [], False
    for line in lines:
        if line or not blank:
            text.append(line)
        blank = not line
    return "\n".join(text).strip() + "\n"
