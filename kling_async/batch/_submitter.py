"""Stage 2, submit: a batch job's create, reconcile and journal, and the one decision about
what a create that made no task means — the money path of the engine.

The journal gets the job's external id *before* the POST. ``Submitter.submit`` returns
``Created`` or ``Refused``, and a refusal says everything the engine acts on: its
``verdict`` (send again later, halt the batch, or fail the job), whether its units stay
``spent``, and the job's record as the store now has it. The rule behind it is
``money.nothing_created``: a failure that proves nothing was created puts the job back to
``pending`` (a limit that may pass) or ``failed``; every other failure leaves it
``submitting`` with its external id, and the next run looks the task up by that id before it
sends anything (``CreateUnconfirmedError``).
"""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import attrs

from .._byte_budget import ByteBudget
from .._retry import RetryPolicy
from .._wire import build
from ..errors import (
    AccountError,
    AuthenticationError,
    BalanceExhaustedError,
    ConcurrencyLimitError,
    CreateUnconfirmedError,
    ExternalIdTakenError,
    RateLimitError,
    ServerUnreachableError,
    ValidationError,
)
from ..money import GENERATED_PREFIX, nothing_created, reconcile
from ..resources import TaskResource
from ..results import Task
from ..states import JobState
from ..store import JobRecord, JobStore
from ..validation import AnyRequest, Plan
from ._identity import external_id_for, job_images
from ._memory import DEFAULT_BODY_BUDGET, image_bytes


@attrs.define(eq=False)
class Attempt:
    """What the submitter needs of a job, and what it learns while sending it."""

    job: AnyRequest
    job_id: str
    plan: Plan
    record: JobRecord
    resource: TaskResource[Any]
    #: The units counted against the budget for this create.
    cost: float = 0.0
    external_id: str | None = None
    generation: int = 0
    #: The store says ``submitting`` for it: its create went out, or may have.
    sent: bool = False


class Verdict(enum.Enum):
    """What becomes of a job whose create made no task (as far as is known)."""

    #: A limit (1302, 1303) refused it: nothing was created; it waits for a slot again.
    AGAIN = enum.auto()
    #: The credentials or the account were refused: no other create may go either.
    HALT = enum.auto()
    #: The job fails (its error says why; ``CreateUnconfirmedError``: the task may exist).
    FAILED = enum.auto()


@attrs.frozen
class Created:
    """The job's task: created now, or found by its external id."""

    task: Task


@attrs.frozen
class Refused:
    """No task for the job now: what to do, why, and what the store holds for it."""

    verdict: Verdict
    error: Exception
    #: The create may have made a task: its units stay counted against the budget.
    spent: bool
    #: The job's record as the store now has it.
    record: JobRecord


class Submitter:
    def __init__(
        self, journal: JobStore, retry: RetryPolicy, *, memory: int = DEFAULT_BODY_BUDGET
    ) -> None:
        self.journal = journal
        self.retry = retry
        #: Image bytes the creates on their way may hold (memory bounded by it, not by C).
        self.budget = ByteBudget(memory)
        #: External id -> the job (its content identity) whose task it names, as the
        #: preparer learns them from the journal's records and the jobs' own ids (in memory).
        self.owners: dict[str, str] = {}

    def first_id(self, attempt: Attempt) -> tuple[str, bool]:
        """The external id to use and whether a crashed run may already have created it."""
        record = attempt.record
        if record.state == JobState.SUBMITTING and record.external_task_id:
            attempt.generation = record.generation
            return record.external_task_id, True
        own = attempt.job.external_task_id
        if own is not None:  # the caller's id; if an earlier run used it, look it up first
            return own, record.external_task_id == own
        # a new create: the next generation once an earlier one failed; the same one after a
        # refusal that proved nothing was created (1302/1303/1102 put the job back to pending),
        # so that a lost journal re-derives every id that may hold a task
        failed_before = record.state == JobState.FAILED and record.external_task_id is not None
        attempt.generation = record.generation + (1 if failed_before else 0)
        return external_id_for(self.journal.salt, attempt.job_id, attempt.generation), False

    async def submit(self, attempt: Attempt) -> Created | Refused:
        """The job's task — found by its external id (a crashed run created it) or created —
        or the refusal, decided here once. A task found that had already failed is returned
        as it is (its job fails; the next run creates it anew under the next generation's
        id): within one run a job is never created twice."""
        try:
            return Created(await self._send(attempt))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return await self._refused(attempt, exc)

    async def send(self, attempt: Attempt) -> Task:
        """``submit`` for a caller that wants the task or the refusal's error raised."""
        result = await self.submit(attempt)
        if isinstance(result, Refused):
            raise result.error
        return result.task

    async def _send(self, attempt: Attempt) -> Task:
        external_id, check_first = self.first_id(attempt)
        attempt.external_id = external_id
        if check_first:
            found = await reconcile(attempt.resource.find, external_id, attempt.plan.wire)
            if found is not None:
                owner = self.owners.get(external_id, attempt.job_id)
                if owner == attempt.job_id and not external_id.startswith(GENERATED_PREFIX):
                    owner = await self.journal.task_owner(external_id) or owner
                if owner != attempt.job_id:  # another job's task: never this one's video
                    raise ValidationError(
                        "external_task_id",
                        external_id,
                        f"is used by another task (task {found.task_id}, created for job "
                        f"{owner[:12]}, other content); not taken for this job",
                    )
                return found
        job = attrs.evolve(attempt.job, external_task_id=external_id)
        async with self.budget.hold(image_bytes(job_images(job))):
            return await self._create(attempt, job, external_id)

    async def _create(self, attempt: Attempt, job: AnyRequest, external_id: str) -> Task:
        call = await build(job, attempt.plan)  # reads images: may fail, nothing sent
        await self.journal.update(
            attempt.job_id,
            JobState.SUBMITTING,
            external_task_id=external_id,
            attempts=attempt.record.attempts + 1,
            generation=attempt.generation,
            cost=attempt.cost,
        )
        attempt.sent = True
        try:
            return await attempt.resource.submit(call, policy=self.retry)
        except Exception as exc:
            if nothing_created(exc) or isinstance(
                exc, CreateUnconfirmedError | ExternalIdTakenError
            ):
                raise
            raise CreateUnconfirmedError(external_id, exc) from exc

    async def _refused(self, attempt: Attempt, exc: Exception) -> Refused:
        """The one decision: the verdict, the units, and the row the store keeps."""
        record = attempt.record
        if isinstance(exc, CreateUnconfirmedError):  # the row stays 'submitting'
            return Refused(Verdict.FAILED, exc, spent=True, record=record)
        if not attempt.sent:  # it broke before the POST: the row is as it was
            return Refused(Verdict.FAILED, exc, spent=False, record=record)
        limited = isinstance(exc, ConcurrencyLimitError | RateLimitError)
        # no connection to the API: nothing was sent, and nothing else would be either
        unreachable = isinstance(exc, ServerUnreachableError)
        halts = unreachable or isinstance(exc, AuthenticationError | AccountError)
        # nothing was made, and nothing of the job's own is wrong: it waits, pending, for a
        # rerun (or another worker) with credentials the server takes, or a topped-up pack
        pending = (
            limited or unreachable or isinstance(exc, BalanceExhaustedError | AuthenticationError)
        )
        try:
            if pending:
                await self.journal.update(attempt.job_id, JobState.PENDING)
            elif isinstance(exc, ExternalIdTakenError):  # the id is another task's, not ours
                await self.journal.update(
                    attempt.job_id, JobState.FAILED, error=str(exc), external_task_id=None
                )
            else:
                await self.journal.update(attempt.job_id, JobState.FAILED, error=str(exc))
        except Exception as error:  # the row still says 'submitting': a rerun looks it up
            error.__context__ = exc
            return Refused(Verdict.FAILED, error, spent=True, record=record)
        if pending:
            record = attrs.evolve(
                record,
                state=JobState.PENDING,
                external_task_id=attempt.external_id,
                generation=attempt.generation,
            )
        verdict = Verdict.AGAIN if limited else Verdict.HALT if halts else Verdict.FAILED
        return Refused(verdict, exc, spent=False, record=record)


def halt_reason(error: Exception) -> str:
    """Why a ``HALT`` refusal stops every other create of the batch."""
    message = getattr(error, "message", str(error))
    if isinstance(error, BalanceExhaustedError):
        return f"the resource pack is used up ({message})"
    if isinstance(error, ServerUnreachableError):
        return f"{error.base_url} could not be reached; nothing was sent ({message})"
    if isinstance(error, AuthenticationError):
        return f"the credentials were refused ({message})"
    return f"the account was refused ({message})"
