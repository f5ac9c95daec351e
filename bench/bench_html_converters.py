"""inscriptis (on lxml) against html2text: the timings behind docs/ui.md's choice.

    .venv/bin/pip install html2text   # for this comparison only: it is not a dependency
    .venv/bin/python -m bench.bench_html_converters [ROUNDS]

Each converter is given the markup as it came (no bound in front): 20 KB of an
unfinished tag, 512 KB of a data table. Import time is measured in a fresh interpreter
(`-X importtime`, the module's cumulative microseconds). Medians of ROUNDS (default 5);
results go to stdout as Markdown.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

INPUTS = {
    "20 KB of `<a x `": "<a x " * (20 * 1024 // 5),
    "512 KB of table": "<table>"
    + "<tr><td>Apples</td><td>3</td><td>1.20</td></tr>" * (512 * 1024 // 46)
    + "</table>",
}


def _inscriptis() -> Callable[[str], str]:
    from inscriptis import get_text

    return get_text  # type: ignore[no-any-return]


def _html2text() -> Callable[[str], str] | None:
    try:
        import html2text  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None

    def convert(markup: str) -> str:
        maker = html2text.HTML2Text()
        maker.body_width = 0
        return str(maker.handle(markup))

    return convert


def _median_seconds(convert: Callable[[str], str], markup: str, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        convert(markup)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _import_ms(module: str) -> str:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = re.search(rf"\|\s*(\d+)\s*\|\s*{re.escape(module)}\s*$", done.stderr, re.MULTILINE)
    return f"{int(found[1]) / 1000:.0f} ms" if found else "not installed"


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    converters = {"inscriptis": _inscriptis(), "html2text": _html2text()}
    print(f"Python {sys.version.split()[0]}; medians of {rounds}\n")
    print("| | " + " | ".join(converters) + " |")
    print("|---|" + "---|" * len(converters))
    for label, markup in INPUTS.items():
        cells = [
            "not installed"
            if convert is None
            else f"{_median_seconds(convert, markup, rounds):.3f} s"
            for convert in converters.values()
        ]
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
    print("| import | " + " | ".join(_import_ms(name) for name in converters) + " |")


if __name__ == "__main__":
    main()
