"""``tests/`` mirrors the package, and a test reaches into the private modules of its own part
only: fewer than 10 imports of another part's private module, each with its reason in a
comment on its line (the issue "One place for each concern")."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
#: A folder of tests -> the part of the package it tests ("" for the top-level modules); None:
#: tests of the whole (campaigns, docs, the layout itself), free to look anywhere.
PARTS: dict[str, str | None] = {
    "sdk": "",
    "webhooks": "",
    "batch": "batch",
    "cli": "cli",
    "download": "download",
    "emulator": "emulator",
    "governor": "governor",
    "store": "store",
    "workers": "workers",
    "campaigns": None,
    "docs": None,
    "architecture": None,
}


def _reaches() -> list[tuple[str, int, str, bool]]:
    """(file, line, module, commented) of each import of another part's private module."""
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        inner = path.relative_to(TESTS).parts
        home = PARTS[inner[0]] if len(inner) > 1 else "shared helpers"
        if home is None:
            continue
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if parts[0] != "kling_async":
                    continue
                private = next((i for i, p in enumerate(parts) if p.startswith("_")), None)
                if private is None or ".".join(parts[1:private]) == home:
                    continue
                commented = "#" in lines[node.lineno - 1]
                found.append((str(path.relative_to(TESTS)), node.lineno, module, commented))
    return found


def test_every_folder_of_tests_is_a_part_of_the_package() -> None:
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert folders == set(PARTS)


def test_fewer_than_ten_reaches_into_another_parts_private_modules_each_with_its_reason() -> None:
    reaches = _reaches()
    assert len(reaches) < 10, "\n".join(f"{f}:{n} {m}" for f, n, m, _ in reaches)
    silent = [f"{f}:{n} {m}" for f, n, m, said in reaches if not said]
    assert not silent, "say why in a comment on the line:\n" + "\n".join(silent)
