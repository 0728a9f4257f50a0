"""What the journal of earlier runs says, read before a run starts: which jobs failed
(``--retry-failed``) and which files its runs made (``--overwrite``/``--no-clobber`` touch
only files that are not theirs).

Reads the journal read-only (``kling_async.store``) and never writes it; the batch then runs
the jobs as usual: a job whose task failed is created anew under its next external id (the
submitter moves a failed job to its next generation), so nothing that was made is made twice.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..store import read_failed, recorded_outputs

__all__ = ["failed_jobs", "recorded_outputs"]


def failed_jobs(journal: Path) -> dict[str, str]:
    """Job id -> the error recorded, for every job the journal says failed. Blocking: call
    it in a worker thread. Raises ``click.UsageError`` when there is no journal yet and
    ``JournalError`` when it cannot be read."""
    failed = read_failed(journal)
    if failed is None:
        raise click.UsageError(
            f"--retry-failed: no journal at {journal}: nothing has run for this output folder "
            "yet (run without --retry-failed)"
        )
    return failed
