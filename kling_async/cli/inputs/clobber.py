"""Files in the output folder that no run there made, in the way of a video's name:
``--overwrite`` removes them, ``--no-clobber`` leaves their inputs out, and by default the new
video takes another name (the batch's own ``-<id>`` rule)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import click

from ...errors import ValidationError
from ...validation import validate
from .._journal_view import recorded_outputs
from .jobs import Input


async def foreign_files(
    unique: list[Input],
    names: dict[int, str | None],
    identities: dict[int, str],
    out_dir: Path,
    journal: Path,
) -> list[tuple[Input, Path]]:
    """Inputs new to the journal whose video's name is taken by a file no run in this folder
    made (``--overwrite``/``--no-clobber`` decide what to do with them)."""
    recorded = await asyncio.to_thread(recorded_outputs, journal)
    ours = {output for output in recorded.values() if output is not None}
    found = []
    for item in unique:
        name = names.get(id(item.job))
        if name is None or identities.get(id(item.job)) in recorded:
            continue  # a URL image (the batch names it), or a job whose name is fixed already
        path = out_dir / f"{name}.mp4"
        if f"{name}.mp4" not in ours and await asyncio.to_thread(os.path.lexists, path):
            found.append((item, path))
    return found


async def no_clobber(
    unique: list[Input],
    twins: dict[int, list[Input]],
    names: dict[int, str | None],
    identities: dict[int, str],
    out_dir: Path,
    journal: Path,
) -> tuple[list[Input], dict[int, list[Input]], list[tuple[str, Input, Path]]]:
    """``--no-clobber``: leave out each input whose name a foreign file has; a twin of one
    takes its place (under its own name, checked the same way)."""
    kept: list[tuple[str, Input, Path]] = []
    for _ in range(len(unique) + sum(len(t) for t in twins.values())):
        foreign = await foreign_files(unique, names, identities, out_dir, journal)
        if not foreign:
            break
        for item, path in foreign:
            kept.append((names[id(item.job)] or item.source, item, path))
            unique.remove(item)
            rest = twins.pop(id(item.job), [])
            if rest:
                unique.append(rest[0])
                if rest[1:]:
                    twins[id(rest[0].job)] = rest[1:]
    return unique, twins, kept


async def overwrite(foreign: list[tuple[Input, Path]], allow_unknown: bool, api: str) -> None:
    """``--overwrite``: remove the files in the way of valid jobs (an invalid job, which will
    make nothing, leaves its file alone)."""
    for item, path in foreign:
        try:
            await validate(item.job, allow_unknown_models=allow_unknown, api=api)
        except ValidationError:
            continue
        await asyncio.to_thread(_remove, path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        raise click.UsageError(f"--overwrite: {path} is a folder; move it away to use its name")
    path.unlink(missing_ok=True)
