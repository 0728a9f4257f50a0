"""The vendor's own examples (``shared/vendor-examples``), found beside the checkout.

``shared/`` sits next to the repository: ``<root>/../shared`` in a clone (CI), and next to the
main checkout when the tests run in a git worktree (``<root>/.git`` is then a file naming the
main checkout's ``.git``). ``KLING_VENDOR_EXAMPLES`` overrides both.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _candidates() -> list[Path]:
    found = [ROOT.parent / "shared" / "vendor-examples"]
    dot_git = ROOT / ".git"
    if dot_git.is_file():  # a worktree: "gitdir: <main>/.git/worktrees/<name>"
        text = dot_git.read_text().strip()
        if text.startswith("gitdir:"):
            git_dir = Path(text.removeprefix("gitdir:").strip())
            main = git_dir.parent.parent.parent  # .git/worktrees/<name> -> the main checkout
            found.append(main.parent / "shared" / "vendor-examples")
    return found


def examples_dir() -> Path:
    """The folder of the vendor's examples (AssertionError naming where it looked if none)."""
    given = os.environ.get("KLING_VENDOR_EXAMPLES")
    places = [Path(given)] if given else _candidates()
    for place in places:
        if (place / "INDEX.md").is_file():
            return place
    raise AssertionError(f"the vendor examples are not found; looked in {places}")


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((examples_dir() / name).read_text())
    return data


def create_examples() -> list[tuple[str, dict[str, Any]]]:
    """(file name, example) of every create-task request: a POST with a body to a create path
    (not ``POST /tasks``, the cursor list, nor the callback receiver's path)."""
    out = []
    for path in sorted(examples_dir().glob("*.request.json")):
        example = json.loads(path.read_text())
        if example["method"] != "POST" or example.get("body") is None:
            continue
        if example["path"] == "/tasks" or "callback" in example["path"]:
            continue
        out.append((path.name, example))
    return out


def response_examples(slug: str) -> list[tuple[str, dict[str, Any]]]:
    """(file name, example) of every response example whose name has ``slug``."""
    return [
        (path.name, json.loads(path.read_text()))
        for path in sorted(examples_dir().glob(f"*{slug}*.response.json"))
    ]


@functools.cache
def vendor_error_table() -> set[tuple[int, int]]:
    """(HTTP status, code) of every row of the vendor's error table."""
    rows = json.loads((examples_dir() / "error-codes.json").read_text())
    return {(row["http"], row["code"]) for row in rows}
