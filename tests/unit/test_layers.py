"""The layers import downward only, and no module imports itself back through others.

ui and cli -> services -> senders -> stores -> transport -> config (cli may start the ui);
the top-level helpers (paths, filelock, atomic_file, errors, textsafe) import no layer.
Read from the source with ast, so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pinesh

SOURCE = Path(pinesh.__file__).parent
RANK = {"config": 0, "transport": 1, "stores": 2, "senders": 3, "services": 4, "ui": 5, "cli": 6}
ENTRY_POINTS = {"__main__", "askpass_client"}  # programs, not layers: they may start any


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SOURCE.rglob("*.py")):
        parts = ("pinesh", *path.relative_to(SOURCE).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, ast.parse(path.read_text(), str(path))


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pinesh"):
        return [node.module]
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.startswith("pinesh")]
    return []


def _part(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def _module_level_imports(tree: ast.Module) -> list[str]:
    """What a module imports outside its functions, TYPE_CHECKING blocks included: two
    modules that need each other's types are one concept split in two."""
    found: list[str] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If):
            pending += node.body + node.orelse
        elif isinstance(node, ast.Try):
            pending += node.body + node.orelse + node.finalbody
            for handler in node.handlers:
                pending += handler.body
        found += _imported(node)
    return found


def test_every_import_goes_down_the_layers() -> None:
    upward = []
    for name, tree in _modules():
        here = _part(name)
        for node in ast.walk(tree):
            for target in _imported(node):
                there = _part(target)
                if here in ENTRY_POINTS or there not in RANK:
                    continue
                if here not in RANK or RANK[there] > RANK[here]:
                    upward.append(f"{name} imports {target}")
    assert upward == []


def test_no_two_modules_import_each_other() -> None:
    graph = {name: set(_module_level_imports(tree)) for name, tree in _modules()}
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph.get(name, ())):
            if target not in graph:
                continue
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []
