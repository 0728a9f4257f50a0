"""The batch engine: jobs in, outcomes out, as fast as the account's limits allow.

Pipeline: a few *preparers* hash, look up and validate jobs (back-pressure: a small queue);
the *dispatcher* sends creates as the concurrency window has room; *one poller* watches every
task in flight; a bounded pool of *downloaders* fetches finished videos. The journal records
each step before it is taken, so a rerun continues where a crash, kill or Ctrl-C stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import Counter, deque
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiofiles.os
import attrs

from .. import _catalog
from ..errors import (
    AccountError,
    AuthenticationError,
    BalanceExhaustedError,
    ConcurrencyLimitError,
    CreateUnconfirmedError,
    KlingError,
    NotFoundError,
    NotSentError,
    RateLimitError,
    TaskFailedError,
    TaskTimeoutError,
    ValidationError,
)
from ..governor import Window
from ..models import ImageToVideo, TextToVideo
from ..resources._create import nothing_created
from ..resources._tasks import TaskResource
from ..results import Task
from ..states import OutcomeStatus
from ..validation import Plan, validate
from ._identity import job_identity, job_name
from ._journal import JobRecord, Journal, inside
from ._outcome import BatchSummary, Outcome, Timings
from ._poller import Poller, PollPolicy, Tracked, lost_task
from ._store import JobStore
from ._submitter import Attempt, Submitter

if TYPE_CHECKING:
    from ..client import KlingClient

log = logging.getLogger("kling_async.batch")
Job = ImageToVideo | TextToVideo
_DONE = object()


#: Jobs prepared at once (validated, identified, claimed in the journal). Claims made together
#: share a transaction; with 4 at a time the first wave of a C=1000 account took 1.25 s to
#: send (a claim's commit and thread hop each), against 0.16 s for a plain semaphore.
_PREPARERS = 16


def default_unit_cost(job: Job) -> float:
    """The units a job is expected to cost, from Kling's price table: per second of video, by
    model, resolution (mode), native audio and voices — e.g. kling-v2-6 pro with sound 10 s =
    10 units, kling-v3 4k 15 s = 45. A model the table does not list is counted at 1.2 units/s
    (3.0 in 4k), the dearest rate, so that a budget is never under-counted. Pass
    ``unit_cost`` to use your own prices."""
    family = _catalog.family_of(job.model)
    always = family == "3.0-turbo"
    sound = always or job.sound is True or bool(job.voices)
    return _catalog.units_for(
        job.model, job.mode, int(job.duration), sound=sound, voice=bool(job.voices)
    )


def estimate_units(jobs: Iterable[Job], unit_cost: Any = default_unit_cost) -> float:
    """Units a list of jobs is expected to cost if every one succeeds."""
    return float(sum(unit_cost(job) for job in jobs))


@attrs.define(eq=False)
class _Work:
    job: Job
    job_id: str
    name: str
    record: JobRecord
    queued: float
    #: How the job goes out (wire, model name there, family); None for an invalid job.
    plan: Plan | None = None
    submitted: float | None = None
    ended: float | None = None
    task: Task | None = None
    #: Units this run counted against ``max_units`` for it (given back if nothing was made).
    charged: float = 0.0
    #: Where the job is now, for progress displays (see ``BatchEngine.states``).
    state: str = "queued"
    #: True once its outcome is out (a job is reported exactly once).
    reported: bool = False
    #: Its task came from this run's create, and no download of it has started: no partial
    #: video can stand at its output (a name claimed free; a download follows only a task
    #: recorded finished, which a rerun downloads rather than creates again).
    fresh_output: bool = False


#: Engines closing after their iterator was abandoned (a reference, so none is collected).
_CLOSING: set[asyncio.Task[None]] = set()


class BatchEngine:
    """A long-lived engine: ``await engine.submit(job)`` as jobs arrive, ``async for outcome in
    engine.outcomes()`` as they finish; ``await engine.finish()`` says no more jobs will come;
    ``await engine.close()`` (or ``async with``) stops it. The first ``submit`` starts it.

    ``client.batch(jobs, output_dir=...)`` wraps it for a finite (or async) iterable.

    Every job gets exactly one outcome, whatever fails: an exception in any step of a job
    becomes that job's outcome. One run at a time per journal (``JournalLockedError``).
    """

    def __init__(
        self,
        client: KlingClient,
        output_dir: str | Path,
        *,
        journal: str | Path | None = None,
        max_in_flight: int | None = None,
        initial_window: int = 4,
        downloads: int = 4,
        max_units: float | None = None,
        unit_cost: Any = default_unit_cost,
        poll: PollPolicy | None = None,
        callbacks: bool = False,
        prefetch: int = 32,
        name: Callable[[Job], str | None] | None = None,
        store: JobStore | None = None,
    ) -> None:
        if downloads < 1:
            raise ValidationError("downloads", downloads, "must be at least 1")
        if max_in_flight is not None and max_in_flight < 1:
            raise ValidationError("max_in_flight", max_in_flight, "must be at least 1")
        if initial_window < 1:
            raise ValidationError("initial_window", initial_window, "must be at least 1")
        if max_units is not None and not max_units >= 0:
            raise ValidationError("max_units", max_units, "must be a number of units >= 0")
        if prefetch < 1:
            raise ValidationError("prefetch", prefetch, "must be at least 1")
        self.client = client
        self._clock = client.clock
        self.output_dir = Path(output_dir)
        journal_path = Path(journal) if journal else self.output_dir / ".kling-journal.db"
        #: The job store: this folder's SQLite journal unless one (e.g. shared) is given.
        self.journal: JobStore = (
            store
            if store is not None
            else Journal(
                journal_path, folder=self.output_dir, hold=getattr(self._clock, "hold", None)
            )
        )
        self._initial_window = initial_window
        self.max_in_flight = max_in_flight
        #: One concurrency window per model family (Kling counts the parallel-task limit per
        #: model version); all share the dispatcher's condition. The client's governor makes
        #: them: with ``RedisGovernor`` their slots are the account's, shared by all processes.
        self.windows: dict[str, Window] = {}
        self.poller = Poller(client, poll or PollPolicy(), callbacks=callbacks)
        self.poller.backlog = lambda: bool(self._ready) or not self._input_done
        self.poller.creating = lambda: self.states["submitting"] > 0
        #: The units the journal may commit in all, across runs (None: no limit).
        self.max_units = max_units
        self.unit_cost = unit_cost
        self.summary = BatchSummary()
        self._retry = attrs.evolve(client.retry, retry_concurrency_limit=False)
        self.submitter = Submitter(self.journal, self._retry)
        self._intake: asyncio.Queue[Job | object] = asyncio.Queue(maxsize=prefetch)
        self._ready: deque[_Work] = deque()
        #: How many ready jobs each family has (a full window of the only family waiting
        #: answers "none may go" without a look at every ready job).
        self._ready_families: Counter[str] = Counter()
        self._ready_changed = asyncio.Condition()  # also every window's condition
        #: Preparers waiting for room in the ready queue (see ``_wait_for_room``).
        self._room_waiters: deque[asyncio.Future[None]] = deque()
        self._downloads: asyncio.Queue[_Work] = asyncio.Queue()
        self._outcomes: asyncio.Queue[Outcome | object] = asyncio.Queue()
        self._download_workers = downloads
        #: The caller's name for a job's video (relative to the output folder, sub-folders
        #: allowed, without ``.mp4``); None or ``None`` returned: the image's file stem.
        self._namer = name
        self._workers: set[asyncio.Task[None]] = set()
        self._submits: set[asyncio.Task[None]] = set()
        self._accepted = 0
        self._reported = 0
        self._input_done = False
        self._started_at = 0.0
        #: Units committed: by earlier runs of this journal, and by this run's creates.
        self._committed_units = 0.0
        self._halt: str | None = None
        self._requests_at_start = 0
        self._running = False
        self._closed = False
        self._start_lock = asyncio.Lock()
        #: How many jobs are in each state right now: queued, submitting, running,
        #: downloading, done, failed, skipped, invalid. For progress displays.
        self.states: Counter[str] = Counter()
        #: Jobs of this run not yet reported, by identity, with their twins (same content).
        self._active: dict[str, list[_Work]] = {}

    def window_for(self, work: _Work) -> Window:
        """The concurrency window of the job's model family (made on first use)."""
        family = _family(work)
        window = self.windows.get(family)
        if window is None:
            window = self.windows[family] = self.client.governor.window(
                self.client.account_id,
                family,
                initial=self._initial_window,
                cap=self.max_in_flight,
                condition=self._ready_changed,
            )
        return window

    @property
    def in_flight(self) -> int:
        return sum(w.in_flight for w in self.windows.values())

    @property
    def concurrency_limited(self) -> int:
        """1303 answers seen, all families together."""
        return sum(w.limited for w in self.windows.values())

    def _move(self, work: _Work, state: str) -> None:
        self.states[work.state] -= 1
        self.states[state] += 1
        work.state = state

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
                self._committed_units = await self.journal.committed_units()
            except BaseException:
                await self.journal.close()
                raise
            self._running = True
            self._started_at = self._clock.monotonic()
            self._requests_at_start = self.client._transport.requests_sent
            self._spawn(self.poller.run(), "poller")
            self._spawn(self._dispatch(), "dispatcher")
            for i in range(_PREPARERS):
                self._spawn(self._prepare(), f"preparer-{i}")
            for i in range(self._download_workers):
                self._spawn(self._download(), f"downloader-{i}")
            return self

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=f"kling-batch-{name}")
        self._workers.add(task)
        task.add_done_callback(self._worker_ended)

    def _worker_ended(self, task: asyncio.Task[None]) -> None:
        self._workers.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        # A worker never ends on its own: each job's failure is that job's outcome. Should
        # one die all the same (a bug), the consumer hears of it instead of waiting forever.
        log.error("batch worker %s crashed: %r", task.get_name(), task.exception())
        self._outcomes.put_nowait(task.exception())

    async def close(self) -> None:
        """Stop at once: no new creates; running tasks stay recorded for the next run."""
        self._closed = True
        if not self._running:
            return
        self._running = False
        for task in [*self._workers, *self._submits]:
            task.cancel()
        await asyncio.gather(*self._workers, *self._submits, return_exceptions=True)
        for window in self.windows.values():
            await window.close()  # shared slots go back (the journal keeps the tasks)
        await self.journal.close()

    def abandon(self) -> None:
        """Stop creating now, from synchronous code (an iterator nobody reads any more):
        cancels the workers at once and closes the journal in the background."""
        if not self._running or self._halt == _ABANDONED:
            return
        self._halt = _ABANDONED
        for task in [*self._workers, *self._submits]:
            task.cancel()
        try:
            closing = asyncio.get_running_loop().create_task(self.close())
        except RuntimeError:  # no loop any more (interpreter exit): nothing left to run
            return
        _CLOSING.add(closing)
        closing.add_done_callback(_CLOSING.discard)

    async def __aenter__(self) -> BatchEngine:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the public flow -------------------------------------------------------------
    async def submit(self, job: Job) -> None:
        """Queue one job; waits while the engine has enough on hand (back-pressure). Starts
        the engine if it is not running yet."""
        if self._input_done:
            raise RuntimeError("submit: finish() was already called")
        if not isinstance(job, ImageToVideo | TextToVideo):
            raise ValidationError("job", type(job).__name__, "must be ImageToVideo or TextToVideo")
        if not self._running:
            await self.start()
        self._accepted += 1
        self.states["queued"] += 1
        await self._intake.put(job)

    async def finish(self) -> None:
        """No more jobs will come; ``outcomes()`` ends once every queued job has one."""
        self._input_done = True
        self._outcomes.put_nowait(_DONE)

    async def outcomes(self) -> AsyncIterator[Outcome]:
        """Outcomes in the order jobs end. Ends after ``finish()`` once all are reported."""
        if not self._running and not self._closed:
            await self.start()
        yielded = 0
        while True:
            if self._input_done and yielded >= self._accepted:
                return  # every job's outcome was handed out (not merely reported)
            if not self._running:
                raise RuntimeError(
                    "the engine was closed before every job had an outcome; "
                    "the journal keeps them for the next run"
                )
            item = await self._outcomes.get()
            if item is _DONE:
                continue
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, Outcome)
            yielded += 1
            yield item

    def _report(
        self,
        work: _Work,
        status: OutcomeStatus,
        *,
        error: BaseException | None = None,
        path: Path | None = None,
    ) -> None:
        if work.reported:
            return
        work.reported = True
        now = self._clock.monotonic() - self._started_at
        timings = Timings(
            queued=work.queued, submitted=work.submitted, ended=work.ended, finished=now
        )
        outcome = Outcome(
            job=work.job,
            status=status,
            job_id=work.job_id,
            name=work.name,
            task=work.task,
            path=path,
            error=error,
            timings=timings,
        )
        self.summary.add(outcome)
        self._move(work, _FINAL_STATE[status])
        self._reported += 1
        self._outcomes.put_nowait(outcome)
        for twin in self._active.pop(work.job_id, []) if work.job_id else []:
            twin.task, twin.submitted, twin.ended = work.task, work.submitted, work.ended
            self._report(twin, status, error=error, path=path)
        if self._input_done and self._reported >= self._accepted:
            self._outcomes.put_nowait(_DONE)

    async def _fail(self, work: _Work, exc: BaseException, *, holds_slot: bool) -> None:
        """Any exception in a job's step: that job's outcome (and its slot back)."""
        if holds_slot:
            with contextlib.suppress(Exception):
                await self.window_for(work).release(completed=False)
        if isinstance(exc, CreateUnconfirmedError):
            exc.add_note("run the batch again: it looks the task up before creating anything")
        elif not isinstance(exc, KlingError):
            log.error("job %s: unexpected %r", work.name, exc, exc_info=exc)
        self._report(work, OutcomeStatus.FAILED, error=exc)

    def finalize_summary(self) -> BatchSummary:
        """The summary with the run's time, requests and learned limits filled in."""
        s = self.summary
        s.elapsed = self._clock.monotonic() - self._started_at
        s.requests = self.client._transport.requests_sent - self._requests_at_start
        s.rate_limited = self.client.pacer.stats.rate_limited
        s.concurrency_limited = self.concurrency_limited
        s.learned_limits = {f: w.learned for f, w in sorted(self.windows.items())}
        learned = [w.learned for w in self.windows.values() if w.learned is not None]
        s.learned_parallel_limit = max(learned) if learned else None
        s.halted = self._halt
        return s

    # -- stage 1: prepare ------------------------------------------------------------
    async def _prepare(self) -> None:
        while True:
            job = await self._intake.get()
            assert isinstance(job, ImageToVideo | TextToVideo)
            queued = self._clock.monotonic() - self._started_at
            work = _Work(job, "", job_name(job, "invalid"), _empty_record(), queued)
            try:
                await self._prepare_one(work)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # whatever broke: this job's outcome, not the batch's
                # before its identity is known the job is unusable; after, it failed
                status = OutcomeStatus.FAILED if work.job_id else OutcomeStatus.INVALID
                if status is OutcomeStatus.INVALID and not isinstance(exc, ValidationError):
                    exc = ValidationError("job", type(exc).__name__, f"cannot be prepared: {exc}")
                self._report(work, status, error=exc)

    async def _prepare_one(self, work: _Work) -> None:
        job = work.job
        try:  # validation first: it reads only headers, and says best what is wrong
            work.plan = await validate(
                job, api=self.client.api, allow_unknown_models=self.client.allow_unknown_models
            )
            self._resource(job).check_credentials(work.plan)
            work.job_id = await job_identity(job)
        except (ValidationError, OSError, ValueError) as exc:
            error = (
                exc
                if isinstance(exc, ValidationError)
                else ValidationError("image", str(exc), "cannot be read")
            )
            work.job_id = ""
            self._report(work, OutcomeStatus.INVALID, error=error)
            return
        work.name = self._name(job, work.job_id)
        if work.job_id in self._active:  # the same content twice in one batch: done once,
            self._active[work.job_id].append(work)  # reported twice
            return
        self._active[work.job_id] = []
        # known: its record; new: claimed with a free name; an unusable recorded path
        # (outside the folder): a new name
        work.record = await self.journal.get_or_claim(work.job_id, work.name, _kind(job))
        await self._route(work)

    def _name(self, job: Job, job_id: str) -> str:
        chosen = self._namer(job) if self._namer is not None else None
        if not chosen:
            return job_name(job, job_id)
        if not inside(self.output_dir, chosen) or chosen.endswith(("/", "\\")):
            raise ValidationError(
                "name", chosen, "must be a relative path inside the output folder"
            )
        return chosen

    def _path(self, work: _Work) -> Path:
        assert work.record.output is not None
        return self.output_dir / work.record.output

    async def _route(self, work: _Work) -> None:
        record = work.record
        state = record.state
        if state == "done" and await aiofiles.os.path.exists(self._path(work)):
            self._report(work, OutcomeStatus.SKIPPED, path=self._path(work))
            return
        if state in ("submitted", "finished", "downloading", "done") and record.task_id:
            await self.window_for(work).force_acquire()
            work.submitted = self._clock.monotonic() - self._started_at
            self._move(work, "running")
            if state == "submitted":
                self._track(work, record.task_id)
            else:  # ended remotely: fetch its current URL and download it again or on
                await self._guarded(self._refetch_and_download(work, record.task_id), work)
            return
        async with self._ready_changed:
            self._make_ready(work)
            self._ready_changed.notify_all()
        await self._wait_for_room()

    def _ready_room(self) -> int:
        """How many more jobs may wait ready: twice what the windows take (4 at least)."""
        return max(4, 2 * self._total_limit()) - len(self._ready)

    async def _wait_for_room(self) -> None:
        """Back-pressure: do not prepare far ahead of what the window can take. A preparer
        waits on a future of its own, woken by a dispatch (``_unready``): waiting on the
        dispatcher's condition, all 16 woke at each of its several notifies a job."""
        while self._running and self._ready_room() <= 0:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._room_waiters.append(waiter)
            await waiter

    def _make_ready(self, work: _Work, *, first: bool = False) -> None:
        if first:
            self._ready.appendleft(work)
        else:
            self._ready.append(work)
        self._ready_families[_family(work)] += 1

    def _unready(self, work: _Work) -> None:
        self._ready.remove(work)
        family = _family(work)
        self._ready_families[family] -= 1
        if self._ready_families[family] <= 0:
            del self._ready_families[family]
        room, waiters = self._ready_room(), self._room_waiters
        while room > 0 and waiters:  # as many preparers as there is room for
            waiter = waiters.popleft()
            if not waiter.done():  # a cancelled preparer's future is skipped
                waiter.set_result(None)
                room -= 1

    def _total_limit(self) -> int:
        return sum(w.limit for w in self.windows.values()) or self._initial_window

    async def _guarded(self, step: Any, work: _Work, *, holds_slot: bool = True) -> None:
        """Run one step of a job; any exception it raises becomes the job's outcome."""
        try:
            await step
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._fail(work, exc, holds_slot=holds_slot)

    async def _refetch_and_download(self, work: _Work, task_id: str) -> None:
        try:
            task = await self._resource(work.job).get(task_id, api=_wire_of(work))
        except NotFoundError:
            # the server forgot the task and its video is not here: a failure, so that the
            # next run creates it again (as for any failed task)
            task = lost_task(
                task_id,
                _kind(work.job),
                "the task from an earlier run is gone from the server and its video is not "
                "on disk; run again to create it anew",
            )
        await self._ended(work, task)

    # -- stage 2: dispatch -----------------------------------------------------------
    def _next_ready(self) -> _Work | None:
        """The first ready job that may go now: its family's window has room (and the total
        stays under ``max_in_flight``), or the batch is halted (it is reported, not sent)."""
        if not self._ready:
            return None
        if self._halt is not None:
            return self._ready[0]
        if self.max_in_flight is not None and self.in_flight >= self.max_in_flight:
            return None
        first = self._ready[0]
        if self.window_for(first).has_room():
            return first  # the common case: one family, or the first one's has room
        if len(self._ready_families) == 1:
            return None  # the only family waiting has no room
        # only families with work waiting: asking a shared window for room takes a slot ahead
        waiting = {_family(work): work for work in self._ready}
        open_families = {f for f, work in waiting.items() if self.window_for(work).has_room()}
        if not open_families:
            return None
        for work in self._ready:
            if _family(work) in open_families:
                return work
        return None

    async def _dispatch(self) -> None:
        while True:
            async with self._ready_changed:
                await self._ready_changed.wait_for(lambda: self._next_ready() is not None)
                work = self._next_ready()
                assert work is not None
                self._unready(work)
                if self._halt is None:
                    self.window_for(work).take()
                self._ready_changed.notify_all()
            if self._halt is not None:
                error = NotSentError(self._halt, kind="halted")
                self._report(work, OutcomeStatus.FAILED, error=error)
                continue
            try:
                await self._start_submit(work)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # e.g. the user's unit_cost raised: this job's outcome
                await self.window_for(work).answered()
                await self._fail(work, exc, holds_slot=True)

    async def _start_submit(self, work: _Work) -> None:
        already = work.record.state == "submitting"  # counted in the journal's sum already
        cost = 0.0 if already else float(self.unit_cost(work.job))
        if self.max_units is not None and self._committed_units + cost > self.max_units:
            reason = (
                f"max_units {_number(self.max_units)} reached ({_number(self._committed_units)} "
                f"committed in this folder's journal, across runs; this job needs "
                f"{_number(cost)})"
            )
            await self.window_for(work).answered()  # its create will never be sent
            await self.window_for(work).release(completed=False)
            self._report(work, OutcomeStatus.FAILED, error=NotSentError(reason, kind="max_units"))
            return
        self._committed_units += cost
        work.charged = cost
        submit = asyncio.create_task(self._submit(work), name=f"kling-submit-{work.name}")
        self._submits.add(submit)
        submit.add_done_callback(self._submits.discard)

    async def _submit(self, work: _Work) -> None:
        window = self.window_for(work)
        assert work.plan is not None
        self._move(work, "submitting")
        attempt = Attempt(
            work.job,
            work.job_id,
            work.plan,
            work.record,
            self._resource(work.job),
            cost=work.charged or (work.record.cost or 0.0),
        )
        try:
            try:
                task = await self.submitter.send(attempt)
            finally:
                await window.answered()
        except asyncio.CancelledError:
            raise
        except (ConcurrencyLimitError, RateLimitError):
            self._uncharge(work)
            await window.over_limit()
            work.record = attrs.evolve(
                work.record,
                state="pending",
                external_task_id=attempt.external_id,
                generation=attempt.generation,
            )
            async with self._ready_changed:
                self._move(work, "queued")
                self._make_ready(work, first=True)  # first in line for the next free slot
                self._ready_changed.notify_all()
            return
        except (AuthenticationError, AccountError) as exc:
            # the credentials or the account were refused: every other create would be too
            self._uncharge(work)
            if self._halt is None:
                self._halt = _halt_reason(exc)
            self._report(work, OutcomeStatus.FAILED, error=exc)  # the cause, reported first
            await window.release(completed=False)
            return
        except Exception as exc:
            if nothing_created(exc) or attempt.external_id is None:
                self._uncharge(work)
            await self._fail(work, exc, holds_slot=True)
            return
        await self._guarded(self._created(work, task), work)

    def _uncharge(self, work: _Work) -> None:
        self._committed_units -= work.charged
        work.charged = 0.0

    async def _created(self, work: _Work, task: Task) -> None:
        await self.window_for(work).accepted()
        work.task = task
        work.fresh_output = True
        work.submitted = self._clock.monotonic() - self._started_at
        self._move(work, "running")
        await self.journal.update(work.job_id, "submitted", task_id=task.task_id)
        self._track(work, task.task_id)

    def _track(self, work: _Work, task_id: str) -> None:
        job = work.job
        timeout = self.poller.policy.task_timeout

        async def on_end(task: Task) -> None:
            await self._guarded(self._ended(work, task), work)

        async def on_timeout() -> None:
            # the task may still finish: the journal keeps it 'submitted' for a rerun
            error = TaskTimeoutError(task_id, timeout, work.task)
            error.add_note("run the batch again later: it picks the task up where it is")
            await self._fail(work, error, holds_slot=True)

        key = (job.model, job.mode, int(job.duration))
        tracked = Tracked(
            task_id,
            _kind(job),
            key,
            self._clock.monotonic(),
            on_end,
            _wire_of(work),
            on_timeout=on_timeout,
        )
        self.poller.track(tracked)

    # -- stage 3: ended ---------------------------------------------------------------
    async def _ended(self, work: _Work, task: Task) -> None:
        await self.window_for(work).release()  # the slot is free the moment the end is seen
        work.task = task
        work.ended = self._clock.monotonic() - self._started_at
        if task.succeeded:
            await self.journal.update(work.job_id, "finished", units=task.units)
            self._move(work, "downloading")
            self._downloads.put_nowait(work)
        elif task.failed:
            await self.journal.update(work.job_id, "failed", error=task.status_message)
            self._report(work, OutcomeStatus.FAILED, error=TaskFailedError(task))
        else:  # ended in a state this SDK does not know: report, keep it for a rerun
            self._report(
                work, OutcomeStatus.FAILED, error=NotSentError(f"task ended as {task.raw_status!r}")
            )

    # -- stage 4: download ------------------------------------------------------------
    async def _download(self) -> None:
        while True:
            work = await self._downloads.get()
            await self._guarded(self._download_one(work), work, holds_slot=False)

    async def _download_one(self, work: _Work) -> None:
        assert work.task is not None
        # no 'downloading' write: 'finished' already says "fetch its video" to a rerun (which
        # resumes a .part it finds either way), and each write is a thread hop, ~0.1 ms of CPU
        fresh, work.fresh_output = work.fresh_output, False
        path = await self.client._download(work.task, self._path(work), fresh=fresh)
        await self.journal.update(work.job_id, "done")
        self._report(work, OutcomeStatus.SUCCEEDED, path=path)

    def _resource(self, job: Job) -> TaskResource[Any]:
        if isinstance(job, TextToVideo):
            return self.client.text_to_video
        return self.client.image_to_video

    async def notify(self, task: Task) -> bool:
        """Feed a task state received by callback (already verified); True if it ended one."""
        return await self.poller.notify(task)


_ABANDONED = "the batch's outcomes are no longer read (its iterator was abandoned)"
_FINAL_STATE = {
    OutcomeStatus.SUCCEEDED: "done",
    OutcomeStatus.FAILED: "failed",
    OutcomeStatus.SKIPPED: "skipped",
    OutcomeStatus.INVALID: "invalid",
}


def _number(value: float) -> str:
    """1,000,000 and 2.5 rather than 1e+06 and 2.500000."""
    whole = value == int(value)
    return f"{int(value):,}" if whole else f"{value:,.4f}".rstrip("0").rstrip(".")


def _halt_reason(exc: AuthenticationError | AccountError) -> str:
    if isinstance(exc, BalanceExhaustedError):
        return f"the resource pack is used up ({exc.message})"
    if isinstance(exc, AuthenticationError):
        return f"the credentials were refused ({exc.message})"
    return f"the account was refused ({exc.message})"


def _family(work: _Work) -> str:
    return work.plan.family if work.plan is not None else work.job.model


def _wire_of(work: _Work) -> str:
    return work.plan.wire if work.plan is not None else "legacy"


def _kind(job: Job) -> str:
    return "text2video" if isinstance(job, TextToVideo) else "image2video"


def _empty_record() -> JobRecord:
    return JobRecord("", "", "", "", None, None, None, None, None, 0)


class _RunIterator:
    """The iterator of a ``BatchRun``. It holds the engine but nothing holds it, so when a
    caller ``break``s out of ``async for`` and drops it, it is collected at once — and stops
    the engine from creating anything more."""

    def __init__(self, engine: BatchEngine, jobs: Iterable[Job] | AsyncIterable[Job]) -> None:
        self._gen = _run(engine, jobs)
        self._engine = weakref.ref(engine)

    def __aiter__(self) -> _RunIterator:
        return self

    async def __anext__(self) -> Outcome:
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        await self._gen.aclose()

    def __del__(self) -> None:
        engine = self._engine()
        if engine is not None:
            engine.abandon()


async def _run(
    engine: BatchEngine, jobs: Iterable[Job] | AsyncIterable[Job]
) -> AsyncGenerator[Outcome, None]:
    async with engine:

        async def feed() -> None:
            try:
                if isinstance(jobs, AsyncIterable):
                    async for job in jobs:
                        await engine.submit(job)
                else:
                    for job in jobs:
                        await engine.submit(job)
            except Exception as exc:  # the input itself failed: say so to the consumer
                engine._outcomes.put_nowait(exc)
                return
            await engine.finish()

        feeder = asyncio.create_task(feed(), name="kling-batch-feeder")
        try:
            async for outcome in engine.outcomes():
                yield outcome
        finally:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
            engine.finalize_summary()


class BatchRun:
    """What ``client.batch(...)`` returns: iterate it for outcomes as they finish; read
    ``summary`` afterwards. ``async with`` it to be sure the engine stops if you leave early;
    without it, leaving the loop (``break``) stops the engine as soon as the loop's iterator
    is dropped."""

    def __init__(
        self,
        client: KlingClient,
        jobs: Iterable[Job] | AsyncIterable[Job],
        output_dir: str | Path,
        options: dict[str, Any],
    ) -> None:
        self.engine = BatchEngine(client, output_dir, **options)
        self._jobs = jobs
        self._iterator: weakref.ref[_RunIterator] | None = None
        self._strong: _RunIterator | None = None

    @property
    def summary(self) -> BatchSummary:
        return self.engine.finalize_summary()

    def __aiter__(self) -> _RunIterator:
        current = self._iterator() if self._iterator is not None else None
        if current is None:
            current = _RunIterator(self.engine, self._jobs)
            self._iterator = weakref.ref(current)
        return current

    async def __aenter__(self) -> BatchRun:
        return self

    async def __aexit__(self, *exc: object) -> None:
        current = self._iterator() if self._iterator is not None else None
        if current is not None:
            await current.aclose()
        await self.engine.close()
