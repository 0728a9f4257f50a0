"""Writing a run's HTML contact sheet (``html.page``) into its output folder: from the job
store's snapshot (state, task id, units, error, the video) and from what ``animate --html``
noted about its inputs, which the store does not keep: each job's source image (a small JPEG
thumbnail of it), model, mode and duration, and the inputs refused before any job was made.

Those notes live in ``OUT/.kling-thumbs/`` (``jobs.json`` and the thumbnails), beside the
videos, so ``report OUT --html`` shows them too; for a job no ``animate --html`` noted (an
older run, a worker's job) the page says "—". The page links everything relative to its own
folder: it works offline, from the folder."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import click
from PIL import Image, ImageOps

from ...states import COMMITTED, JobState
from ...store import JOURNAL_NAME, StoreSnapshot, inside, read_journal
from ..inputs import BadRow, Input
from .html import DOLLARS_PER_UNIT, Card, page

#: The page's default name in the output folder.
SHEET_NAME = "report.html"
#: Where ``animate --html`` keeps its notes and thumbnails, in the output folder.
NOTES_FOLDER = ".kling-thumbs"
_NOTES = "jobs.json"
#: Longest side of a thumbnail, in pixels.
_THUMB_SIDE = 320


def _thumbnail(image: Path, target: Path) -> bool:
    """A small JPEG of ``image`` at ``target``; False when Pillow cannot read it. Blocking."""
    try:
        with Image.open(image) as opened:
            opened.draft("RGB", (_THUMB_SIDE, _THUMB_SIDE))  # JPEG: decode at a lower scale
            small = ImageOps.exif_transpose(opened).convert("RGB")
        small.thumbnail((_THUMB_SIDE, _THUMB_SIDE))
        small.save(target, "JPEG", quality=80)
    except (OSError, ValueError, Image.DecompressionBombError):
        return False
    return True


def _read_notes(folder: Path) -> dict[str, Any]:
    """The notes, with only entries of the right shape kept (none when missing/unreadable)."""
    try:
        notes = json.loads((folder / NOTES_FOLDER / _NOTES).read_text("utf-8"))
    except (OSError, ValueError):
        notes = None
    notes = notes if isinstance(notes, dict) else {}
    jobs = notes.get("jobs")
    refused = notes.get("refused")
    return {
        "jobs": {
            str(k): v
            for k, v in (jobs.items() if isinstance(jobs, dict) else ())
            if isinstance(v, dict)
        },
        "refused": [
            r for r in (refused if isinstance(refused, list) else ()) if isinstance(r, dict)
        ],
    }


def _write_atomically(path: Path, text: str) -> None:
    part = path.with_name(path.name + ".part")
    part.write_text(text, "utf-8")
    os.replace(part, path)


def note_inputs(
    out_dir: Path, inputs: list[Input], names: dict[int, str | None], bad: list[BadRow]
) -> None:
    """Note each input's source, model, mode, duration and thumbnail under its job's name,
    and this run's refused inputs, in ``OUT/.kling-thumbs``. Blocking: run it in a thread."""
    folder = out_dir / NOTES_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    notes = _read_notes(out_dir)
    jobs: dict[str, Any] = notes["jobs"]
    for item in inputs:
        name = names.get(id(item.job))
        if name is None:
            continue
        job = item.job
        noted: dict[str, Any] = {
            "source": item.source,
            "model": job.model,
            "mode": job.mode,
            "duration": job.duration,
        }
        sent = getattr(job, "image", None)  # the prepared file: one Pillow always reads
        image = sent if isinstance(sent, Path) else item.original("image")
        if isinstance(image, Path):
            thumb = f"{hashlib.sha256(name.encode()).hexdigest()[:16]}.jpg"
            if _thumbnail(image, folder / thumb):
                noted["thumbnail"] = f"{NOTES_FOLDER}/{thumb}"
        jobs[name] = noted
    refused = [{"source": row.source, "reason": row.reason} for row in bad]
    text = json.dumps({"version": 1, "jobs": jobs, "refused": refused}, indent=1)
    _write_atomically(folder / _NOTES, text)


def _relative(folder: Path, relative: str | None, page_dir: Path) -> str | None:
    """``relative`` (under ``folder``) as a link from ``page_dir``, if that file is there."""
    if relative is None or not inside(folder, relative) or not (folder / relative).is_file():
        return None
    return Path(os.path.relpath(folder / relative, page_dir)).as_posix()


def cards(snapshot: StoreSnapshot, page_dir: Path) -> list[Card]:
    """A card per job of the snapshot, then one per input the last ``animate --html``
    refused. Blocking (reads the notes, looks for the files)."""
    notes = _read_notes(snapshot.folder)
    noted_jobs = notes["jobs"]
    shown = []
    for job in snapshot.jobs:
        noted = noted_jobs.get(job.name, {})
        billed = job.units is not None
        cost = job.cost if job.state in COMMITTED else None
        duration = noted.get("duration")
        shown.append(
            Card(
                name=job.name,
                state=job.state,
                source=noted.get("source"),
                model=noted.get("model"),
                mode=noted.get("mode"),
                duration=f"{duration} s" if duration is not None else None,
                units=job.units if billed else cost,
                units_estimated=not billed,
                task_id=job.task_id,
                error=job.error,
                video=_relative(snapshot.folder, job.output, page_dir)
                if job.state == JobState.DONE
                else None,
                thumbnail=_relative(snapshot.folder, noted.get("thumbnail"), page_dir),
            )
        )
    for row in notes["refused"]:
        source = str(row.get("source"))
        reason = str(row.get("reason"))
        name = Path(source).name or source
        shown.append(Card(name=name, state=JobState.INVALID, source=source, error=reason))
    return shown


def write_sheet(snapshot: StoreSnapshot, file: Path | None = None) -> Path:
    """Write the page (default ``OUT/report.html``) and return where. Blocking."""
    target = file if file is not None else snapshot.folder / SHEET_NAME
    shown = cards(snapshot, target.resolve().parent)
    units = snapshot.units_committed()
    when = time.strftime("%Y-%m-%d %H:%M:%S")
    meta = (
        f"{len(shown)} jobs · {units:g} units committed ≈ ${units * DOLLARS_PER_UNIT:,.2f} · "
        f"from {snapshot.source} · written {when}"
    )
    _write_atomically(target, page(f"kling-async run: {snapshot.folder}", meta, shown))
    return target


def _write_after_run(journal: Path) -> Path:
    return write_sheet(read_journal(journal))


@contextlib.asynccontextmanager
async def html_sheet(
    wanted: bool,
    out_dir: Path,
    journal: Path | None,
    inputs: list[Input],
    names: dict[int, str | None],
    bad: list[BadRow],
) -> AsyncIterator[None]:
    """``animate --html``: note the inputs, run the body, then write ``OUT/report.html`` —
    also when the run failed or was interrupted (a partial run is worth seeing)."""
    if not wanted:
        yield
        return
    await asyncio.to_thread(note_inputs, out_dir, inputs, names, bad)
    try:
        yield
    finally:
        path = journal or out_dir / JOURNAL_NAME
        try:
            written = await asyncio.to_thread(_write_after_run, path)
        except Exception as exc:  # the run's own outcome matters more than its page
            click.echo(f"--html: could not write the report: {exc}", err=True)
        else:
            click.echo(f"report    {written}", err=True)
