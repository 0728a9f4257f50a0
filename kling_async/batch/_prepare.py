"""Stage 1, prepare: validate a job, find its identity and its name, claim it in the job
store, and say where it goes next (``Route``)."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from pathlib import Path

import aiofiles.os
import attrs

from ..errors import ValidationError
from ..image_requests import ImageGeneration
from ..money import GENERATED_PREFIX
from ..states import HAS_TASK, JobState, OutcomeStatus
from ..store import JobStore, inside
from ..validation import validate
from ._client import BatchClient
from ._identity import job_identities, job_name
from ._outcome import Timings
from ._reporter import Reporter
from ._work import Job, Work, empty_record, output_path

#: Jobs prepared at once (validated, identified, claimed in the journal). Claims made together
#: share a transaction; with 4 at a time the first wave of a C=1000 account took 1.25 s to
#: send (a claim's commit and thread hop each), against 0.16 s for a plain semaphore.
PREPARERS = 16


class Route(enum.Enum):
    """Where a prepared job goes next."""

    #: Nowhere: its outcome is out (invalid, done before) or it waits for its twin's.
    REPORTED = enum.auto()
    #: To the ready line: its create is to be sent.
    READY = enum.auto()
    #: An earlier run's task, still running: to the poller.
    TRACK = enum.auto()
    #: An earlier run's task that ended: fetch it again, then download its video.
    FETCH = enum.auto()


@attrs.define(eq=False)
class Preparer:
    _client: BatchClient
    _store: JobStore
    _reporter: Reporter
    _output_dir: Path
    _namer: Callable[[Job], str | None] | None
    #: External id -> the job it names (shared with the submitter; in memory only).
    _owners: dict[str, str] = attrs.Factory(dict)

    async def prepare(self, job: Job) -> tuple[Work, Route]:
        """The job's ``Work`` and its route; whatever breaks is the job's outcome (invalid
        before its identity is known, failed after)."""
        work = Work(
            job,
            "",
            job_name(job, OutcomeStatus.INVALID),
            empty_record(),
            Timings(queued=self._reporter.since_start()),
        )
        self._reporter.take(work)
        try:
            return work, await self._prepare(work)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # whatever broke: this job's outcome, not the batch's
            status = OutcomeStatus.FAILED if work.job_id else OutcomeStatus.INVALID
            if status is OutcomeStatus.INVALID and not isinstance(exc, ValidationError):
                exc = ValidationError("job", type(exc).__name__, f"cannot be prepared: {exc}")
            self._reporter.report(work, status, error=exc)
            return work, Route.REPORTED

    async def _prepare(self, work: Work) -> Route:
        job, client = work.job, self._client
        try:  # validation first: it reads only headers, and says best what is wrong
            work.plan = await validate(
                job, api=client.api, allow_unknown_models=client.allow_unknown_models
            )
            client.resource_for(work.kind).check_credentials(work.plan)
            work.job_id, before = await job_identities(job)
        except (ValidationError, OSError, ValueError) as exc:
            error = (
                exc
                if isinstance(exc, ValidationError)
                else ValidationError("image", str(exc), "cannot be read")
            )
            work.job_id = ""
            self._reporter.report(work, OutcomeStatus.INVALID, error=error)
            return Route.REPORTED
        if (  # a job recorded by a version that counted its callback URL keeps that id
            before is not None
            and not await self._store.has(work.job_id)
            and await self._store.has(before)
        ):
            work.job_id = before
        work.name = self._name(job, work.job_id)
        if not self._reporter.first_of_its_content(work):
            return Route.REPORTED  # the same content twice in one batch: done once
        # known: its record; new: claimed with a free name; an unusable recorded path
        # (outside the folder): a new name
        # an image job's output is a folder of its images: a name with no suffix
        suffix = "" if isinstance(job, ImageGeneration) else ".mp4"
        work.record = record = await self._store.get_or_claim(
            work.job_id, work.name, work.kind, suffix
        )
        state = record.state
        held = record.external_task_id if state in HAS_TASK else None
        if held and not held.startswith(GENERATED_PREFIX):  # (a derived id is its job's)
            self._owners[held] = work.job_id  # its task was made for this content
        own = job.external_task_id
        if own and own != held and self._owners.setdefault(own, work.job_id) != work.job_id:
            error = ValidationError(
                "external_task_id",
                own,
                f"is also the id of another job of the batch ({self._owners[own][:12]}, other "
                "content); each job needs its own",
            )
            self._reporter.report(work, OutcomeStatus.INVALID, error=error)
            return Route.REPORTED
        if state == JobState.DONE:
            path = output_path(self._output_dir, work)
            if await aiofiles.os.path.exists(path):
                self._reporter.report(work, OutcomeStatus.SKIPPED, path=path)
                return Route.REPORTED
        if state in HAS_TASK and record.task_id:
            return Route.TRACK if state == JobState.SUBMITTED else Route.FETCH
        return Route.READY

    def _name(self, job: Job, job_id: str) -> str:
        chosen = self._namer(job) if self._namer is not None else None
        if not chosen:
            return job_name(job, job_id)
        if not inside(self._output_dir, chosen) or chosen.endswith(("/", "\\")):
            raise ValidationError(
                "name", chosen, "must be a relative path inside the output folder"
            )
        return chosen
