"""HTML as readable text, for reading a message (reading.html_to_text loads this module
when a message has HTML: the client's start need not import lxml and inscriptis).

The layout is inscriptis's (Apache-2.0, on lxml): data tables in aligned columns,
numbered and bulleted lists, images as their [alt text]. Chosen over html2text, which is
GPL-3.0, fails on nested tables with its table padding, and is quadratic on unfinished
tags (docs/ui.md, "HTML mail", has the comparison). Around it, pinesh:

- bounds the input (services/html_input.py) and prepares the tree
  (services/html_tree.py): hidden preheaders out, layout tables stacked, links numbered;
- marks quoted text with "> " (inscriptis only indents a blockquote);
- lists the links' targets at the end, as [N] lines, and warns once at the top when a
  link's text shows another address than the one it goes to.

Nothing is fetched: the tree is laid out as it is (no images, no style sheets).
"""

from __future__ import annotations

import bisect
import html
import re
from collections.abc import Sequence
from functools import cache

from inscriptis import Inscriptis
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

from pinesh.services.html_input import MAX_HTML, bound_html
from pinesh.services.html_tree import Link, TooDeepError, parse_html, prepare_tree

QUOTE = "quote"  # inscriptis's label for text inside a blockquote
DECEPTIVE_WARNING = (
    "[ Some links below show one address and go to another: each says where it goes. ]"
)
_TAG = re.compile(r"<[^>]*>")  # bounded markup: every "<" starts a complete tag
_BLANK_LINES = re.compile(r"\n{3,}")


@cache
def _config() -> ParserConfig:
    return ParserConfig(
        css=CSS_PROFILES["strict"],  # "relaxed" indents every div: newsletters are deep
        display_images=True,  # an image is its [alt text]
        display_links=False,  # links are numbered by html_tree
        annotation_rules={"blockquote": [QUOTE]},
    )


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
    """The text of bounded markup, laid out; its words alone if it cannot be laid out."""
    try:
        tree = parse_html(markup)
        if tree is None:
            return ""
        links = prepare_tree(tree)
        layout = Inscriptis(tree, _config())
        text = layout.get_text()
        quotes = [(a.start, a.end) for a in layout.get_annotations() if QUOTE in a.metadata]
    except TooDeepError:
        return _words(markup) + "[ This HTML nests too deep to lay out: its text alone. ]\n"
    except (ValueError, TypeError, RecursionError, LookupError):
        # A corner of lxml or inscriptis not met in testing: the words still show.
        return _words(markup) + "[ This HTML could not be laid out: its text alone. ]\n"
    body = _tidy(_mark_quotes(text, quotes))
    if not body:
        return ""
    warning = DECEPTIVE_WARNING + "\n\n" if any(link.deceptive_host for link in links) else ""
    return warning + body + "\n" + _references(links)


def _mark_quotes(text: str, quotes: Sequence[tuple[int, int]]) -> str:
    """Each line inside N blockquotes begins with N "> " (its indentation taken off); a
    blank line between two quoted lines is quoted too, so a quote reads as one."""
    if not quotes:
        return text
    starts = sorted(start for start, _ in quotes)
    ends = sorted(end for _, end in quotes)
    lines = text.split("\n")
    depths, position = [], 0
    for line in lines:
        first = position + len(line) - len(line.lstrip())  # the line's first character
        depths.append(bisect.bisect_right(starts, first) - bisect.bisect_right(ends, first))
        position += len(line) + 1
    following = [0] * len(lines)  # the depth of the next line with text
    ahead = 0
    for number in range(len(lines) - 1, -1, -1):
        following[number] = ahead
        if lines[number].strip():
            ahead = depths[number]
    out, before = [], 0  # before: the depth of the last line with text
    for number, line in enumerate(lines):
        if line.strip():
            depth = before = depths[number]
        else:
            depth = min(before, following[number])
        out.append(("> " * depth + line.lstrip()).rstrip() if depth > 0 else line)
    return "\n".join(out)


def _tidy(text: str) -> str:
    lines = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", lines).strip("\n")


def _references(links: Sequence[Link]) -> str:
    if not links:
        return ""
    return "\nLinks:\n" + "".join(f"[{link.number}] {link.href}\n" for link in links)


def _words(markup: str) -> str:
    """The text of bounded markup without its tags (linear: see _TAG)."""
    lines = html.unescape(_TAG.sub(" ", markup)).splitlines()
    return "\n".join(" ".join(line.split()) for line in lines if line.strip()) + "\n"
