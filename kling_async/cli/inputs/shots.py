"""The multi-shot script of ``--multi-prompt``: a JSON list of ``{"prompt", "duration"}``
objects, or one shot a line, ``<seconds> <prompt>``."""

from __future__ import annotations

import json
from pathlib import Path

from ...errors import ValidationError
from ...models import Shot


def read_shots(path: Path) -> tuple[Shot, ...]:
    """A multi-shot script: a JSON list of ``{"prompt", "duration"}`` objects, or a text file
    with one shot a line, ``<seconds> <prompt>`` (blank lines and ``#`` comments skipped)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise ValidationError("multi_prompt", str(path), f"not valid JSON: {exc}") from None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ValidationError(
                "multi_prompt", str(path), 'must be a JSON list of {"prompt", "duration"}'
            )
        return tuple(Shot(i.get("prompt"), i.get("duration")) for i in items)
    shots = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            shots.append(shot_of(line, f"multi_prompt ({path.name}:{number})"))
    return tuple(shots)


def shot_of(text: str, field: str) -> Shot:
    """One shot written ``<seconds> <prompt>`` (a line of a shot file, a part of a manifest
    cell); raises ``ValidationError`` naming ``field``."""
    seconds, _, prompt = text.strip().partition(" ")
    if not seconds.isdigit() or not prompt.strip():
        raise ValidationError(
            field, text, "each shot is '<seconds> <prompt>', e.g. '3 a wide shot of the harbour'"
        )
    return Shot(prompt.strip(), int(seconds))
