"""Putting jobs on the workers' queue, and following them to their outcomes.

A job's queue key is its identity (the content hash the engine and the store use): enqueueing
the same job again while it is queued or running adds nothing, and enqueueing it after it
ended hands it to a worker that finds it done (skipped) or failed before (created anew under
its next external id, as a rerun of a batch would).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import attrs
from saq import Job as QueueJob
from saq.job import TERMINAL_STATUSES, Status
from saq.queue.redis import RedisQueue

from ..batch import Outcome, OutcomeStatus, job_identity, job_name
from ..errors import ValidationError, WorkerJobError
from ..store import finished_at
from ..validation import validate
from ._payload import Job, dump_job
from ._result import outcome_of
from ._worker import FUNCTION

#: What ``enqueue`` takes: (source, job), or (source, job, output name) where the name is
#: the video's path relative to the shared folder without ``.mp4`` (sub-folders kept, as
#: ``BatchEngine(name=...)`` takes it); None or left out: the batch's own name.
Item = tuple[str, Job] | tuple[str, Job, str | None]

#: How long a finished queue job (and its result) is kept in Redis.
RESULT_TTL = 7 * 24 * 3600
#: How often a queue job is tried again at most (a job another worker holds, a create to
#: reconcile); a second apart.
RETRIES = 600
#: Seconds SAQ keeps a job's abort mark (``Queue.abort``'s ttl), and a little more.
_ABORT_KEY_TTL = 6.0
#: How often one job whose queue record ended without an outcome is enqueued again, and how
#: long (s) the follower keeps trying when the queue refuses to take it back.
_REQUEUES = 3
_REQUEUE_PATIENCE = 60.0
#: Seconds a queue job may stay ``aborting``: a sweep aborts a stuck job and at once retries
#: or finishes it, well within a second; one that stays longer was left there by a worker
#: that died mid-sweep (in no list, with no expiry) and is ended here, then enqueued again.
_ABORTING_PATIENCE = 10.0
#: Seconds without a sign of life after which a worker's queue job is handed to another.
_HEARTBEAT = 10


@attrs.define(eq=False)
class Enqueued:
    source: str
    job: Job
    job_id: str
    #: The name its outcome is reported under until a worker says (its output's, if given).
    name: str
    #: The output name asked for (relative, without ``.mp4``); None: the batch's own.
    output: str | None = None


async def enqueue(
    queue: RedisQueue,
    jobs: Iterable[Item],
    *,
    heartbeat: int = _HEARTBEAT,
    api: str = "auto",
    allow_unknown_models: bool = False,
) -> tuple[list[Enqueued], list[Outcome]]:
    """Validate and enqueue every job (idempotently: the queue key is the job's identity).
    Returns the jobs enqueued (or already queued) and the outcomes of the invalid ones
    (``invalid``, as a local batch reports them).

    ``heartbeat``: seconds without a sign of life after which a worker's queue job is handed
    to another worker (the one running it is taken for dead)."""
    done: list[Enqueued] = []
    bad: list[Outcome] = []
    seen: set[str] = set()
    for source, job, *named in jobs:
        output = named[0] if named else None
        try:
            await validate(job, api=api, allow_unknown_models=allow_unknown_models)
            job_id = await job_identity(job)
            payload = dump_job(job)
        except (ValidationError, OSError) as exc:
            error = (
                exc
                if isinstance(exc, ValidationError)
                else ValidationError("image", str(exc), "cannot be read")
            )
            invalid = OutcomeStatus.INVALID  # named as the engine names a job it refused
            bad.append(Outcome(job, invalid, "", job_name(job, invalid), error=error))
            continue
        done.append(Enqueued(source, job, job_id, output or job_name(job, job_id), output))
        if job_id in seen:
            continue  # the same content twice: one queue job, two outcomes
        seen.add(job_id)
        await _enqueue_one(queue, _queue_job(job_id, payload, output, heartbeat))
    return done, bad


def _queue_job(
    job_id: str, payload: dict[str, Any], output: str | None, heartbeat: int
) -> QueueJob:
    return QueueJob(
        function=FUNCTION,
        kwargs={"job": payload, "name": output},
        key=job_id,
        timeout=0,  # the engine's task_timeout bounds a job, not the queue
        heartbeat=heartbeat,
        retries=RETRIES,
        retry_delay=1.0,
        ttl=RESULT_TTL,
    )


async def _enqueue_one(queue: RedisQueue, job: QueueJob) -> None:
    """Enqueue ``job`` unless the same job is queued or running (then it is followed as it
    is). SAQ also refuses a key for 5 s after a sweep aborted it: a job that ended then is
    enqueued again once that passes, so that its old result is not taken for a new one."""
    deadline = time.monotonic() + _ABORT_KEY_TTL
    while await queue.enqueue(job) is None:
        existing = await queue.job(job.key)
        if existing is not None and existing.status not in TERMINAL_STATUSES:
            return  # queued or running now: the same job, followed as it is
        if time.monotonic() >= deadline:
            raise WorkerJobError(f"job {job.key[:12]} cannot be enqueued again yet; retry")
        await asyncio.sleep(0.25)


async def follow(
    queue: RedisQueue,
    jobs: list[Enqueued],
    out: Path,
    on_outcome: Callable[[Outcome, dict[str, Any]], Awaitable[None] | None],
    *,
    timeout: float | None = None,
    interval: float = 0.25,
    aborting_patience: float = _ABORTING_PATIENCE,
) -> bool:
    """Wait for every job's outcome, calling ``on_outcome`` as each ends (awaited when it
    returns an awaitable). False when
    ``timeout`` seconds passed first (the jobs go on in the workers).

    A queue record that ended without an outcome (a sweep racing a starved worker that was
    still alive: SAQ's late heartbeat or abort then writes over the record another worker
    finished), or was left ``aborting`` by a worker killed during its sweep (ended here after
    ``aborting_patience`` seconds), is enqueued again, up to ``_REQUEUES`` times: the worker
    that takes it finds the job done in the job store (skipped, its file named) or
    reconciles it by its external id; it never creates blindly. Only then, or when the queue
    keeps refusing it, is it reported failed. Such a job found done that the output folder's
    record of outputs says was finished since this call began (its first run's record was
    lost, e.g. by a Redis restarted without its data) is reported ``succeeded``, as made.
    """
    waiting: dict[str, list[Enqueued]] = {}
    for item in jobs:
        waiting.setdefault(item.job_id, []).append(item)
    requeued: dict[str, int] = {}
    refused_since: dict[str, float] = {}
    aborting_since: dict[str, float] = {}
    deadline = None if timeout is None else time.monotonic() + timeout
    started = time.monotonic()
    began = time.time()  # the workers' record of outputs says when a video was finished
    while waiting:
        keys = sorted(waiting)
        for key, found in zip(keys, await queue.jobs(keys), strict=True):
            if found is not None and found.status not in TERMINAL_STATUSES:
                if found.status is not Status.ABORTING:
                    aborting_since.pop(key, None)
                elif time.monotonic() - aborting_since.setdefault(key, time.monotonic()) > (
                    aborting_patience
                ):  # orphaned: end it, and the next round enqueues it again (below)
                    await queue.finish(found, Status.ABORTED, error=_ORPHANED)
                    aborting_since.pop(key)
                continue
            result = found.result if found is not None and isinstance(found.result, dict) else {}
            if not _ended_with_outcome(found, result) and requeued.get(key, 0) < _REQUEUES:
                heartbeat = found.heartbeat if found is not None else _HEARTBEAT
                first_item = waiting[key][0]
                again = _queue_job(key, dump_job(first_item.job), first_item.output, heartbeat)
                if await queue.enqueue(again) is not None:
                    requeued[key] = requeued.get(key, 0) + 1
                    refused_since.pop(key, None)
                    continue
                first = refused_since.setdefault(key, time.monotonic())
                if time.monotonic() - first < _REQUEUE_PATIENCE:
                    continue  # refused for now (an abort mark, a run still listed)
            status = found.status if found is not None else Status.ABORTED
            error = found.error if found is not None else "the queue job's record is gone"
            made = key in requeued and await _made_since(out, key, began, result)
            for item in waiting.pop(key):
                outcome = _outcome(item, status, error, result, out)
                if made and outcome.status is OutcomeStatus.SKIPPED:
                    outcome = attrs.evolve(outcome, status=OutcomeStatus.SUCCEEDED)
                shown = on_outcome(outcome, result)
                if shown is not None:
                    await shown
        if not waiting:
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        await asyncio.sleep(min(interval, max(0.05, (time.monotonic() - started) / 10)))
    return True


async def _made_since(out: Path, job_id: str, began: float, result: dict[str, Any]) -> bool:
    """Whether a job found done (``skipped``) had its video finished after ``began``."""
    if result.get("status") != OutcomeStatus.SKIPPED.value:
        return False
    finished = await asyncio.to_thread(finished_at, out, job_id)
    return finished is not None and finished >= began


#: Why the follower ended a queue job left ``aborting``.
_ORPHANED = "left aborting by a worker that stopped during the queue's sweep"


def _ended_with_outcome(found: QueueJob | None, result: dict[str, Any]) -> bool:
    """A queue record holding a run's outcome, or one that failed after every retry (a run
    that raised each time: the reason is its error)."""
    if found is None:
        return False
    if found.status is Status.FAILED:
        return True
    return found.status is Status.COMPLETE and result.get("status") in _OUTCOME_STATUSES


_OUTCOME_STATUSES = frozenset(s.value for s in OutcomeStatus)


def _outcome(
    item: Enqueued, status: Status, error: str | None, result: dict[str, Any], out: Path
) -> Outcome:
    if status is Status.COMPLETE and result.get("status") in _OUTCOME_STATUSES:
        return outcome_of(item.job, item.job_id, item.name, result, out)
    last = (error or status.value).strip().splitlines()[-1:] or [status.value]
    return Outcome(
        job=item.job,
        status=OutcomeStatus.FAILED,
        job_id=item.job_id,
        name=item.name,
        error=WorkerJobError(f"the queue job ended {status.value}: {last[0]}"),
    )
