"""The house rules of the package, checked on its source (AST), so that a change that breaks
one fails here with the place named: no import cycle, no reach into another object's private
attributes, no module too big, every state word in ``states.py``, one backoff formula."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import kling_async

PACKAGE = Path(kling_async.__file__).parent
ROOT = PACKAGE.parent


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def _imported(name: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The package's modules an import statement of module ``name`` loads."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        if node.level:
            base = name.split(".")
            if MODULES[name].name != "__init__.py":
                base.pop()
            base = base[: len(base) - (node.level - 1)]
            prefix = ".".join([*base, *([node.module] if node.module else [])])
        else:
            prefix = node.module or ""
        targets = [f"{prefix}.{alias.name}" for alias in node.names] + [prefix]
    for target in targets:
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if target and target not in (name, "kling_async"):  # the root re-exports every room
            yield target
            # importing a.b.c runs a/__init__ and a/b/__init__ first (the root package aside)
            parts = target.split(".")
            for i in range(2, len(parts)):
                parent = ".".join(parts[:i])
                if parent in MODULES and not name.startswith(parent + "."):
                    yield parent


def _graph() -> dict[str, set[str]]:
    """Every import, at the top, under TYPE_CHECKING and inside functions alike."""
    return {
        name: {
            target
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for target in _imported(name, node)
        }
        for name, tree in TREES.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph) + 100))
    try:
        for v in sorted(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


#: Underscore attributes of objects that are not ours, each with its reason.
ALLOWED_REACHES: dict[str, str] = {}


def test_no_reach_into_another_objects_private_attributes() -> None:
    reaches = []
    for name, tree in TREES.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            attr = node.attr
            if not attr.startswith("_") or attr.startswith("__"):
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            where = f"{MODULES[name].relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}"
            if f"{name}:{ast.unparse(node)}" not in ALLOWED_REACHES:
                reaches.append(where)
    assert not reaches, "reaches into another object's privates:\n" + "\n".join(reaches)


def test_no_module_is_too_big() -> None:
    sizes = {name: path.read_text().count("\n") for name, path in MODULES.items()}
    big = {name: n for name, n in sizes.items() if n > 500}
    assert not big, f"modules over 500 lines: {big}"
    engine = [name for name in MODULES if name == "kling_async.batch._engine"]
    assert engine, "the batch engine's module moved: point this test at it"
    assert sizes[engine[0]] <= 400


def _state_words() -> set[str]:
    from kling_async import states

    return {
        member.value
        for value in vars(states).values()
        if isinstance(value, type) and issubclass(value, states.enum.StrEnum)
        for member in value
    }


#: Where a word that is also a state word means something else, with the reason.
OTHER_MEANINGS: dict[tuple[str, str], str] = {
    ("kling_async._prepare_pixels", "unknown"): "an image format nobody named",
    ("kling_async.cli._format", "unknown"): "a number the server did not give",
    ("kling_async.store._sqlite", "unknown"): "a journal lock holder that did not say who",
    ("kling_async.governor._redis_window", "pending"): (
        "a Redis key's name: slots whose create has no answer yet (renaming it would split "
        "the shared state between old and new processes during a rolling deploy)"
    ),
}


def test_state_words_are_written_only_in_states() -> None:
    words = _state_words()
    assert {"pending", "succeeded", "not_sent", "queued"} <= words
    found = []
    for name, tree in TREES.items():
        if name == "kling_async.states" or name.startswith("kling_async.emulator"):
            continue  # the emulator reads the vendor's pages on its own, words included
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and node.value in words
                and (name, node.value) not in OTHER_MEANINGS
            ):
                found.append(f"{MODULES[name].relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert not found, "state words outside states.py:\n" + "\n".join(found)


def test_one_backoff_formula() -> None:
    """Exponential growth (``x * 2 ** n``, ``x * 2.0 ** n``) is computed in ``_retry`` only."""
    found = []
    for name, tree in TREES.items():
        if name == "kling_async._retry" or name.startswith("kling_async.emulator"):
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Pow)
                and isinstance(node.left, ast.Constant)
                and node.left.value in (2, 2.0)
            ):
                found.append(f"{MODULES[name].relative_to(ROOT)}:{node.lineno}")
    assert not found, "exponential growth outside _retry: " + ", ".join(found)
