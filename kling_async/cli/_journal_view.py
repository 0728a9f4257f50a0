"""What the journal of earlier runs says, read before a run starts: which jobs failed
(``--retry-failed``) and which files its runs made (``--overwrite``/``--no-clobber`` touch
only files that are not theirs).

Reads the journal read-only (``jobs(job_id, state, error, output)``) and never writes it; the
batch then runs the jobs as usual: a job whose task failed is created anew under its next
external id (the submitter moves a failed job to its next generation), so nothing that was
made is made twice.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from urllib.parse import quote

import click

from ..errors import JournalError


def failed_jobs(journal: Path) -> dict[str, str]:
    """Job id -> the error recorded, for every job the journal says failed. Blocking: call
    it in a worker thread. Raises ``click.UsageError`` when there is no journal yet and
    ``JournalError`` when it cannot be read."""
    if not journal.is_file():
        raise click.UsageError(
            f"--retry-failed: no journal at {journal}: nothing has run for this output folder "
            "yet (run without --retry-failed)"
        )
    try:
        uri = f"file:{quote(str(journal.resolve()))}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            rows = conn.execute(
                "SELECT job_id, COALESCE(error, '') FROM jobs WHERE state = 'failed'"
            ).fetchall()
    except sqlite3.Error as exc:
        raise JournalError(journal, f"cannot be read: {exc}") from None
    return {str(job_id): str(error) for job_id, error in rows}


def recorded_outputs(journal: Path) -> dict[str, str | None]:
    """Job id -> the file it owns (relative to the output folder), for every job of the
    journal; empty when there is no journal yet. Blocking: call it in a worker thread."""
    if not journal.is_file():
        return {}
    try:
        uri = f"file:{quote(str(journal.resolve()))}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            rows = conn.execute("SELECT job_id, output FROM jobs").fetchall()
    except sqlite3.Error as exc:
        raise JournalError(journal, f"cannot be read: {exc}") from None
    return {str(job_id): None if output is None else str(output) for job_id, output in rows}
