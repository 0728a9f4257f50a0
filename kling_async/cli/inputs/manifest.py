"""Manifests: CSV (with a header) or JSON Lines, one row per job; each row becomes the
fields of a request, or a ``BadRow`` saying why not."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from ...errors import ValidationError
from .jobs import BadRow, camera

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
    "aspect_ratio": "aspect_ratio",
}


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
    if "image" not in fields and "image_tail" not in fields and "prompt" not in fields:
        raise ValidationError(
            "image", None, "every row needs an image, or a prompt for a text-to-video row"
        )
    return fields


def read_manifest(path: Path) -> Iterator[tuple[str, dict[str, Any]] | BadRow]:
    """Rows of a CSV (with a header) or JSON Lines manifest, as (where, fields) or BadRow.
    ``-`` reads standard input (JSON Lines if it starts with ``{``, else CSV; image paths
    relative to the current folder)."""
    if str(path) == "-":
        text = sys.stdin.read()
        jsonl = text.lstrip().startswith("{")
        yield from _manifest_rows(io.StringIO(text, newline=""), "stdin", Path.cwd(), jsonl)
        return
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson", ".json")
    with path.open(encoding="utf-8", newline=None if jsonl else "") as f:
        yield from _manifest_rows(f, path.name, path.parent, jsonl)


def _manifest_rows(
    f: TextIO, name: str, base: Path, jsonl: bool
) -> Iterator[tuple[str, dict[str, Any]] | BadRow]:
    if jsonl:
        for number, line in enumerate(f, 1):
            where = f"{name}:{number}"
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
    reader = csv.DictReader(f)
    header = reader.fieldnames or []
    if "image" not in header and "end_frame" not in header:
        yield BadRow(name, "a CSV manifest needs a header row with an 'image' column")
        return
    number = 1
    while True:
        number += 1
        where = f"{name}:{number}"
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
