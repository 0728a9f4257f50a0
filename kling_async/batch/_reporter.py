"""Where each job's one outcome goes out: the outcome queue, the summary, twins (the same
content twice in a batch: made once, reported twice), and the count of jobs per stage."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import attrs

from .._clock import Clock
from ..errors import CreateUnconfirmedError, KlingError
from ..states import FINAL_STAGE, OutcomeStatus, Stage
from ._outcome import BatchSummary, Outcome
from ._telemetry import NO_TELEMETRY, Telemetry
from ._work import Work

log = logging.getLogger("kling_async.batch")


class AllReported:
    """Said on the outcome queue when the last job was reported."""


ALL_REPORTED = AllReported()


class Reporter:
    def __init__(self, clock: Clock, telemetry: Telemetry = NO_TELEMETRY) -> None:
        self._clock = clock
        #: Where each job's span and the batch's metrics go (``_telemetry``).
        self.telemetry = telemetry
        #: How many jobs are in each stage right now (queued, submitting, running,
        #: downloading, done, failed, skipped, invalid). For progress displays. Its keys
        #: are ``Stage`` members, which a plain word (``"running"``) finds too.
        self.stages: Counter[str] = Counter()
        self.summary = BatchSummary()
        self.started_at = 0.0
        #: Jobs taken, and jobs reported (twins each count).
        self.accepted = 0
        self.reported = 0
        #: No more jobs will come (``BatchEngine.finish``).
        self.input_done = False
        #: The engine was closed: no more outcomes will come.
        self.stopped = False
        self._queue: asyncio.Queue[Outcome | BaseException | AllReported] = asyncio.Queue()
        #: Jobs of this run not yet reported, by identity, with their twins (same content).
        self._twins: dict[str, list[Work]] = {}

    def accept(self) -> None:
        self.accepted += 1
        self.stages[Stage.QUEUED] += 1

    def finish(self) -> None:
        self.input_done = True
        self._queue.put_nowait(ALL_REPORTED)

    def stop(self) -> None:
        self.stopped = True
        self.telemetry.stopped()
        self._queue.put_nowait(ALL_REPORTED)  # wakes a reader, who finds it stopped

    def crashed(self, error: BaseException) -> None:
        """The batch itself broke (a bug, or the input failed): the consumer hears of it."""
        self._queue.put_nowait(error)

    async def outcomes(self) -> AsyncIterator[Outcome]:
        """Outcomes in the order jobs end; ends once every job taken has its outcome and no
        more will come. Raises what broke the batch itself (a crash, a failed input)."""
        yielded = 0
        while True:
            if self.input_done and yielded >= self.accepted:
                return  # every job's outcome was handed out (not merely reported)
            if self.stopped:
                raise RuntimeError(
                    "the engine was closed before every job had an outcome; "
                    "the journal keeps them for the next run"
                )
            item = await self._queue.get()
            if isinstance(item, AllReported):
                continue
            if isinstance(item, BaseException):
                raise item
            yielded += 1
            yield item

    def since_start(self) -> float:
        return self._clock.monotonic() - self.started_at

    def take(self, work: Work) -> None:
        """The job's ``Work`` was made (its span begins)."""
        self.telemetry.taken(work)

    def move(self, work: Work, stage: Stage) -> None:
        old = work.stage
        self.stages[old] -= 1
        self.stages[stage] += 1
        work.stage = stage
        self.telemetry.moved(work, old, stage)

    def first_of_its_content(self, work: Work) -> bool:
        """True for the first job of its identity in this run; a later one (a twin) waits for
        the first one's outcome and is reported with it."""
        twins = self._twins.get(work.job_id)
        if twins is not None:
            twins.append(work)
            return False
        self._twins[work.job_id] = []
        return True

    def report(
        self,
        work: Work,
        status: OutcomeStatus,
        *,
        error: BaseException | None = None,
        path: Path | None = None,
    ) -> None:
        if work.reported:
            return
        work.reported = True
        outcome = Outcome(
            job=work.job,
            status=status,
            job_id=work.job_id,
            name=work.name,
            task=work.task,
            path=path,
            error=error,
            timings=attrs.evolve(work.timings, finished=self.since_start()),
        )
        self.summary.add(outcome)
        self.move(work, FINAL_STAGE[status])
        self.telemetry.ended(work, status, self.since_start() - work.timings.queued, error)
        self.reported += 1
        self._queue.put_nowait(outcome)
        for twin in self._twins.pop(work.job_id, []) if work.job_id else []:
            twin.task = work.task
            twin.timings = attrs.evolve(work.timings, queued=twin.timings.queued)
            self.report(twin, status, error=error, path=path)
        if self.input_done and self.reported >= self.accepted:
            self._queue.put_nowait(ALL_REPORTED)

    def fail(self, work: Work, exc: BaseException) -> None:
        """Any exception in a job's step: that job's outcome."""
        if isinstance(exc, CreateUnconfirmedError):
            exc.add_note("run the batch again: it looks the task up before creating anything")
        elif not isinstance(exc, KlingError):
            log.error("job %s: unexpected %r", work.name, exc, exc_info=exc)
        self.report(work, OutcomeStatus.FAILED, error=exc)
