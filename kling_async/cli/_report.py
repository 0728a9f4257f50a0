"""``kling-async report DIR``: what the journal in an output folder says — counts per state,
failed jobs and why, units committed, outputs, external ids. Sends nothing, needs no
credentials, and works while a run is using the folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..batch._journal import inside
from ..batch._journal_read import JournalSnapshot, read_journal
from ..errors import JournalError
from ._exits import EXIT_USAGE, fail
from ._format import units_text

JOURNAL_NAME = ".kling-journal.db"


def _output(snapshot: JournalSnapshot, relative: str | None) -> Path | None:
    if relative is None or not inside(snapshot.folder, relative):
        return None
    return snapshot.folder / relative


def report_record(snapshot: JournalSnapshot) -> dict[str, Any]:
    jobs = []
    for job in snapshot.jobs:
        output = _output(snapshot, job.output)
        jobs.append(
            {
                "name": job.name,
                "kind": job.kind,
                "state": job.state,
                "task_id": job.task_id,
                "external_task_id": job.external_task_id,
                "output": str(output) if output is not None and job.state == "done" else None,
                "output_exists": bool(output is not None and output.is_file()),
                "error": job.error,
                "units": job.units,
            }
        )
    return {
        "journal": str(snapshot.path),
        "in_use_by": snapshot.in_use_by,
        "jobs_total": len(snapshot.jobs),
        "counts": snapshot.counts(),
        "units_committed": snapshot.units_committed(),
        "jobs": jobs,
    }


def _ids(task_id: str | None, external: str | None) -> str:
    parts = [f"task {task_id}" if task_id else "no task id yet"]
    if external:
        parts.append(f"external {external}")
    return ", ".join(parts)


def show_report(snapshot: JournalSnapshot) -> None:
    echo = click.echo
    echo(f"journal {snapshot.path}")
    if snapshot.in_use_by:
        echo(f"  in use by a run: {snapshot.in_use_by} (this report is a snapshot)")
    counts = snapshot.counts()
    total = len(snapshot.jobs)
    summary = ", ".join(f"{state} {n:,}" for state, n in counts.items()) or "none"
    echo(f"jobs: {total:,} — {summary}")
    echo(f"units committed: {units_text(snapshot.units_committed())}")
    groups = (
        ("failed", ("failed", "invalid")),
        ("in progress", ("pending", "submitting", "submitted", "finished", "downloading")),
        ("done", ("done",)),
    )
    for title, states in groups:
        jobs = [job for job in snapshot.jobs if job.state in states]
        if not jobs:
            continue
        echo(f"{title}:")
        for job in jobs:
            ids = _ids(job.task_id, job.external_task_id)
            if job.state == "done":
                output = _output(snapshot, job.output)
                where = str(output) if output is not None else "(no file recorded)"
                missing = "" if output is not None and output.is_file() else "  [file missing]"
                echo(f"  {job.name} -> {where} ({ids}){missing}")
            elif job.state in ("failed", "invalid"):
                echo(f"  {job.name} {job.state} ({ids}): {job.error or 'no reason recorded'}")
            else:
                echo(f"  {job.name} {job.state} ({ids})")


@click.command("report")
@click.argument("folder", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--journal",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"The journal to read (default: FOLDER/{JOURNAL_NAME}).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def report_command(folder: Path, journal: Path | None, as_json: bool) -> None:
    """Show what the journal in an output folder says: jobs per state, each failed job with
    its reason, units committed, the videos written and every job's task and external ids.

    Reads the journal read-only: sends nothing, needs no credentials, and works while a run
    is using the folder. FOLDER may also be the journal file itself.

    \b
    Examples:
      kling-async report videos
      kling-async report videos --json | jq '.jobs[] | select(.state == "failed")'
    """
    path = journal or (folder if folder.is_file() else folder / JOURNAL_NAME)
    try:
        snapshot = read_journal(path)
    except JournalError as exc:
        fail(
            str(exc),
            f"`kling-async animate ... --out {folder}` writes the journal there",
            EXIT_USAGE,
        )
    if as_json:
        click.echo(json.dumps(report_record(snapshot)))
    else:
        show_report(snapshot)
