"""The queue's sweep: ``SweepQueue`` hands out again the jobs whose worker is gone, and only
those.

A worker takes a queue job in two steps: SAQ moves it onto the running list, then the worker
marks its record ``active``. SAQ's sweep (0.26.4) hands out again, at once, every job of the
running list whose record is not ``active`` (tobymao/saq#124, #277): a sweep between the two
steps took a job a live worker had just taken for a lost one. A loaded worker is slow between
them (its dequeue, a read and a write, waits behind its other jobs' queue calls), and the
four-worker test saw one job run three times so: one run made the video, the others found it
made (``skipped``), but a run that ended after the follower had taken the first one's outcome
wrote its record over the next run's, or was handed out once more (the record then holds no
outcome for a while). Here a job of the running list whose record is not ``active`` is swept
only once that record has stayed the same for the job's heartbeat (no worker marked it: the
one that took it died between the two steps); a running job whose heartbeat lapsed is swept
as SAQ sweeps it.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from saq import Job
from saq.job import Status

from ._patient_queue import PatientQueue

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

log = logging.getLogger("kling_async.workers")

#: Seconds a job of the running list may stay unmarked when it has no heartbeat of its own.
_UNMARKED_GRACE = 10.0

#: SAQ's sweep lock and look at the running list, except that it answers nil when another
#: sweep holds the lock (an empty list: it holds none). KEYS: sweep lock, running list.
_LOOK = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
redis.call('SETEX', KEYS[1], ARGV[1], 1)
local id_jobs = {}
for i, v in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  id_jobs[i] = {v, redis.call('GET', v)}
end
return id_jobs
"""


class SweepQueue(PatientQueue):
    """SAQ's Redis queue (waiting out an outage of Redis), whose sweep leaves alone a job a
    live worker has only just taken, and does not wait 5 s per stuck job for its (dead)
    worker to acknowledge the abort: the job store's lease keeps a job from running twice.

    ``sweep_lock``: SAQ lets one sweep a ``lock`` seconds happen on a queue (60 by default,
    whatever the workers' sweep period): a dead worker's jobs then waited up to a minute. The
    worker sets it to its sweep period."""

    sweep_lock: int = 60

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Jobs of the running list seen unmarked by this process's last sweep: job id ->
        #: (its record then, when it was first seen so).
        self._unmarked: dict[bytes, tuple[bytes, float]] = {}
        self._look: AsyncScript | None = None

    async def sweep(self, lock: int | None = None, abort: float = 0.05) -> list[str]:
        held = self.sweep_lock if lock is None else lock
        return await self._patiently("sweep", lambda: self._sweep_lost(held, abort))

    async def _sweep_lost(self, lock: int, abort: float) -> list[str]:
        if self._look is None:
            self._look = self.redis.register_script(_LOOK)
        id_jobs = await self._look(keys=[self._sweep, self._active], args=[lock], client=self.redis)
        if id_jobs is None:
            return []  # another worker's sweep holds the lock
        now = time.monotonic()
        unmarked: dict[bytes, tuple[bytes, float]] = {}
        swept: list[bytes] = []
        for job_id, job_bytes in id_jobs:
            job = self.deserialize(job_bytes)
            if job is None:  # its record is gone: off the lists (as SAQ does)
                swept.append(job_id)
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.lrem(self._active, 0, job_id)
                    pipe.zrem(self._incomplete, job_id)
                    await pipe.execute()
                continue
            if job.status is not Status.ACTIVE:
                seen = self._unmarked.get(job_id)
                since = seen[1] if seen is not None and seen[0] == job_bytes else now
                unmarked[job_id] = (job_bytes, since)
                if now - since < (job.heartbeat or _UNMARKED_GRACE):
                    continue  # just taken by a live worker, or not yet known to be lost
                unmarked.pop(job_id)
            elif not job.stuck:
                continue
            swept.append(job_id)
            await self._hand_out_again(job, abort)
        self._unmarked = unmarked
        return [job_id.decode() for job_id in swept]

    async def _hand_out_again(self, job: Job, abort: float) -> None:
        """SAQ's sweep of one job: aborted (its worker, if alive, stops it), then queued
        again (or ended ``aborted`` when it has no retry left)."""
        log.info("sweeping queue job %s (%s)", job.key[:12], job.status.value)
        error = self.swept_error_message
        await self.abort(job, error=error)
        try:
            await job.refresh(abort)
        except TimeoutError:
            log.info("queue job %s: its abort was not acknowledged yet", job.key[:12])
        if job.retryable:
            await self.retry(job, error=error)
        else:
            await self.finish(job, Status.ABORTED, error=error)


__all__ = ["SweepQueue"]
