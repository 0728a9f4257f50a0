"""The vendor's own examples (``shared/vendor-examples`` beside the checkout): the spec the
golden tests hold the emulator and the SDK to. Missing examples fail those tests (never skip)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ENV = "KLING_VENDOR_EXAMPLES"


def examples_dir() -> Path:
    """``$KLING_VENDOR_EXAMPLES``, else the first ``shared/vendor-examples`` found beside the
    checkout or above it (CI lays ``shared/`` beside the clone)."""
    given = os.environ.get(ENV)
    if given:
        return Path(given)
    for base in (ROOT, *ROOT.parents):
        candidate = base / "shared" / "vendor-examples"
        if candidate.is_dir():
            return candidate
    raise AssertionError(
        f"the vendor examples are not beside the checkout ({ROOT.parent}/shared/vendor-examples); "
        f"set {ENV} to their folder"
    )


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((examples_dir() / name).read_text())
    return data


def create_examples() -> list[str]:
    """Every create-task request example: a POST that makes a task (not a query or callback)."""
    names = []
    for path in sorted(examples_dir().glob("*.request.json")):
        data = json.loads(path.read_text())
        if data["method"] == "POST" and data["path"] != "/tasks" and "callback" not in data["path"]:
            names.append(path.name)
    return names
