"""Turning command-line input into jobs: image files and folders, manifests (CSV or JSON
Lines) with one row per image, and the flags that fill in what a row leaves out."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from ..errors import ValidationError
from ..models import CAMERA_PRESETS, CameraControl, ImageToVideo, Shot

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Manifest columns and the request field each fills.
COLUMNS = {
    "image": "image",
    "prompt": "prompt",
    "negative_prompt": "negative_prompt",
    "end_frame": "image_tail",
    "camera": "camera_control",
    "model": "model",
    "mode": "mode",
    "duration": "duration",
    "external_id": "external_task_id",
    "cfg_scale": "cfg_scale",
    "api": "api",
}
#: Models named in help texts: the live ones of Kling's 2026 map.
LIVE_MODELS = "kling-v2-6 (default), kling-v2-5-turbo, kling-v3, kling-3.0-turbo, kling-3.0"


@attrs.frozen
class BadRow:
    """An input that could not become a job: where it is and why."""

    source: str
    reason: str


def find_images(paths: list[Path], recursive: bool) -> Iterator[Path]:
    """Image files named directly, and those inside named folders, in a stable order."""
    for path in paths:
        if path.is_dir():
            found = path.rglob("*") if recursive else path.glob("*")
            yield from sorted(
                p for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
        else:
            yield path


def camera(value: str) -> CameraControl:
    """A camera preset name (``zoom_in``...) as a ``CameraControl``."""
    if value not in CAMERA_PRESETS:
        raise ValidationError(
            "camera", value, f"unknown preset; choose from {', '.join(CAMERA_PRESETS)}"
        )
    return CameraControl.preset(value)


def _fields_from_row(row: dict[str, Any], base: Path) -> dict[str, Any]:
    unknown = sorted(k for k in row if k not in COLUMNS and row[k] not in (None, ""))
    if unknown:
        raise ValidationError("columns", unknown, f"unknown; known: {', '.join(COLUMNS)}")
    fields: dict[str, Any] = {}
    for column, field in COLUMNS.items():
        value = row.get(column)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if isinstance(value, str) and "\x00" in value:
            raise ValidationError(column, value, "contains a NUL character")
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValidationError(column, value, "must be a string or a number")
        if column in ("image", "end_frame"):
            text = str(value).strip()
            is_url = text.startswith(("http://", "https://"))
            fields[field] = text if is_url else base / text
        elif column == "camera":
            fields[field] = camera(str(value).strip())
        elif column == "duration":
            try:
                fields[field] = int(str(value).strip())
            except ValueError:
                raise ValidationError(
                    "duration", value, "must be a whole number of seconds"
                ) from None
        elif column == "cfg_scale":
            try:
                fields[field] = float(value)
            except (TypeError, ValueError):
                raise ValidationError("cfg_scale", value, "must be a number from 0 to 1") from None
        else:
            fields[field] = str(value).strip()
    if "image" not in fields and "image_tail" not in fields:
        raise ValidationError("image", None, "every row needs an image (or an end_frame)")
    return fields


def read_manifest(path: Path) -> Iterator[tuple[str, dict[str, Any]] | BadRow]:
    """Rows of a CSV (with a header) or JSON Lines manifest, as (where, fields) or BadRow."""
    base = path.parent
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        with path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                where = f"{path.name}:{number}"
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    if not isinstance(row, dict):
                        raise ValueError("a row must be a JSON object")
                    yield where, _fields_from_row(row, base)
                except ValueError as exc:  # JSONDecodeError and ValidationError are ValueErrors
                    yield BadRow(where, str(exc))
                except RecursionError:
                    yield BadRow(where, "nested too deeply to be a manifest row")
        return
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        if "image" not in header and "end_frame" not in header:
            yield BadRow(path.name, "a CSV manifest needs a header row with an 'image' column")
            return
        number = 1
        while True:
            number += 1
            where = f"{path.name}:{number}"
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a cell over the csv module's size limit
                yield BadRow(where, f"not a CSV row: {exc}")
                continue
            if None in row:  # more cells than header columns
                yield BadRow(where, f"{len(row[None])} cell(s) more than the header has")
                continue
            try:
                yield where, _fields_from_row(dict(row), base)
            except ValueError as exc:
                yield BadRow(where, str(exc))


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
        if not line or line.startswith("#"):
            continue
        seconds, _, prompt = line.partition(" ")
        if not seconds.isdigit() or not prompt.strip():
            raise ValidationError(
                f"multi_prompt ({path.name}:{number})",
                line,
                "each line is '<seconds> <prompt>', e.g. '3 a wide shot of the harbour'",
            )
        shots.append(Shot(prompt.strip(), int(seconds)))
    return tuple(shots)


def build_job(defaults: dict[str, Any], fields: dict[str, Any]) -> ImageToVideo:
    """A job from the flags' defaults and a row's own values (the row wins)."""
    merged = {**defaults, **fields}
    try:
        return ImageToVideo(**merged)
    except (TypeError, ValueError) as exc:
        raise ValidationError("row", sorted(fields), str(exc)) from None
