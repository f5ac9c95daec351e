"""The client's start, headless, up to its first index with rows: what it imported, how long.

    .venv/bin/python -m bench.first_index -p PINERC [-f FOLDER] [--config FILE]
        [--modules FILE] [--profile FILE] [--timeline]

Runs what `pinesh -p PINERC -f FOLDER` runs (cli.main's argument parsing, then the client's
start: the early open of the folder in a thread, then Textual), with the App headless on a
150x45 screen, and stops it as soon as the index shows the envelope under its cursor (the
first index with rows). Prints the seconds from this module's start to that moment, the
process's CPU time (all threads, from the interpreter's start) and the number of modules
loaded then; --modules writes their sorted names, --profile a cProfile of the
whole run (pstats format), --timeline when the early open of the folder (services.prewarm)
ran against the import of the UI (does it still overlap?). For the import tree, run it
under `python -X importtime` (the headless App writes nothing to stderr).
tests/ui/test_app.py runs it on a small local Maildir and checks what is not loaded by then.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

BEGAN = time.perf_counter()
LOADED: list[str] = []  # the modules loaded when the first index showed rows
EVENTS: list[tuple[float, str]] = []  # --timeline: (seconds since BEGAN, what)


def _mark(what: str) -> None:
    EVENTS.append((time.perf_counter() - BEGAN, what))


def _watch_early_open() -> None:
    """Mark when the early open runs and when the index takes its folder."""
    from pinesh.services import prewarm

    run, take = prewarm.EarlyFolder._run, prewarm.EarlyFolder.take

    def timed_run(self: prewarm.EarlyFolder) -> None:
        _mark("early open: starts (thread)")
        run(self)
        _mark("early open: done (thread)")

    def timed_take(self: prewarm.EarlyFolder) -> object:
        _mark("index: asks for the early folder")
        folder = take(self)
        _mark("index: has it")
        return folder

    prewarm.EarlyFolder._run = timed_run  # type: ignore[method-assign]
    prewarm.EarlyFolder.take = timed_take  # type: ignore[method-assign,assignment]


def _headless_run(app: object) -> None:
    """PineshApp.run, headless, ending at the first index with rows (the seconds on stdout)."""
    from textual.app import App

    from pinesh.ui.index_list import IndexList

    assert isinstance(app, App)
    shown: list[float] = []
    cpu: list[float] = []  # the process's CPU time (all threads): steadier on a busy machine

    def check() -> None:
        try:
            index = app.screen.query_one(IndexList)
        except Exception:
            return
        view = index.view
        if view is None or not view.count:
            return
        uids = view.order.uids
        if index.cursor < len(uids) and view.cached(uids[index.cursor]) is not None:
            shown.append(time.perf_counter())
            cpu.append(time.process_time())
            _mark("first index with rows")
            LOADED[:] = sorted(sys.modules)
            app.exit()

    def mounted() -> None:
        app.set_interval(0.002, check)

    app.call_later(mounted)
    App.run(app, headless=True, size=(150, 45))
    if not shown:
        raise SystemExit("the index never showed rows")
    print(
        f"first index after {shown[0] - BEGAN:.3f} s, {cpu[0]:.3f} s of CPU; "
        f"{len(LOADED)} modules loaded"
    )


def main() -> int:
    args = sys.argv[1:]
    modules_out = _option(args, "--modules")
    profile_out = _option(args, "--profile")
    # Replace PineshApp.run when pinesh.ui.app is imported, not before: importing it here
    # would move Textual's import ahead of the early open, which is what is measured.
    import importlib.machinery

    import pinesh.cli.main as cli

    class Hook:  # a meta path finder (not importlib.abc's: that import costs 35 ms)
        def find_spec(
            self, name: str, path: Sequence[str] | None, target: object = None
        ) -> ModuleSpec | None:
            if name == "pinesh.ui.app":
                sys.meta_path.remove(self)
                spec = importlib.machinery.PathFinder.find_spec(name, path)
                assert spec is not None and spec.loader is not None
                loader: Any = spec.loader
                exec_module = loader.exec_module

                def patched(module: ModuleType) -> None:
                    _mark("import pinesh.ui.app (Textual): begins")
                    exec_module(module)
                    _mark("import pinesh.ui.app (Textual): done")
                    module.PineshApp.run = _headless_run

                loader.exec_module = patched
                return spec
            return None

    sys.meta_path.insert(0, Hook())
    timeline = "--timeline" in args
    if timeline:
        args.remove("--timeline")
        _watch_early_open()
    if profile_out:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        code = cli.main(args)
        profiler.disable()
        profiler.dump_stats(profile_out)
    else:
        code = cli.main(args)
    for at, what in EVENTS if timeline else ():
        print(f"{at:7.3f} s  {what}")
    if modules_out:
        with open(modules_out, "w", encoding="utf-8") as file:
            file.write("\n".join(LOADED) + "\n")
    return code


def _option(args: list[str], name: str) -> str | None:
    if name in args:
        at = args.index(name)
        value = args[at + 1]
        del args[at : at + 2]
        return value
    return None


if __name__ == "__main__":
    raise SystemExit(main())
