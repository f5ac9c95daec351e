"""The HTML an HTML-to-text converter is given: bounded in size, and rewritten in one
linear pass into a form any parser reads in linear time.

Python's ``html.parser`` is quadratic on constructs that never end (on 3.11.7, 20 KB of
``<a x `` takes 5 s, of ``<a/`` or ``<a\\n`` 6 s, ``<!--`` and ``</`` too): each one it
meets scans to the end of the input, then is taken as text, and the next one scans
again. Other parsers have such corners of their own, so the bound is put here, before
any converter, and holds for whichever one is used:

- at most MAX_HTML characters are converted (cut before a tag), the rest is counted;
- every ``<`` left in the output starts a complete tag written plainly: ``<name>``,
  ``<name attr="value" />``, ``</name>``. A ``<`` that starts no complete tag becomes
  ``&lt;`` (shown as text); comments, declarations, processing instructions and CDATA
  are dropped whole, as is the content of ``script`` and ``style``;
- the pass reads each character once, except a tag that turns out incomplete, which is
  read again as text; that rereading has a budget (READ_AGAIN_BUDGET per character of
  input), and past it every remaining ``<`` is text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_HTML = 512 * 1024  # characters of HTML converted; the rest is cut with a note
READ_AGAIN_BUDGET = 2  # characters read again in incomplete tags, per character of input
_RAW_TEXT = ("script", "style")  # elements whose content is not markup (dropped)

_SPACE = "\t\n\f\r "
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9:_.-]*")
# An attribute: spaces or slashes, then a name, then maybe "=" and a value (the value's
# quote only: the closing one is looked for with a cached find, not a regex).
_ATTR = re.compile(
    r"[\t\n\f\r /]*(?P<name>[^\t\n\f\r />\"'=<]+)"
    r"(?:[\t\n\f\r ]*=[\t\n\f\r ]*(?:(?P<quote>[\"'])|(?P<bare>[^\t\n\f\r >\"'<=`]+)))?"
)
_TAG_END = re.compile(r"[\t\n\f\r ]*(/?)[\t\n\f\r ]*>")


@dataclass(frozen=True)
class BoundedHtml:
    """HTML ready for a converter, and how many characters of the input were left out."""

    html: str
    cut: int  # characters of the input left out (past MAX_HTML)
    read_again: int  # characters read twice: in tags that turned out incomplete


class _Finder:
    """str.find that remembers its last answer for each needle, so looking again from
    a later start costs nothing: the pass asks for the same closing '>' or quote from
    many starts, and str.find alone would scan to the end each time."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.known: dict[str, tuple[int, int]] = {}  # needle: (searched from, found at)

    def find(self, needle: str, start: int) -> int:
        known = self.known.get(needle)
        if known is not None and known[0] <= start and (known[1] < 0 or start <= known[1]):
            return known[1]
        found = self.text.find(needle, start)
        self.known[needle] = (start, found)
        return found


def bound_html(markup: str) -> BoundedHtml:
    """markup cut to MAX_HTML characters and rewritten as the module docstring says."""
    cut = 0
    if len(markup) > MAX_HTML:
        end = MAX_HTML
        last_open = markup.rfind("<", 0, end)
        if last_open > markup.rfind(">", 0, end):
            end = last_open  # not in the middle of a tag
        cut = len(markup) - end
        markup = markup[:end]
    rewriter = _Rewriter(markup)
    return BoundedHtml(rewriter.run(), cut, rewriter.read_again)


class _Rewriter:
    """One pass over markup, writing the plain form (see the module docstring)."""

    def __init__(self, markup: str) -> None:
        self.s = markup
        self.finder = _Finder(markup)
        self.lower: _Finder | None = None  # of markup.lower(), made when a script is met
        self.budget = READ_AGAIN_BUDGET * len(markup) + 4096
        self.out: list[str] = []
        self.read_again = 0  # characters read in tags that turned out incomplete

    def run(self) -> str:
        s, n, pos = self.s, len(self.s), 0
        while pos < n:
            lt = s.find("<", pos)
            if lt < 0:
                self.out.append(s[pos:])
                break
            self.out.append(s[pos:lt])
            end = self._construct(lt) if self.read_again <= self.budget else None
            if end is None:
                self.out.append("&lt;")
                pos = lt + 1
            else:
                pos = end
        return "".join(self.out)

    def _construct(self, lt: int) -> int | None:
        """Write the construct at lt; where the text after it starts, or None when it is
        not a complete one (then lt's '<' is text)."""
        s = self.s
        if s.startswith("<!--", lt):
            return self._skip_to("-->", lt, lt + 4)
        if s.startswith("<![CDATA[", lt):
            return self._skip_to("]]>", lt, lt + 9)
        if s.startswith(("<!", "<?", "</"), lt):
            name = _NAME.match(s, lt + 2) if s.startswith("</", lt) else None
            end = self._skip_to(">", lt, lt + 2)
            if end is not None and name is not None:
                self.out.append(f"</{name[0]}>")
            return end
        return self._start_tag(lt)

    def _skip_to(self, needle: str, lt: int, start: int) -> int | None:
        found = self.finder.find(needle, start)
        if found < 0:
            self.read_again += 1
            return None
        return found + len(needle)

    def _start_tag(self, lt: int) -> int | None:
        s = self.s
        name = _NAME.match(s, lt + 1)
        if name is None:
            return None
        pos = name.end()
        attrs: list[str] = []
        while True:
            closing = _TAG_END.match(s, pos)
            if closing is not None:
                break
            attr = _ATTR.match(s, pos)
            if attr is None:  # a '<', a quote or '=' where a name should be, or the end
                self.read_again += pos - lt
                return None
            value = attr["bare"]
            pos = attr.end()
            if attr["quote"]:
                close = self.finder.find(attr["quote"], pos)
                if close < 0:
                    self.read_again += pos - lt
                    return None
                value, pos = s[pos:close], close + 1
            attrs.append(attr["name"] if value is None else f'{attr["name"]}="{_attr(value)}"')
        slash = " /" if closing[1] else ""
        self.out.append(f"<{name[0]}{''.join(' ' + a for a in attrs)}{slash}>")
        end = closing.end()
        if name[0].lower() in _RAW_TEXT and not slash:
            return self._skip_raw_text(name[0].lower(), end)
        return end

    def _skip_raw_text(self, name: str, start: int) -> int:
        """Past a script's or style's content, to its end tag (or the end of the input)."""
        if self.lower is None:
            self.lower = _Finder(self.s.lower())
        found = self.lower.find("</" + name, start)
        if found < 0:
            self.out.append(f"</{name}>")
            return len(self.s)
        return found


def _attr(value: str) -> str:
    return value.replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
