"""A batch job's create, reconcile and journal, in one place — the money path of the engine.

The journal gets the job's external id *before* the POST. What happens to the row after a
failure follows the one rule of ``resources._create.nothing_created``: a failure that proves
nothing was created puts the job back to ``pending`` (a limit that may pass) or ``failed``;
every other failure leaves it ``submitting`` with its external id, and the next run looks the
task up by that id before it sends anything (``CreateUnconfirmedError``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from .. import _wire
from .._retry import RetryPolicy
from ..errors import (
    BalanceExhaustedError,
    ConcurrencyLimitError,
    CreateUnconfirmedError,
    RateLimitError,
)
from ..models import ImageToVideo, Task, TextToVideo
from ..resources._create import nothing_created
from ._identity import external_id_for
from ._journal import JobRecord, Journal

if TYPE_CHECKING:
    from ..resources._tasks import TaskResource
    from ..validation import Plan

#: How many times in a row a job may find an old *failed* task under its derived id (a run
#: whose journal was lost) before it gives up; each time it moves to the next generation.
MAX_GENERATIONS_PER_RUN = 8


@attrs.define(eq=False)
class Attempt:
    """What the submitter needs of a job, and what it learns while sending it."""

    job: ImageToVideo | TextToVideo
    job_id: str
    plan: Plan
    record: JobRecord
    resource: TaskResource[Any]
    #: The units counted against the budget for this create.
    cost: float = 0.0
    external_id: str | None = None
    generation: int = 0


class Submitter:
    def __init__(self, journal: Journal, retry: RetryPolicy) -> None:
        self.journal = journal
        self.retry = retry
        #: Lookups by external id before a send (a crashed run's create), and what they found.
        self.reconciled = 0
        self.adopted = 0

    def first_id(self, attempt: Attempt) -> tuple[str, bool]:
        """The external id to use and whether a crashed run may already have created it."""
        record = attempt.record
        if record.state == "submitting" and record.external_task_id:
            attempt.generation = record.generation
            return record.external_task_id, True
        own = attempt.job.external_task_id
        if own is not None:  # the caller's id; if an earlier run used it, look it up first
            return own, record.external_task_id == own
        # a new create: the next generation once an earlier one was sent (and failed)
        attempt.generation = record.generation + (1 if record.external_task_id else 0)
        return external_id_for(self.journal.salt, attempt.job_id, attempt.generation), False

    async def send(self, attempt: Attempt) -> Task:
        """The job's task: found by its external id (a crashed run created it) or created.

        Raises: ``ConcurrencyLimitError``/``RateLimitError`` (nothing created, the row back to
        pending), ``BalanceExhaustedError`` (pending), another refusal (row ``failed``),
        ``CreateUnconfirmedError`` (row left ``submitting``), or whatever broke before the
        POST (row unchanged: nothing was sent)."""
        external_id, check_first = self.first_id(attempt)
        for _ in range(MAX_GENERATIONS_PER_RUN):
            attempt.external_id = external_id
            if check_first:
                self.reconciled += 1
                found = await attempt.resource._reconcile(external_id, attempt.plan.wire)
                if found is not None and not found.failed:
                    self.adopted += 1
                    return found
                if found is not None:  # that create failed long ago: create anew
                    external_id = self._next_generation(attempt)
                    continue
            task = await self._create(attempt, external_id)
            if not task.failed:
                return task
            # an earlier run whose journal is lost had used this id, and its task failed
            external_id = self._next_generation(attempt)
            check_first = False
        raise CreateUnconfirmedError(
            external_id,
            RuntimeError(f"{MAX_GENERATIONS_PER_RUN} earlier tasks under this job's ids failed"),
        )

    def _next_generation(self, attempt: Attempt) -> str:
        """The next derived id (also after a caller's own id whose task failed)."""
        attempt.generation += 1
        return external_id_for(self.journal.salt, attempt.job_id, attempt.generation)

    async def _create(self, attempt: Attempt, external_id: str) -> Task:
        job = attrs.evolve(attempt.job, external_task_id=external_id)
        call = await _wire.build(job, attempt.plan)  # reads images: may fail, nothing sent
        await self.journal.update(
            attempt.job_id,
            "submitting",
            external_task_id=external_id,
            attempts=attempt.record.attempts + 1,
            generation=attempt.generation,
            cost=attempt.cost,
        )
        try:
            return await attempt.resource.submit(call, policy=self.retry)
        except Exception as exc:
            if not nothing_created(exc):
                if isinstance(exc, CreateUnconfirmedError):
                    raise
                raise CreateUnconfirmedError(external_id, exc) from exc
            if isinstance(exc, ConcurrencyLimitError | RateLimitError | BalanceExhaustedError):
                await self.journal.update(attempt.job_id, "pending")
            else:
                await self.journal.update(attempt.job_id, "failed", error=str(exc))
            raise
