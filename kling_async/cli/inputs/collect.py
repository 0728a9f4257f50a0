"""Every input of a run: the manifest's rows and the folders' images, each as a job or as a
bad row with its reason; and ``--retry-failed``'s choice among them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ...errors import ValidationError
from .._journal_view import failed_jobs
from .jobs import BadRow, Input, make_input
from .manifest import read_manifest
from .scan import scan


def collect(
    paths: tuple[Path, ...],
    manifest: Path | None,
    recursive: bool,
    defaults: dict[str, Any],
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    out_dir: Path | None = None,
) -> tuple[list[Input], list[BadRow], list[str]]:
    """Every input as a job, or as a bad row with its reason; and notes on what the folders
    held that is left out. Blocking (reads folders, the manifest, standard input)."""
    inputs: list[Input] = []
    bad: list[BadRow] = []
    rows: list[tuple[str, dict[str, Any], str] | BadRow] = []
    if manifest is not None:
        rows.extend(
            row if isinstance(row, BadRow) else (*row, "") for row in read_manifest(manifest)
        )
    images, notes = scan(list(paths), recursive, include, exclude, skip=out_dir)
    rows.extend((str(p), {"image": p}, folder) for p, folder in images)
    for row in rows:
        if isinstance(row, BadRow):
            bad.append(row)
            continue
        where, fields, folder = row
        try:
            inputs.append(make_input(where, defaults, fields, folder))
        except ValidationError as exc:
            bad.append(BadRow(where, str(exc)))
    return inputs, bad, notes


async def read_failed_jobs(journal: Path) -> dict[str, str]:
    """``--retry-failed``: job id -> error of every job the journal records as failed; a
    ``click.UsageError`` when there is no journal yet."""
    return await asyncio.to_thread(failed_jobs, journal)


def only_failed(
    unique: list[Input],
    twins: dict[int, list[Input]],
    identities: dict[int, str],
    failed: dict[str, str],
    notes: list[str],
) -> tuple[list[Input], dict[int, list[Input]]]:
    """``--retry-failed``: the inputs whose jobs are ``failed`` (``read_failed_jobs``) and
    their twins; a note says how many others are left alone."""
    keep = [item for item in unique if identities.get(id(item.job)) in failed]
    notes.append(
        f"{len(unique) - len(keep)} job(s) not recorded as failed, by --retry-failed "
        f"({len(keep)} failed one(s) run again)"
    )
    return keep, {id(i.job): twins[id(i.job)] for i in keep if id(i.job) in twins}
