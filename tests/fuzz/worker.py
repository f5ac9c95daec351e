"""One family under atheris (libFuzzer): ``python -m tests.fuzz.worker FAMILY [libFuzzer flags]``.

atheris.Fuzz() never returns (libFuzzer exits the process), so run.py starts this in a
subprocess per family and reads libFuzzer's report from its output.
"""

from __future__ import annotations

import importlib
import sys

import atheris  # type: ignore[import-untyped]


def main() -> None:
    family = sys.argv[1]
    # pinesh is instrumented for coverage; the standard library and IMAPClient are not
    # (instrumenting them slows every input several times over).
    with atheris.instrument_imports(include=["pinesh"]):
        module = importlib.import_module(f"tests.fuzz.fuzz_{family}")
    atheris.Setup([sys.argv[0], *sys.argv[2:]], module.TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
