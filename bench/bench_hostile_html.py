"""Time to make text of hostile HTML: html.parser alone (what pinesh's first converter
was built on), lxml and inscriptis alone (today's converter, given the markup as it came),
and html_to_text (the bound of services/html_input.py, then that converter).

    .venv/bin/python -m bench.bench_hostile_html [BEFORE_KB] [AFTER_KB]

Each pattern is repeated to BEFORE_KB (default 20) for the runs without the bound
(html.parser's is quadratic: keep it small), and to BEFORE_KB and AFTER_KB (default
2048, cut to MAX_HTML) for the run with it. Results go to stdout as Markdown; docs/security.md
quotes a run.
"""

from __future__ import annotations

import html.parser
import sys
import time
from collections.abc import Callable

from pinesh.services.html_input import MAX_HTML
from pinesh.services.html_text import _convert, html_to_text

PATTERNS = [
    "<a",
    "<a x ",
    "<a/",
    "<a\n",
    "<a b='",
    "<!--",
    "</",
    "<!",
    "<?",
    "<![CDATA[",
    "&#",
    "<a href='x'>y</a> ",  # ordinary markup, for comparison
]


def _html_parser(markup: str) -> str:
    parser = html.parser.HTMLParser(convert_charrefs=True)
    parser.feed(markup)
    parser.close()
    return ""


def _seconds(convert: Callable[[str], str], markup: str) -> float:
    start = time.perf_counter()
    convert(markup)
    return time.perf_counter() - start


def main() -> None:
    before_kb = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    after_kb = int(sys.argv[2]) if len(sys.argv) > 2 else 2048
    print(f"Python {sys.version.split()[0]}; MAX_HTML {MAX_HTML // 1024} KB\n")
    print(
        f"| pattern | {before_kb} KB, html.parser alone | {before_kb} KB, lxml + inscriptis "
        f"alone | {before_kb} KB, bounded | {after_kb} KB, bounded |"
    )
    print("|---|---|---|---|---|")
    for unit in PATTERNS:
        small = unit * (before_kb * 1024 // len(unit))
        large = unit * (after_kb * 1024 // len(unit))
        before = _seconds(_html_parser, small)
        unbounded = _seconds(_convert, small)
        after = _seconds(html_to_text, small)
        after_large = _seconds(html_to_text, large)
        print(
            f"| `{unit!r}` | {before:.2f} s | {unbounded:.3f} s | {after:.3f} s "
            f"| {after_large:.2f} s |",
            flush=True,
        )


if __name__ == "__main__":
    main()
