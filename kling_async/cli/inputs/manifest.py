"""Manifests: CSV (with a header) or JSON Lines, one row per job; each row becomes the
fields of a request (read column by column, see ``columns``), or a ``BadRow`` saying why
not."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from .columns import BY_NAME, read_row
from .jobs import BadRow


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
                yield where, read_row(row, base)
            except ValueError as exc:  # JSONDecodeError and ValidationError are ValueErrors
                yield BadRow(where, str(exc))
            except RecursionError:
                yield BadRow(where, "nested too deeply to be a manifest row")
        return
    reader = csv.DictReader(f)
    header = reader.fieldnames or []
    if not any(column in BY_NAME for column in header):
        yield BadRow(
            name, "a CSV manifest needs a header row naming its columns (image, prompt...)"
        )
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
            yield where, read_row(dict(row), base)
        except ValueError as exc:
            yield BadRow(where, str(exc))
