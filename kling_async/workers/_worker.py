"""A worker: takes jobs from the SAQ queue and runs them on one batch engine.

One process holds one ``KlingClient``, one ``BatchEngine`` whose job store is the shared
``RedisJobStore``, and one SAQ ``Worker``. Each queue job is handed to the engine (which
claims it in the store, submits or reconciles it, polls and downloads it to the shared
folder) and its SAQ run waits for the job's outcome. The queue delivers a job at least once;
the store's claim makes it run once: a second delivery finds it claimed (and waits its turn)
or done (and is skipped).

A dead worker's queue jobs stop beating their heartbeat; SAQ's sweep hands them out again,
and the new worker claims each job once the dead one's lease has run out, resuming it from
the recorded state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import attrs
from redis.exceptions import RedisError
from saq import Worker
from saq.job import Status
from saq.queue.redis import RedisQueue
from saq.types import Context, PartialTimersDict

from .._retry import backoff, retry
from .._tasks import cancel_and_wait
from ..batch import BatchEngine, Outcome, PollPolicy
from ..client import KlingClient
from ..errors import (
    CreateUnconfirmedError,
    JobClaimedError,
    LeaseLostError,
    NotSentError,
    WorkerHaltedError,
)
from ..governor import GIVE_UP_AFTER, RedisGovernor
from ..states import OutcomeStatus
from ..store import RedisJobStore, RedisOutage, RedisOutageError, SharedBudget, masked, worker_id
from ._faults import made_nothing, worker_fault
from ._payload import Job, load_job
from ._result import result_of
from ._sweep import SweepQueue

log = logging.getLogger("kling_async.workers")

#: The queue function's name (what ``enqueue`` asks a worker to run).
FUNCTION = "kling_animate"
#: Tries of one queue run before it is handed back to the queue (see ``_Runner.run``).
_TRIES = 5
#: A run's outcome that is tried again: the job is another worker's for now, or its create
#: must be reconciled first.
_LATER = (JobClaimedError, CreateUnconfirmedError, LeaseLostError)


def queue_name(namespace: str) -> str:
    return f"kling-{namespace}"


def make_queue(url: str, namespace: str, outage: RedisOutage | None = None) -> RedisQueue:
    """The queue of ``namespace`` on Redis (its connection pool is the caller's to close,
    with ``close_queue``). Its operations wait out an outage of Redis through ``outage``
    (one a process, shared with its job store; by default one of ``GIVE_UP_AFTER`` s)."""
    queue = cast(SweepQueue, SweepQueue.from_url(url, name=queue_name(namespace)))
    queue.outage = outage or RedisOutage(url)
    return queue


async def close_queue(queue: RedisQueue) -> None:
    """Close the queue's connections, even when Redis is gone (SAQ's ``disconnect`` talks to
    it first, and would leave the pool open when that fails)."""
    try:
        await queue.disconnect()
    except (RedisError, OSError):
        await queue.redis.aclose()


#: ``await hook(path, result)``: what to do with a finished video (see ``WorkerSettings``).
OutputHook = Callable[[Path, dict[str, Any]], Awaitable[Any]]


@attrs.frozen
class WorkerSettings:
    redis_url: str = attrs.field(repr=False)  # may carry a password
    out: Path
    #: Jobs in flight at once in this worker: its share of the account's parallel tasks.
    concurrency: int = 5
    namespace: str = "default"
    #: Seconds a claimed job stays this worker's without a renewal (renewed every third).
    lease: float = 30.0
    #: How often (s) a worker looks for stuck queue jobs (one sweep a period for the queue).
    sweep: int = 5
    downloads: int = 4
    poll: PollPolicy | None = None
    #: Queue jobs taken beyond ``concurrency``, prepared and claimed, so that a slot freed by
    #: an ended task is used at once (not after a dequeue, a claim and a validation).
    prefetch: int = 1
    #: Called with each video made (or found made by an earlier run), e.g. to upload it to
    #: object storage: ``await on_output(path, result)``; what it returns is the result's
    #: ``"stored"``. It may be called twice for one video (a worker dying between the two):
    #: make it idempotent (the same key for the same ``result["job_id"]``). An exception
    #: fails the queue run, which is tried again later.
    on_output: OutputHook | None = None
    #: Where Kling posts this worker's callbacks (its own receiver, ``worker --listen``):
    #: every job it creates asks for them there, and its tasks end by callback, polling
    #: being the fallback. None: jobs keep their own ``callback_url``, and it polls.
    callback_url: str | None = None
    #: Seconds an outage of Redis (a restart, a blip) is waited out, with back-off, before
    #: the worker stops (one line, exit 2); the shared governor's ``give_up_after`` too.
    redis_grace: float = GIVE_UP_AFTER


class _Runner:
    """Hands queue jobs to the engine and each run its job's outcome."""

    def __init__(
        self,
        engine: BatchEngine,
        store: RedisJobStore,
        on_error: Callable[[], None],
        on_output: OutputHook | None = None,
        names: dict[int, str] | None = None,
        callback_url: str | None = None,
    ) -> None:
        self.engine = engine
        self.callback_url = callback_url
        #: The units budget every worker of the queue shares (``animate --redis --max-units``).
        self.budget = SharedBudget(store)
        self.store = store
        #: The output name each queued job asks for, by the identity of the job object
        #: given to the engine (its ``name`` callable reads them).
        self.names = names if names is not None else {}
        self._on_error = on_error
        self._on_output = on_output
        #: Why the engine stopped, if it did (the worker then stops too).
        self.error: BaseException | None = None
        #: Waiting runs, by the identity of the job object given to the engine.
        self._waiting: dict[int, asyncio.Future[Outcome]] = {}
        self._router: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._router = asyncio.create_task(self._route(), name="kling-worker-outcomes")

    @property
    def running(self) -> int:
        """Queue runs waiting for their job's outcome now."""
        return sum(1 for waiter in self._waiting.values() if not waiter.done())

    async def close(self) -> None:
        router, self._router = self._router, None
        await cancel_and_wait(router)

    async def _route(self) -> None:
        try:
            async for outcome in self.engine.outcomes():
                waiter = self._waiting.pop(id(outcome.job), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(outcome)
        except Exception as exc:  # the engine broke (a bug): no run may wait forever
            log.error("the worker's engine stopped: %r", exc)
            self.error = exc
            for waiter in self._waiting.values():
                if not waiter.done():
                    waiter.set_exception(exc)
            self._on_error()

    async def run(
        self, ctx: Context, *, job: dict[str, Any], name: str | None = None
    ) -> dict[str, Any]:
        """One queue job: its outcome as JSON (the queue's result).

        A job another worker holds is waited for (its lease runs out, or it ends and is then
        found done); a job whose create is unconfirmed is tried again a little later (it is
        looked up by its external id first). When neither settles within a few tries the run
        raises, and SAQ hands the job out again later — never for a job that simply failed."""
        request = load_job(job)
        if self.callback_url is not None:  # this worker's receiver: not part of its identity
            request = attrs.evolve(request, callback_url=self.callback_url)
        if self.error is not None:
            raise _TryLater("this worker's engine stopped")

        queued = ctx.get("job")
        job_id = queued.key if queued is not None else ""
        units = float(self.engine.budget.unit_cost(request)) if job_id else 0.0
        if job_id and not await self.budget.reserve(job_id, units):
            return await self._finish(await self._over_budget(request, job_id, name, units))

        async def attempt(_: int) -> Outcome:
            outcome = await self._one(request, name)
            if isinstance(outcome.error, _LATER):
                raise outcome.error
            return outcome

        def wait(n: int, error: BaseException) -> float:
            if isinstance(error, JobClaimedError):  # until its lease runs out, at most one
                return min(max(error.expires_in, 0.1), self.store.lease) + 0.05
            return backoff(n, initial=1.0, cap=30.0)

        beat = asyncio.create_task(_heartbeat(ctx), name="kling-worker-heartbeat")
        try:
            try:
                outcome = await retry(
                    attempt,
                    retry_if=lambda exc: isinstance(exc, _LATER),
                    wait=wait,
                    attempts=_TRIES,
                    what=f"job {name}" if name else "queue job",
                )
            except _LATER as exc:
                raise _TryLater(str(exc)) from None
            fault = worker_fault(outcome)
            if job_id and (fault is not None or made_nothing(outcome)):
                await self.budget.release(job_id)  # its units go back to the budget
            if fault is not None:  # not this job's fault: another worker makes it
                self.halt(fault)
                raise _TryLater(f"handed back: {fault}")
            return await self._finish(outcome)
        finally:
            await cancel_and_wait(beat)

    async def _over_budget(
        self, request: Job, job_id: str, name: str | None, units: float
    ) -> Outcome:
        """The outcome of a job the shared budget has no room for: not sent, left pending."""
        limit = await self.budget.limit()
        reason = (
            f"the budget of {limit:g} units for this queue (--max-units/--max-cost) has no "
            f"room for its {units:g} units; it was not sent"
        )
        error = NotSentError(reason, kind="max_units")
        return Outcome(request, OutcomeStatus.FAILED, job_id, name or job_id[:12], error=error)

    def halt(self, reason: str) -> None:
        """Stop taking jobs (once): the worker stops and says ``reason``."""
        if self.error is None:
            log.error("worker %s halts: %s", self.store.owner, reason)
            self.error = WorkerHaltedError(reason)
            self._on_error()

    async def _finish(self, outcome: Outcome) -> dict[str, Any]:
        result = result_of(outcome, self.store.owner, self.store.folder)
        hook = self._on_output
        if hook is not None and outcome.status in _MADE and outcome.path is not None:
            result["stored"] = await hook(outcome.path, result)
        return result

    async def _one(self, request: Job, name: str | None) -> Outcome:
        """The engine's outcome for ``request`` (its lease given up once known), its video
        named ``name`` (relative to the shared folder) when given."""
        waiter: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting[id(request)] = waiter
        if name:
            self.names[id(request)] = name
        try:
            await self.engine.submit(request)
            outcome = await waiter
        finally:
            self._waiting.pop(id(request), None)
            self.names.pop(id(request), None)
        if outcome.job_id and not isinstance(outcome.error, JobClaimedError):
            with contextlib.suppress(RedisError, OSError):
                await self.store.release(outcome.job_id)
        return outcome


class _TryLater(Exception):  # SAQ retries a job whose run raised
    """The job is another worker's for now, or its create must be reconciled: later."""


async def _heartbeat(ctx: Context) -> None:
    """Tell the queue the run is alive, three times per ``heartbeat`` of its queue job."""
    job = ctx.get("job")
    if job is None or not job.heartbeat:
        return
    while True:
        await asyncio.sleep(max(0.2, job.heartbeat / 3))
        try:
            # SAQ's update() writes this run's copy of the record whole: once a sweep handed
            # the job to another worker (this process was starved past the heartbeat), a beat
            # would write over that run's record, its outcome included. Beat only while the
            # record is still this run's.
            stored = await job.get_queue().job(job.key)
            if stored is None or stored.status is not Status.ACTIVE:
                return
            if stored.attempts != job.attempts or stored.worker_id != job.worker_id:
                return
            await job.update()
        except Exception as exc:  # a missed beat is not fatal; several are (the sweep)
            log.warning("heartbeat of %s failed: %s", job.key, type(exc).__name__)


#: A video is there for the job (made now or before): handed to the ``on_output`` hook.
_MADE = frozenset({OutcomeStatus.SUCCEEDED, OutcomeStatus.SKIPPED})


def make_client(
    base_url: str | None,
    *,
    shared_limits: str | None = None,
    lease: float = 30.0,
    redis_grace: float = GIVE_UP_AFTER,
    **options: Any,
) -> KlingClient:
    """The worker's one client. Its credentials come from the environment, never the queue.

    ``shared_limits``: a Redis URL whose :class:`~kling_async.RedisGovernor` every worker
    shares (the account's learned parallel-task limit, its slots as leases of ``lease``
    seconds, its request pacing), so N workers never oversubscribe the account N-fold; the
    governor closes with the client. ``None``: this worker learns the limits on its own.
    """
    governor = (
        None
        if shared_limits is None
        else RedisGovernor(shared_limits, lease=lease, give_up_after=redis_grace)
    )
    return KlingClient(base_url=base_url, governor=governor, **options)


async def run_worker(
    settings: WorkerSettings,
    client: KlingClient,
    *,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    say: Callable[[str], None] | None = None,
    on_engine: Callable[[BatchEngine], None] | None = None,
) -> None:
    """Run a worker until SIGINT/SIGTERM (or ``stop`` is set). ``client`` is the caller's
    (made by ``make_client``): it is used, not closed. ``say`` gets one line when the worker
    is ready (where it takes jobs from, where it writes, for which account; a password in
    the Redis URL shown as ``***``) and one when it has stopped. ``on_engine`` is called
    with the worker's engine once it exists (e.g. to feed it a callback receiver's tasks:
    ``receiver.feed(engine.notify)``)."""
    await asyncio.to_thread(settings.out.mkdir, parents=True, exist_ok=True)
    names: dict[int, str] = {}
    outage = RedisOutage(settings.redis_url, grace=settings.redis_grace, say=say)
    store = RedisJobStore(
        settings.redis_url,
        settings.out,
        namespace=settings.namespace,
        owner=worker_id(),
        lease=settings.lease,
        outage=outage,
    )
    engine = BatchEngine(
        client,
        settings.out,
        store=store,
        max_in_flight=settings.concurrency,
        initial_window=settings.concurrency,
        downloads=settings.downloads,
        poll=settings.poll,
        prefetch=max(4, settings.concurrency + settings.prefetch),
        name=lambda job: names.get(id(job)),
        callbacks=settings.callback_url is not None,
    )
    if on_engine is not None:
        on_engine(engine)
    queue = make_queue(settings.redis_url, settings.namespace, outage)
    if isinstance(queue, SweepQueue):
        queue.sweep_lock = max(1, int(settings.sweep))
    try:
        await engine.start()  # opens the store: Redis is reachable from here on
        stop = stop or asyncio.Event()
        runner = _Runner(
            engine,
            store,
            on_error=stop.set,
            on_output=settings.on_output,
            names=names,
            callback_url=settings.callback_url,
        )
        runner.start()

        def gone(error: RedisOutageError) -> None:  # past the grace: stop, exit 2
            runner.halt(str(error))

        outage.on_gone = gone
        worker: Worker[Context] = Worker(
            queue,
            functions=[(FUNCTION, runner.run)],
            concurrency=settings.concurrency + settings.prefetch,
            timers=cast(PartialTimersDict, {"sweep": settings.sweep, "abort": 1}),
            dequeue_timeout=1.0,
            shutdown_grace_period_s=0,
        )
        line = (
            f"worker {store.owner} ready: queue {queue_name(settings.namespace)} on "
            f"{masked(settings.redis_url)}, out {settings.out}, concurrency "
            f"{settings.concurrency}, account at {client.base_url}"
        )
        # a stop asked for from here on is a clean one, even before SAQ puts its own handlers
        # in (it replaces these, and takes them out when it stops)
        loop = asyncio.get_running_loop()
        for signum in _STOP_SIGNALS:
            loop.add_signal_handler(signum, stop.set)
        log.info("%s", line)
        if say is not None:
            say(line)
        if ready is not None:
            ready.set()
        stopper = asyncio.create_task(_stop_on(stop, worker), name="kling-worker-stop")
        quiet = _QuietShutdown()
        saq_log = logging.getLogger("saq")
        saq_log.addFilter(quiet)
        said = _SaidOnce(outage)
        governor_log = logging.getLogger("kling_async.governor")
        governor_log.addFilter(said)
        try:
            await worker.start()
        finally:
            for signum in _STOP_SIGNALS:
                loop.remove_signal_handler(signum)
            running = runner.running
            await cancel_and_wait(stopper)
            await runner.close()
            saq_log.removeFilter(quiet)
            governor_log.removeFilter(said)
            if say is not None:
                say(
                    f"worker {store.owner} stopped: {running} running job(s) handed back "
                    "(another worker resumes them; nothing is created twice)"
                )
        if runner.error is not None:
            raise runner.error
    finally:
        await engine.close()  # running jobs stay recorded and leased: another worker resumes
        await close_queue(queue)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _QuietShutdown(logging.Filter):
    """Drops SAQ's warning that tasks outlived its shutdown grace period: the worker gives
    it none on purpose (its own loops never end by themselves, and running jobs are handed
    back through the store, not waited for); the worker's stop line says what happened."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Some tasks did not finish within")


class _SaidOnce(logging.Filter):
    """Drops the shared governor's warnings while Redis is down: the worker said so once
    (``RedisOutage``), and says once when it is back."""

    def __init__(self, outage: RedisOutage) -> None:
        super().__init__()
        self.outage = outage

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.WARNING or not self.outage.down


async def _stop_on(stop: asyncio.Event, worker: Worker[Context]) -> None:
    await stop.wait()
    await worker.stop()


__all__ = [
    "FUNCTION",
    "OutputHook",
    "WorkerSettings",
    "close_queue",
    "make_client",
    "make_queue",
    "queue_name",
    "run_worker",
]
