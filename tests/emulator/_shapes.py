"""Comparing an answer with a vendor response example, key for key (placeholders aside)."""

from __future__ import annotations

import re
from typing import Any

_CONDITION = re.compile(r"only (?:exists|appears)", re.IGNORECASE)
_CHARGE = re.compile(r"charge_type=(\w+)")


def _optional(notes: dict[str, str], path: str, ours: dict[str, Any]) -> set[str]:
    """Keys at ``path`` that the notes make conditional, and whose condition ``ours`` fails."""
    out = set()
    prefix = f"{path}." if path else ""
    for key, note in notes.items():
        if not key.startswith(prefix) or "." in key[len(prefix) :] or not _CONDITION.search(note):
            continue
        charge = _CHARGE.search(note)
        if charge is None or charge[1] != ours.get("charge_type"):
            out.add(key[len(prefix) :])
    return out


def _placeholder_ok(ours: Any, theirs: Any) -> bool:
    if theirs == "boolean" or isinstance(theirs, bool):
        return isinstance(ours, bool)
    if theirs == "int" or (isinstance(theirs, int) and not isinstance(theirs, bool)):
        return isinstance(ours, int) and not isinstance(ours, bool)
    return isinstance(ours, type(theirs))


def same_shape(ours: Any, theirs: Any, notes: dict[str, str], path: str = "") -> list[str]:
    """Differences between our answer and the vendor's example, as readable lines."""
    where = path or "$"
    if isinstance(theirs, dict):
        if not isinstance(ours, dict):
            return [f"{where}: {type(ours).__name__}, the example has an object"]
        optional = _optional(notes, path, ours)
        problems = []
        missing = set(theirs) - set(ours) - optional
        extra = set(ours) - set(theirs)
        if missing or extra:
            problems.append(f"{where}: missing {sorted(missing)}, extra {sorted(extra)}")
        for key in set(ours) & set(theirs):
            problems += same_shape(ours[key], theirs[key], notes, f"{path}.{key}".lstrip("."))
        return problems
    if isinstance(theirs, list):
        if not isinstance(ours, list):
            return [f"{where}: {type(ours).__name__}, the example has a list"]
        problems = []
        by_type = {item.get("type"): i for i, item in enumerate(theirs) if isinstance(item, dict)}
        for item in ours:
            i = by_type.get(item.get("type"), 0) if isinstance(item, dict) else 0
            problems += same_shape(item, theirs[i], notes, f"{path}[{i}]")
        return problems
    if not _placeholder_ok(ours, theirs):
        return [f"{where}: {ours!r} is not like the example's {theirs!r}"]
    return []
