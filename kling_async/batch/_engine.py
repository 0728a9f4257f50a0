"""The batch engine: jobs in, outcomes out, as fast as the account's limits allow.

This module is the dispatcher and the wiring. A job's way, stage by stage:

1. ``_prepare.Preparer`` (16 at once) validates it, finds its identity and name, claims it
   in the job store and gives its ``Route``: to the ready line (``_ready.ReadyLine``), or
   back to an earlier run's task.
2. The dispatcher takes a ready job when its family's window (``_slots.Slots``) has room
   and the budget (``_budget.Budget``) allows it, and sends it with
   ``_submitter.Submitter``, whose ``Created`` or ``Refused`` it only routes.
3. ``_poller.Poller`` watches every task in flight and puts their ends on its ``ends``
   queue; ``_settle.Settler`` frees each slot and records the end.
4. ``_downloader.Downloader`` fetches the videos. ``_reporter.Reporter`` hands out each
   job's one outcome.

Every task the engine starts belongs to one ``TaskGroup``; the job store records each step
before it is taken, so a rerun continues where a crash, kill or Ctrl-C stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, get_args

import attrs

from .._durations import duration_key
from ..errors import NotSentError, ValidationError
from ..governor import Window
from ..results import Task
from ..states import JobState, OutcomeStatus, Stage
from ..store import JobStore, Journal
from ._budget import Budget
from ._client import BatchClient
from ._downloader import Downloader
from ._options import BatchOptions
from ._outcome import BatchSummary, Outcome
from ._poller import Poller, Tracked
from ._prepare import PREPARERS, Preparer, Route
from ._ready import ReadyLine
from ._reporter import Reporter
from ._settle import Settler
from ._slots import Slots
from ._submitter import Attempt, Created, Submitter, Verdict, halt_reason
from ._telemetry import telemetry
from ._work import Job, Work

log = logging.getLogger("kling_async.batch")


class BatchEngine:
    """A long-lived engine: ``await engine.submit(job)`` as jobs arrive, ``async for outcome in
    engine.outcomes()`` as they finish; ``await engine.finish()`` says no more jobs will come;
    ``await engine.close()`` (or ``async with``) stops it. The first ``submit`` starts it.

    ``client.batch(jobs, output_dir=...)`` wraps it for a finite (or async) iterable. Options
    (``journal``, ``max_in_flight``, ``downloads``, ``max_units``...): see ``BatchOptions``;
    give them as keywords, or as ``options=BatchOptions(...)``.

    Every job gets exactly one outcome, whatever fails: an exception in any step of a job
    becomes that job's outcome. One run at a time per journal (``JournalLockedError``).
    """

    def __init__(
        self,
        client: BatchClient,
        output_dir: str | Path,
        options: BatchOptions | None = None,
        **changes: Any,
    ) -> None:
        if options is None or changes:  # keywords: over the options given, or the defaults
            options = attrs.evolve(options or BatchOptions(), **changes)
        opts = self.options = options
        self.client = client
        self._clock = client.clock
        self.output_dir = Path(output_dir)
        path = Path(opts.journal) if opts.journal else self.output_dir / ".kling-journal.db"
        #: The job store: this folder's SQLite journal unless one (e.g. shared) is given.
        self.journal: JobStore = (
            opts.store
            if opts.store is not None
            else Journal(path, folder=self.output_dir, hold=getattr(self._clock, "hold", None))
        )
        changed = asyncio.Condition()  # the ready line's and every window's
        self.slots = Slots(client, changed, initial=opts.initial_window, cap=opts.max_in_flight)
        #: The concurrency window of each model family, made on first use.
        self.windows: dict[str, Window] = self.slots.by_family
        self.line = ReadyLine(changed, self.slots)
        self.reporter = Reporter(self._clock, telemetry(opts.tracer_provider, opts.meter_provider))
        self.summary: BatchSummary = self.reporter.summary
        self.budget = Budget(opts.max_units, opts.unit_cost, opts.max_cost, self.summary.cash)
        self.poller: Poller[Work] = Poller(client, opts.poll, callbacks=opts.callbacks, demand=self)
        retry = attrs.evolve(client.retry, retry_concurrency_limit=False)
        self.submitter = Submitter(self.journal, retry, memory=opts.create_memory)
        self.preparer = Preparer(
            client, self.journal, self.reporter, self.output_dir, opts.name, self.submitter.owners
        )
        self.downloader = Downloader(client, self.journal, self.reporter, self.output_dir)
        self.settler = Settler(client, self.slots, self.journal, self.reporter, self.downloader)
        self._intake: asyncio.Queue[Job] = asyncio.Queue(maxsize=opts.prefetch)
        self._halt: str | None = None
        self._requests_at_start = 0
        self._running = False
        self._closed = False
        self._start_lock = asyncio.Lock()
        #: The one task the engine's own run in (its task group owns every other).
        self._supervisor: asyncio.Task[None] | None = None
        self._tasks: asyncio.TaskGroup | None = None
        self._stopped = asyncio.Event()

    @property
    def states(self) -> Counter[str]:
        """How many jobs are in each ``Stage`` right now (queued, submitting, running,
        downloading, done, failed, skipped, invalid). For progress displays."""
        return self.reporter.stages

    @property
    def running(self) -> bool:
        return self._running

    @property
    def in_flight(self) -> int:
        return self.slots.in_flight

    @property
    def concurrency_limited(self) -> int:
        """1303 answers seen, all families together."""
        return self.slots.limited

    # -- what the poller's budget reads (``_poller.Demand``) -----------------------------
    @property
    def backlog(self) -> bool:
        return bool(self.line) or not self.reporter.input_done

    @property
    def creating(self) -> bool:
        return self.reporter.stages[Stage.SUBMITTING] > 0

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> BatchEngine:
        """Lock and open the journal and start the workers (``async with`` or the first
        ``submit`` does it for you). Raises ``JournalLockedError`` when another run uses the
        same journal, ``JournalError`` when it cannot be used."""
        async with self._start_lock:
            if self._running:
                return self
            if self._closed:
                raise RuntimeError("this BatchEngine was closed; make a new one")
            await self.journal.open()
            try:
                await self.budget.load(self.journal)
            except BaseException:
                await self.journal.close()
                raise
            self._running = True
            self.reporter.started_at = self._clock.monotonic()
            self._requests_at_start = self.client.requests_sent
            started = asyncio.Event()
            self._supervisor = asyncio.create_task(self._run(started), name="kling-batch")
            await started.wait()
            return self

    async def _run(self, started: asyncio.Event) -> None:
        """The engine's workers, in one task group, until ``close`` cancels them."""
        crashed: Exception | None = None
        try:
            async with asyncio.TaskGroup() as tasks:
                self._tasks = tasks
                tasks.create_task(self.poller.run(), name="kling-batch-poller")
                tasks.create_task(self.settler.run(self.poller), name="kling-batch-ends")
                tasks.create_task(self._dispatch(), name="kling-batch-dispatcher")
                for i in range(PREPARERS):
                    tasks.create_task(self._prepare(), name=f"kling-batch-preparer-{i}")
                for i in range(self.options.downloads):
                    tasks.create_task(self.downloader.run(), name=f"kling-batch-downloader-{i}")
                started.set()
        except* Exception as failures:
            crashed = failures.exceptions[0]
        finally:
            self._tasks = None
            started.set()
        # A worker never ends on its own: each job's failure is that job's outcome. Should
        # one die all the same (a bug), the consumer hears of it instead of waiting forever.
        if crashed is not None:
            log.error("batch worker crashed: %r", crashed, exc_info=crashed)
            self.reporter.crashed(crashed)
        current = asyncio.current_task()
        if current is not None and current.cancelling():  # close() meanwhile: still so
            raise asyncio.CancelledError

    def spawn(self, step: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``step`` in the engine's task group: it ends (cancelled) when the engine does."""
        if self._tasks is None:
            step.close()
            raise RuntimeError("the engine is not running")
        self._tasks.create_task(step, name=name)

    async def close(self) -> None:
        """Stop at once: no new creates; running tasks stay recorded for the next run."""
        self._closed = True
        self.reporter.stop()  # a reader waiting for more outcomes hears of it
        if not self._running:
            if self._supervisor is None:  # never started
                self._stopped.set()
            return
        self._running = False
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.wait({self._supervisor})  # its crash, if any, was reported
        try:
            await self.slots.close()
            await self.journal.close()
        finally:
            self._stopped.set()

    async def wait_closed(self) -> None:
        """Until ``close()`` has finished (its workers ended, its slots and journal given
        back), whoever called it."""
        await self._stopped.wait()

    async def __aenter__(self) -> BatchEngine:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the public flow -------------------------------------------------------------
    async def submit(self, job: Job) -> None:
        """Queue one job; waits while the engine has enough on hand (back-pressure). Starts
        the engine if it is not running yet."""
        if self.reporter.input_done:
            raise RuntimeError("submit: finish() was already called")
        if not isinstance(job, Job):
            names = ", ".join(t.__name__ for t in get_args(Job))
            raise ValidationError("job", type(job).__name__, f"must be one of {names}")
        if not self._running:
            await self.start()
        self.reporter.accept()
        await self._intake.put(job)

    async def finish(self) -> None:
        """No more jobs will come; ``outcomes()`` ends once every queued job has one."""
        self.reporter.finish()

    async def outcomes(self) -> AsyncIterator[Outcome]:
        """Outcomes in the order jobs end. Ends after ``finish()`` once all are reported."""
        if not self._running and not self._closed:
            await self.start()
        async for outcome in self.reporter.outcomes():
            yield outcome

    async def notify(self, task: Task) -> bool:
        """Feed a task state received by callback (already verified); True if it ended one."""
        return await self.poller.notify(task)

    def finalize_summary(self) -> BatchSummary:
        """The summary with the run's time, requests and learned limits filled in."""
        s = self.summary
        s.elapsed = self.reporter.since_start()
        s.requests = self.client.requests_sent - self._requests_at_start
        s.rate_limited = self.client.pacer.stats.rate_limited
        s.concurrency_limited = self.concurrency_limited
        s.learned_limits = learned = self.slots.learned()
        s.learned_parallel_limit = max((n for n in learned.values() if n), default=None)
        s.halted = self._halt
        return s

    # -- stage 1: prepared jobs, routed ----------------------------------------------
    async def _prepare(self) -> None:
        while True:
            work, route = await self.preparer.prepare(await self._intake.get())
            if route is Route.READY:
                async with self.line.changed:
                    self.line.put(work)
                    self.line.changed.notify_all()
                await self.line.wait_for_room()
            elif route is not Route.REPORTED:  # an earlier run's task: follow it
                await self._resume(work, route)

    async def _resume(self, work: Work, route: Route) -> None:
        task_id = work.record.task_id or ""
        try:
            await self.slots.of(work).force_acquire(self.slots.count(work))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.reporter.fail(work, exc)
            return
        work.timings = attrs.evolve(work.timings, submitted=self.reporter.since_start())
        self.reporter.move(work, Stage.RUNNING)
        if route is Route.TRACK:
            self._track(work, task_id)
            return
        await self.settler.ended_before(work, task_id)

    # -- stage 2: dispatch -----------------------------------------------------------
    def _next_ready(self) -> Work | None:
        """The first ready job that may go now: its family's window has room (and the total
        stays under ``max_in_flight``), or the batch is halted (it is reported, not sent)."""
        line = self.line
        if not line:
            return None
        if self._halt is not None:
            return line.first()
        cap = self.slots.cap
        if cap is not None and self.in_flight >= cap:
            return None
        first = line.first()
        if self.slots.of(first).has_room(self.slots.count(first)):
            return first  # the common case: one family, or the first one's has room
        if line.families == 1:
            return None  # the only family waiting has no room
        return line.first_with_room()

    async def _dispatch(self) -> None:
        line = self.line
        while True:
            async with line.changed:
                await line.changed.wait_for(lambda: self._next_ready() is not None)
                work = self._next_ready()
                assert work is not None
                line.take(work)
                count = self.slots.count(work)
                if self._halt is None:
                    self.slots.of(work).take(count)
                line.changed.notify_all()
            if self._halt is not None:
                error = NotSentError(self._halt, kind="halted")
                self.reporter.report(work, OutcomeStatus.FAILED, error=error)
                continue
            try:
                refused = self.budget.charge(work, already=work.record.state == JobState.SUBMITTING)
            except Exception as exc:  # e.g. the user's unit_cost raised: this job's outcome
                await self.slots.of(work).answered(count)
                await self.settler.fail(work, exc)
                continue
            if refused is not None:  # its create will never be sent
                await self.slots.not_sent(work)
                self.reporter.report(work, OutcomeStatus.FAILED, error=refused)
            else:
                self.spawn(self._submit(work), f"kling-submit-{work.name}")

    async def _submit(self, work: Work) -> None:
        window, count = self.slots.of(work), self.slots.count(work)
        assert work.plan is not None
        self.reporter.move(work, Stage.SUBMITTING)
        resource = self.client.resource_for(work.kind)
        cost = work.charged or (work.record.cost or 0.0)
        attempt = Attempt(work.job, work.job_id, work.plan, work.record, resource, cost=cost)
        try:
            result = await self.submitter.submit(attempt)
        finally:
            await window.answered(count)
        if isinstance(result, Created):
            try:
                await self._created(work, result.task)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self.settler.fail(work, exc)
            return
        work.record = result.record
        if not result.spent:
            self.budget.uncharge(work)
        if result.verdict is Verdict.AGAIN:
            await window.over_limit(count)
            if (too_big := self.slots.refused_alone(work)) is not None:  # never fits: not again
                self.reporter.report(work, OutcomeStatus.FAILED, error=too_big)
                return
            async with self.line.changed:
                self.reporter.move(work, Stage.QUEUED)
                self.line.put(work, first=True)  # first in line for the next free slot
                self.line.changed.notify_all()
        elif result.verdict is Verdict.HALT:
            # the credentials or the account were refused: every other create would be too
            if self._halt is None:
                self._halt = halt_reason(result.error)
            self.reporter.report(work, OutcomeStatus.FAILED, error=result.error)  # the cause
            await window.release(completed=False, count=count)
        else:
            await self.settler.fail(work, result.error)

    async def _created(self, work: Work, task: Task) -> None:
        await self.slots.of(work).accepted()
        work.task = task
        work.fresh_output = True
        work.timings = attrs.evolve(work.timings, submitted=self.reporter.since_start())
        self.reporter.move(work, Stage.RUNNING)
        await self.journal.update(work.job_id, JobState.SUBMITTED, task_id=task.task_id)
        self._track(work, task.task_id)

    def _track(self, work: Work, task_id: str) -> None:
        started = self._clock.monotonic()
        key = duration_key(work.job, work.job.model)
        self.poller.track(Tracked(task_id, work.kind, key, started, work, work.wire))
