"""A batch job's create, reconcile and journal, in one place — the money path of the engine.

The journal gets the job's external id *before* the POST. What happens to the row after a
failure follows the one rule of ``money.nothing_created``: a failure that proves
nothing was created puts the job back to ``pending`` (a limit that may pass) or ``failed``;
every other failure leaves it ``submitting`` with its external id, and the next run looks the
task up by that id before it sends anything (``CreateUnconfirmedError``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from .. import _wire, money
from .._retry import RetryPolicy
from ..errors import (
    BalanceExhaustedError,
    ConcurrencyLimitError,
    CreateUnconfirmedError,
    RateLimitError,
)
from ..models import ImageToVideo, TextToVideo
from ..money import nothing_created
from ..results import Task
from ..store import JobRecord, JobStore
from ._identity import external_id_for

if TYPE_CHECKING:
    from ..resources._tasks import TaskResource
    from ..validation import Plan


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
    def __init__(self, journal: JobStore, retry: RetryPolicy) -> None:
        self.journal = journal
        self.retry = retry

    def first_id(self, attempt: Attempt) -> tuple[str, bool]:
        """The external id to use and whether a crashed run may already have created it."""
        record = attempt.record
        if record.state == "submitting" and record.external_task_id:
            attempt.generation = record.generation
            return record.external_task_id, True
        own = attempt.job.external_task_id
        if own is not None:  # the caller's id; if an earlier run used it, look it up first
            return own, record.external_task_id == own
        # a new create: the next generation once an earlier one failed; the same one after a
        # refusal that proved nothing was created (1302/1303/1102 put the job back to pending),
        # so that a lost journal re-derives every id that may hold a task
        failed_before = record.state == "failed" and record.external_task_id is not None
        attempt.generation = record.generation + (1 if failed_before else 0)
        return external_id_for(self.journal.salt, attempt.job_id, attempt.generation), False

    async def send(self, attempt: Attempt) -> Task:
        """The job's task: found by its external id (a crashed run created it) or created.

        A task found that had already failed is returned as it is (its job fails; the next
        run creates it anew under the next generation's id): within one run a job is never
        created twice.

        Raises: ``ConcurrencyLimitError``/``RateLimitError`` (nothing created, the row back to
        pending), ``BalanceExhaustedError`` (pending), another refusal (row ``failed``),
        ``CreateUnconfirmedError`` (row left ``submitting``), or whatever broke before the
        POST (row unchanged: nothing was sent)."""
        external_id, check_first = self.first_id(attempt)
        attempt.external_id = external_id
        if check_first:
            found = await money.reconcile(attempt.resource.find, external_id, attempt.plan.wire)
            if found is not None:
                return found
        return await self._create(attempt, external_id)

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
