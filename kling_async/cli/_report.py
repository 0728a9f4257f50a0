"""``kling-async report DIR``: what the job store of an output folder says — counts per state,
failed jobs and why, units committed (and their price), money charged in cash, outputs,
external ids. The journal in the folder, or
with ``--redis URL`` the Redis store of the workers that wrote there: the same report from
either. Sends nothing, needs no credentials, and works while a run is using the folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..errors import JournalError
from ..states import GIVEN_UP, IN_PROGRESS, JobState
from ..store import JOURNAL_NAME, StoreSnapshot, inside, read_journal
from ._exits import EXIT_USAGE, fail
from ._format import charged_text, money_record, units_money_text
from .output.html_run import write_sheet


def _output(snapshot: StoreSnapshot, relative: str | None) -> Path | None:
    if relative is None or not inside(snapshot.folder, relative):
        return None
    return snapshot.folder / relative


def report_record(snapshot: StoreSnapshot) -> dict[str, Any]:
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
                "output": str(output)
                if output is not None and job.state == JobState.DONE
                else None,
                "output_exists": bool(output is not None and output.is_file()),
                "error": job.error,
                "units": job.units,
                "charged": job.charged,
                "currency": job.currency,
            }
        )
    return {
        "journal": snapshot.source,
        "in_use_by": snapshot.in_use_by,
        "jobs_total": len(snapshot.jobs),
        "counts": snapshot.counts(),
        "units_committed": snapshot.units_committed(),
        **money_record(snapshot.units_committed(), snapshot.spend().cash),
        "jobs": jobs,
    }


def _ids(task_id: str | None, external: str | None) -> str:
    parts = [f"task {task_id}" if task_id else "no task id yet"]
    if external:
        parts.append(f"external {external}")
    return ", ".join(parts)


def show_report(snapshot: StoreSnapshot) -> None:
    echo = click.echo
    echo(f"journal {snapshot.source}")
    if snapshot.in_use_by:
        echo(f"  in use by a run: {snapshot.in_use_by} (this report is a snapshot)")
    counts = snapshot.counts()
    total = len(snapshot.jobs)
    summary = ", ".join(f"{state} {n:,}" for state, n in counts.items()) or "none"
    echo(f"jobs: {total:,} — {summary}")
    echo(f"units committed: {units_money_text(snapshot.units_committed())}")
    cash = snapshot.spend().cash
    if cash:
        echo(f"charged in cash: {charged_text(cash)}")
    groups = (
        (str(JobState.FAILED), GIVEN_UP),
        ("in progress", IN_PROGRESS),
        (str(JobState.DONE), frozenset({JobState.DONE})),
    )
    for title, states in groups:
        jobs = [job for job in snapshot.jobs if job.state in states]
        if not jobs:
            continue
        echo(f"{title}:")
        for job in jobs:
            ids = _ids(job.task_id, job.external_task_id)
            if job.state == JobState.DONE:
                output = _output(snapshot, job.output)
                where = str(output) if output is not None else "(no file recorded)"
                missing = "" if output is not None and output.is_file() else "  [file missing]"
                echo(f"  {job.name} -> {where} ({ids}){missing}")
            elif job.state in GIVEN_UP:
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
@click.option(
    "--redis",
    "redis_url",
    default=None,
    help="Read the Redis job store of the workers that wrote FOLDER (`animate --redis`, "
    "`kling-async worker --out FOLDER`) instead of a journal.",
)
@click.option(
    "--namespace",
    default="default",
    show_default=True,
    help="With --redis: the workers' queue and store name.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--html",
    "html_file",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[FILE]",
    type=click.Path(dir_okay=False),
    help="Also write a page of the run (each job's image, video, state, model, units, "
    "error; opens offline from the folder): FILE, or FOLDER/report.html.",
)
def report_command(
    folder: Path,
    journal: Path | None,
    redis_url: str | None,
    namespace: str,
    as_json: bool,
    html_file: str | None,
) -> None:
    """Show what the job store of an output folder says: jobs per state, each failed job
    with its reason, units committed, the videos written and every job's task and external
    ids. The journal in FOLDER, or with --redis the workers' store on Redis.

    Reads read-only: sends nothing, needs no credentials, and works while a run is using
    the folder. FOLDER may also be the journal file itself.

    \b
    Examples:
      kling-async report videos
      kling-async report videos --json | jq '.jobs[] | select(.state == "failed")'
      kling-async report /mnt/shared/videos --redis redis://queue-host:6379/0
    """
    if redis_url is not None:
        if journal is not None:
            raise click.UsageError("--journal and --redis: give one store to read")
        snapshot = _redis_snapshot(redis_url, folder, namespace)
    else:
        path = journal or (folder if folder.is_file() else folder / JOURNAL_NAME)
        try:
            snapshot = read_journal(path)
        except JournalError as exc:
            fail(
                str(exc),
                f"`kling-async animate ... --out {folder}` writes the journal there (a run "
                "on workers keeps its jobs on Redis: add --redis URL)",
                EXIT_USAGE,
            )
    if html_file is not None:
        written = write_sheet(snapshot, Path(html_file) if html_file else None)
        click.echo(f"report {written}", err=True)
    if as_json:
        click.echo(json.dumps(report_record(snapshot)))
    else:
        show_report(snapshot)


def _redis_snapshot(url: str, folder: Path, namespace: str) -> StoreSnapshot:
    try:
        from .. import store

        return store.read_redis(url, folder, namespace=namespace)
    except ImportError:
        raise click.UsageError(
            "--redis needs the 'workers' extra (redis): pip install 'kling-async[workers]'"
        ) from None
    except JournalError as exc:
        fail(
            str(exc),
            f"`kling-async worker --redis URL --namespace {namespace}` writes the store there",
            EXIT_USAGE,
        )
