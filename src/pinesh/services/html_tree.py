"""An HTML message's tree made ready for text layout: parsed by lxml, then what a reader
would not see is taken out, layout tables become blocks, and links are numbered.

lxml (libxml2) parses; inscriptis (services/html_text.py) lays the tree out. Both see
only what services/html_input.bound_html made of the message (at most 512 KB, every
``<`` a complete tag), so the parse is linear. Hazards of lxml this module guards:

- libxml2 stops parsing at a nesting depth of 256 without raising, and everything after
  is lost; ``huge_tree`` raises the limit to 2048. A deeper document is refused here
  (TooDeepError), so the caller shows its text without the layout rather than lose any.
- inscriptis lays out by recursion, a few frames per level: elements deeper than
  MAX_TREE_DEPTH are unwrapped (their text and children move up).
- a str holding a lone surrogate loses the rest of its text node; one starting with an
  XML declaration is refused. Both are mended before parsing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import lxml.etree
import lxml.html

MAX_TREE_DEPTH = 100  # deeper elements are unwrapped (inscriptis recurses per level)
SCHEMES_LISTED = ("http", "https", "mailto", "ftp", "news", "nntp", "tel")
_SURROGATE = re.compile("[\ud800-\udfff]")
_XML_DECLARATION = re.compile(r"\s*<\?xml[^>]*>")
# How senders hide a preheader or an Outlook-only copy (compared without spaces).
_HIDDEN_STYLES = ("display:none", "visibility:hidden", "mso-hide:all", "max-height:0")
_BLOCKS = frozenset(
    ["p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote", "pre", "table"]
)
_TABLE_PARTS = ("thead", "tbody", "tfoot", "tr", "td", "th", "caption")
# Link text that reads as an address: an optional scheme, a host name, maybe a path.
_ADDRESS_TEXT = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://)?(?P<host>(?:[a-z0-9-]+\.)+[a-z]{2,})(?::\d+)?(?:[/?#]\S*)?",
    re.IGNORECASE,
)


class TooDeepError(Exception):
    """The HTML nests deeper than libxml2 parses (2048): laid out, its text would be cut."""


@dataclass(frozen=True)
class Link:
    """A numbered link: its number in the text, its target, and the host it goes to when
    its text shows another address (a deceptive link, as Alpine warns of)."""

    number: int
    href: str
    deceptive_host: str | None = None


def parse_html(markup: str) -> lxml.html.HtmlElement | None:
    """The document tree of bounded markup; None when it holds no element at all."""
    markup = _SURROGATE.sub("\ufffd", markup.replace("\x00", "\ufffd"))
    markup = _XML_DECLARATION.sub("", markup, count=1)
    if not markup.strip():
        return None
    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, huge_tree=True)
    try:
        tree = lxml.html.document_fromstring(markup, parser=parser)
    except lxml.etree.ParserError:  # "Document is empty": only end tags, say
        return None
    if any(error.type_name == "ERR_RESOURCE_LIMIT" for error in parser.error_log):
        raise TooDeepError
    return tree


def prepare_tree(tree: lxml.html.HtmlElement) -> tuple[Link, ...]:
    """Make tree ready for layout, in place; the links, in the order numbered."""
    _unwrap_deep(tree)
    _drop_hidden(tree)
    for element in _elements(tree):
        element.attrib.pop("style", None)  # margins of 99999em would make megabytes of space
    _tables_to_blocks(tree)
    _number_started_lists(tree)
    return _number_links(tree)


def _elements(tree: lxml.html.HtmlElement) -> Iterator[lxml.html.HtmlElement]:
    return (e for e in tree.iter() if isinstance(e.tag, str))


def _unwrap_deep(tree: lxml.html.HtmlElement) -> None:
    deep: list[lxml.html.HtmlElement] = []
    stack = [(tree, 0)]
    while stack:  # no recursion: the tree may be 2048 deep
        element, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            deep.append(element)
        stack.extend((child, depth + 1) for child in element if isinstance(child.tag, str))
    for element in reversed(deep):
        element.drop_tag()


def _drop_hidden(tree: lxml.html.HtmlElement) -> None:
    hidden = []
    for element in _elements(tree):
        style = (element.get("style") or "").replace(" ", "").lower()
        if element.get("hidden") is not None or any(h in style for h in _HIDDEN_STYLES):
            hidden.append(element)
    for element in hidden:
        if element.getparent() is not None:
            element.drop_tree()  # its tail (the text after it) stays


def _tables_to_blocks(tree: lxml.html.HtmlElement) -> None:
    """Layout tables (newsletters' columns and frames) become plain blocks, innermost
    first, so their cells stack; data tables stay tables, laid out in aligned columns."""
    for table in reversed(list(tree.iter("table"))):
        if _is_data_table(table):
            continue
        own = [
            part
            for part in table.iter(*_TABLE_PARTS)
            if next(part.iterancestors("table"), None) is table
        ]
        for element in (table, *own):
            element.tag = "div"


def _number_started_lists(tree: lxml.html.HtmlElement) -> None:
    """An ordered list that starts past 1 (<ol start="7">) is numbered here: inscriptis
    counts every list from 1. Its items become blocks that begin with their number."""
    for ol in list(tree.iter("ol")):
        start = (ol.get("start") or "").strip()
        if not start.isdigit() or int(start) == 1 or len(start) > 9:
            continue
        items = [child for child in ol if child.tag == "li"]
        ol.tag = "div"
        for offset, item in enumerate(items):
            item.tag = "div"
            item.text = f" {int(start) + offset}. " + (item.text or "").lstrip()


def _is_data_table(table: lxml.html.HtmlElement) -> bool:
    """A table of values: header cells, or short cells in two columns or more, and no
    table, role=presentation or block (a paragraph, a heading) inside."""
    if table.get("role") == "presentation" or table.find(".//table") is not None:
        return False
    if table.find(".//th") is not None:
        return True
    if any(e.tag in _BLOCKS for e in table.iterdescendants() if isinstance(e.tag, str)):
        return False
    rows = table.findall(".//tr")
    if not rows or max(len(row.findall("td")) for row in rows) < 2:
        return False
    return all(len(cell.text_content().strip()) <= 60 for cell in table.iter("td"))


def _number_links(tree: lxml.html.HtmlElement) -> tuple[Link, ...]:
    """Mark each link's text with its number, [N] (a target met again keeps its number);
    a link whose text is its own address is left as it is, and one whose text shows
    another address says where it goes: [N: goes to host]."""
    links: dict[str, Link] = {}
    for anchor in tree.iter("a"):
        href = " ".join((anchor.get("href") or "").split())
        target = urlsplit(href)
        if target.scheme.lower() not in SCHEMES_LISTED or not (target.netloc or target.path):
            continue  # in-page (#top), javascript:, data:, cid:, relative, empty: nowhere
        text = " ".join(anchor.text_content().split())
        if _same_address(text, href):
            continue
        link = links.get(href)
        if link is None:
            link = Link(len(links) + 1, href, _deceptive_host(text, href))
            links[href] = link
        goes_to = f": goes to {link.deceptive_host}" if link.deceptive_host else ""
        marker = f"[{link.number}{goes_to}]"
        if len(anchor):  # after the link's last child (an image's alt text, a <b>)
            last = anchor[-1]
            last.tail = (last.tail or "").rstrip() + marker
        else:
            anchor.text = (anchor.text or "").rstrip() + marker
    return tuple(links.values())


def _same_address(text: str, href: str) -> bool:
    def bare(address: str) -> str:
        address = address.lower().removeprefix("mailto:").rstrip("/")
        return address.split("://", 1)[-1].removeprefix("www.")

    return bool(text) and bare(text) == bare(href)


def _deceptive_host(text: str, href: str) -> str | None:
    """The host href goes to, when text reads as an address on another host."""
    shown = _ADDRESS_TEXT.fullmatch(text)
    if shown is None or "@" in text:
        return None
    try:
        target = urlsplit(href).hostname or ""
    except ValueError:  # a malformed port or IPv6 literal
        target = ""
    if not target:
        return None
    shown_host = shown["host"].lower().removeprefix("www.")
    if target == shown_host or target.endswith("." + shown_host):
        return None  # the shown host, or a host under it
    return target
