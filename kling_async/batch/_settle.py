"""Stage 3's end: a task ended (or its wait timed out). Its slot goes back the moment the
end is seen, the job store records the end, and the job goes on to the downloader or out
as failed. The poller's ``ends`` queue brings them, a round's ends at once."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import attrs

from ..errors import NotFoundError, NotSentError, TaskFailedError, TaskTimeoutError
from ..results import Task
from ..states import JobState, OutcomeStatus, Stage
from ..store import JobStore
from ._client import BatchClient
from ._downloader import Downloader
from ._poll_plan import PollPolicy
from ._poller import Ending, Poller, lost_task
from ._reporter import Reporter
from ._slots import Slots
from ._together import together
from ._work import Work


@attrs.define(eq=False)
class Settler:
    _client: BatchClient
    _slots: Slots
    _store: JobStore
    _reporter: Reporter
    _downloader: Downloader

    async def run(self, poller: Poller[Work]) -> None:
        """Settle what the poller saw end, until cancelled."""
        while True:
            endings = await poller.ends.get()
            # a round's ends together: their slots free at once, their writes share a commit
            await together(self._settle(ending, poller.policy) for ending in endings)

    @contextlib.asynccontextmanager
    async def _failing(self, work: Work) -> AsyncIterator[None]:
        """Whatever breaks inside is the job's failure (a cancellation goes on up)."""
        try:
            yield
        except Exception as exc:
            await self.fail(work, exc)

    async def _settle(self, ending: Ending[Work], policy: PollPolicy) -> None:
        work = ending.tracked.job
        async with self._failing(work):
            if ending.task is not None:
                await self.ended(work, ending.task)
                return
            # the task may still finish: the journal keeps it 'submitted' for a rerun
            error = TaskTimeoutError(ending.tracked.task_id, policy.task_timeout, work.task)
            error.add_note("run the batch again later: it picks the task up where it is")
            await self.fail(work, error)

    async def ended_before(self, work: Work, task_id: str) -> None:
        """An earlier run saw the job's task end: fetch its current URL, then settle it (its
        video is downloaded again, or on from its ``.part``)."""
        async with self._failing(work):
            try:
                task = await self._client.resource_for(work.kind).get(task_id, api=work.wire)
            except NotFoundError:
                # the server forgot the task and its video is not here: a failure, so that
                # the next run creates it again (as for any failed task)
                reason = (
                    "the task from an earlier run is gone from the server and its video is "
                    "not on disk; run again to create it anew"
                )
                task = lost_task(task_id, work.kind, reason)
            await self.ended(work, task)

    async def ended(self, work: Work, task: Task) -> None:
        """The job's task ended (seen by a poll, a callback, or on a rerun's look)."""
        # the slots are free the moment the end is seen
        await self._slots.of(work).release(count=self._slots.count(work))
        work.task = task
        work.timings = attrs.evolve(work.timings, ended=self._reporter.since_start())
        if task.succeeded:
            cash = task.cost  # billed in money: what it was charged, for max_cost and report
            paid = {"charged": float(cash.amount), "currency": cash.currency} if cash else {}
            # paid in cash and no units named (the new API's billing): none were taken
            units = 0.0 if cash is not None and task.units is None else task.units
            await self._store.update(work.job_id, JobState.FINISHED, units=units, **paid)
            self._reporter.move(work, Stage.DOWNLOADING)
            self._downloader.put(work)
        elif task.failed:
            await self._store.update(work.job_id, JobState.FAILED, error=task.status_message)
            self._reporter.report(work, OutcomeStatus.FAILED, error=TaskFailedError(task))
        else:  # ended in a state this SDK does not know: report, keep it for a rerun
            error = NotSentError(f"task ended as {task.raw_status!r}")
            self._reporter.report(work, OutcomeStatus.FAILED, error=error)

    async def fail(self, work: Work, exc: BaseException) -> None:
        """A step of a job that holds a slot failed: the slot goes back, the error is the
        job's outcome."""
        await self._slots.give_back(work)
        self._reporter.fail(work, exc)
