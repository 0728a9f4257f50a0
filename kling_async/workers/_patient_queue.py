"""SAQ's Redis queue, waiting out a Redis outage: ``PatientQueue``.

SAQ 0.26.4 has no answer of its own to a Redis that goes away: ``Worker.process`` catches
the dequeue's connection error and dequeues again at once, but a job's ``update``,
``finish`` or ``retry`` that fails is lost (its run ends with the error, the record stays
``active`` until a sweep hands the job out again, and its second run reports it
``skipped``); the upkeep loops (sweep, abort, worker info) log a traceback per failure; and
the follower (``follow``) got the first error and stopped. Here every queue operation that
talks to Redis goes through the process's ``RedisOutage``: a failure to reach Redis is tried
again with back-off for up to its grace, so a restart or a blip is waited out where it
happens; past the grace the operation raises ``RedisOutageError``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from saq import Job
from saq.job import Status
from saq.queue.redis import RedisQueue
from saq.types import WorkerInfo

from ..store import RedisOutage

T = TypeVar("T")


class PatientQueue(RedisQueue):
    """A ``RedisQueue`` whose Redis operations wait out an outage (``outage``; set by
    ``make_queue``: until then each call is tried once, as SAQ's own)."""

    outage: RedisOutage | None = None

    async def _patiently(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        if self.outage is None:
            return await call()
        return await self.outage.call(call, what=f"queue: {what}")

    async def enqueue(self, job_or_func: str | Job, **kwargs: Any) -> Job | None:
        return await self._patiently(
            "enqueue", lambda: super(PatientQueue, self).enqueue(job_or_func, **kwargs)
        )

    async def dequeue(self, timeout: float = 0.0, poll_interval: float = 0.0) -> Job | None:
        return await self._patiently(
            "dequeue", lambda: super(PatientQueue, self).dequeue(timeout, poll_interval)
        )

    async def job(self, job_key: str) -> Job | None:
        return await self._patiently("job", lambda: super(PatientQueue, self).job(job_key))

    async def jobs(self, job_keys: Iterable[str]) -> list[Job | None]:
        keys = list(job_keys)
        return await self._patiently("jobs", lambda: super(PatientQueue, self).jobs(keys))

    async def update(self, job: Job, **kwargs: Any) -> None:
        await self._patiently("update", lambda: super(PatientQueue, self).update(job, **kwargs))

    async def retry(self, job: Job, error: str | None) -> None:
        await self._patiently("retry", lambda: super(PatientQueue, self).retry(job, error))

    async def finish(
        self,
        job: Job,
        status: Status,
        *,
        result: Any = None,
        error: str | None = None,
        **kwargs: Any,
    ) -> None:
        await self._patiently(
            "finish",
            lambda: super(PatientQueue, self).finish(
                job, status, result=result, error=error, **kwargs
            ),
        )

    async def abort(self, job: Job, error: str, ttl: float = 5) -> None:
        await self._patiently("abort", lambda: super(PatientQueue, self).abort(job, error, ttl))

    async def finish_abort(self, job: Job) -> None:
        await self._patiently("finish abort", lambda: super(PatientQueue, self).finish_abort(job))

    async def sweep(self, lock: int = 60, abort: float = 5.0) -> list[str]:
        return await self._patiently("sweep", lambda: super(PatientQueue, self).sweep(lock, abort))

    async def schedule(self, lock: int = 1) -> list[str]:
        return await self._patiently("schedule", lambda: super(PatientQueue, self).schedule(lock))

    async def write_worker_info(self, worker_id: str, info: WorkerInfo, ttl: int) -> None:
        await self._patiently(
            "worker info",
            lambda: super(PatientQueue, self).write_worker_info(worker_id, info, ttl),
        )


__all__ = ["PatientQueue"]
