"""One poller for every task in flight: on the legacy API the list endpoint covers up to 500
tasks a request and single queries cover the few it misses; on the new API ``GET /tasks`` asks
for 20 tasks a request. The interval follows the durations learned so far."""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs

from .._convert import task_from_wire
from ..errors import KlingError, NotFoundError, ResponseFormatError, ValidationError
from ..resources.task_queries import MAX_IDS_PER_QUERY
from ..results import Task
from ..states import TaskStatus, maybe_final

if TYPE_CHECKING:
    from ..client import KlingClient

log = logging.getLogger("kling_async.batch")
DurationKey = tuple[str, str, int]  # (model, mode, duration)


@attrs.frozen
class PollPolicy:
    """How often the poller looks, within a budget of requests per job.

    No task is looked at before it may have ended: the 10th percentile of the durations
    learned for its kind (before any is known, ``unknown_share`` of its age: a task 4 s old is
    looked at after another second, one 2 minutes old after 30 s). Once tasks are due, a poll
    round comes every ``E[T] * requests_per_round / (in_flight * requests_per_job)`` seconds,
    clamped to ``min_interval``..``max_interval``: about ``requests_per_job`` poll requests per
    finished job, whatever the account's size. With completion by callback, polling is a
    fallback at ``max_interval``. A failed poll is not retried on its own: the next one comes
    at the usual interval.
    """

    min_interval: float = 0.1
    max_interval: float = 15.0
    unknown_share: float = 0.25
    #: From this many tasks in flight, one list request replaces the single queries.
    list_threshold: int = 2
    #: Seconds after its create (or after a rerun picked it up) that a task may take before
    #: its job ends as ``TaskTimeoutError``; the journal keeps it, so a rerun looks again.
    task_timeout: float = 1200.0
    #: The poll requests (list pages, batch and single queries) to spend per finished job.
    requests_per_job: float = 1.0

    def __attrs_post_init__(self) -> None:
        for name in (
            "min_interval",
            "max_interval",
            "unknown_share",
            "task_timeout",
            "requests_per_job",
        ):
            value = getattr(self, name)
            if not value > 0:
                raise ValidationError(name, value, "must be a positive number")
        if self.min_interval > self.max_interval:
            limit = f"must not exceed max_interval {self.max_interval}"
            raise ValidationError("min_interval", self.min_interval, limit)


class _Durations:
    """The last ``size`` durations, kept in order of arrival and sorted (a quantile and the
    mean in O(1) after an O(size) insert)."""

    __slots__ = ("_arrived", "_sorted", "_sum")

    def __init__(self, size: int) -> None:
        self._arrived: deque[float] = deque(maxlen=size)
        self._sorted: list[float] = []
        self._sum = 0.0

    def add(self, seconds: float) -> None:
        arrived = self._arrived
        if len(arrived) == arrived.maxlen:
            oldest = arrived[0]
            del self._sorted[bisect.bisect_left(self._sorted, oldest)]
            self._sum -= oldest
        arrived.append(seconds)
        bisect.insort(self._sorted, seconds)
        self._sum += seconds

    def quantile(self, q: float) -> float:
        ordered = self._sorted
        return ordered[int(q * (len(ordered) - 1))]

    def mean(self) -> float:
        return self._sum / len(self._sorted)


class DurationModel:
    """When a task of a kind (model, mode, duration) may end: the 10th percentile of the
    durations seen (no look before it: a task that ends early holds a slot for as long as
    nobody looks, so a low quantile) and the mean (the poll budget's time scale).

    Each is the lower of two windows' figures: the last 64 durations (a kind that got quicker
    is followed at once) and the last 1024. Ends are seen in the order tasks end, so on a
    large account the last 64 are a wave's slowest: at C=1000 their 10th percentile was a
    wave's 95th, the next wave's quick tasks sat unseen for seconds (slot lag p90 2.7 s,
    1.10 x greedy). Too low a figure costs a few early looks; too high one costs slots."""

    def __init__(self, quantile: float = 0.1, window: int = 64, long_window: int = 1024) -> None:
        self._seen: dict[DurationKey, tuple[_Durations, _Durations]] = {}
        self._quantile = quantile
        self._windows = (window, max(window, long_window))
        self._low: dict[DurationKey, float] = {}
        self._mean: dict[DurationKey, float] = {}

    def observe(self, key: DurationKey, seconds: float) -> None:
        if seconds <= 0:
            return
        windows = self._seen.get(key)
        if windows is None:
            windows = self._seen[key] = (_Durations(self._windows[0]), _Durations(self._windows[1]))
        recent, long = windows
        recent.add(seconds)
        long.add(seconds)
        q = self._quantile
        self._low[key] = min(recent.quantile(q), long.quantile(q))
        self._mean[key] = min(recent.mean(), long.mean())

    def expected(self, key: DurationKey) -> float | None:
        """The earliest a task of this kind is expected to end (seconds after its create)."""
        return self._low.get(key)

    def mean(self, key: DurationKey) -> float | None:
        return self._mean.get(key)


def lost_task(task_id: str, kind: str, reason: str) -> Task:
    """A task the server no longer knows, as a failed one: its job is redone on the next run."""
    return Task(
        task_id=task_id,
        status=TaskStatus.FAILED,
        raw_status="not found",
        status_message=reason,
        kind=kind,
    )


@attrs.define(eq=False)
class Tracked:
    task_id: str
    kind: str
    key: DurationKey
    started: float  # monotonic, when the create was answered
    on_end: Callable[[Task], Awaitable[None]]
    #: The API that holds the task: ``legacy`` or ``new``.
    wire: str = "legacy"
    #: Batch queries in a row that did not return it (two: the server has lost it).
    misses: int = 0
    #: Monotonic time after which its job ends as timed out (see ``PollPolicy.task_timeout``).
    deadline: float = float("inf")
    #: Called instead of ``on_end`` when the deadline passes first.
    on_timeout: Callable[[], Awaitable[None]] | None = None
    #: When a single query last asked for it (rotation among tasks no list page shows).
    last_single: float = 0.0
    #: Its place in the order tasks were tracked (how deep in the list pages it lies).
    seq: int = 0


class Poller:
    def __init__(self, client: KlingClient, policy: PollPolicy, *, callbacks: bool = False) -> None:
        self._client = client
        self._clock = client.clock
        self.policy = policy
        self.callbacks = callbacks
        self.durations = DurationModel()
        self._tracked: dict[str, Tracked] = {}
        self._wake = asyncio.Event()
        self._last_round = self._clock.monotonic()
        #: Whether jobs wait for a slot (the engine says); without, the budget does not apply.
        self.backlog: Callable[[], bool] = lambda: True
        #: Whether a create waits to be sent or answered (the engine says).
        self.creating: Callable[[], bool] = lambda: False
        self._seq = 0
        #: Requests a poll round has cost lately (moving average): the budget's unit.
        self._round_cost = 1.0
        #: Tracked tasks seen to end (the tail's poll budget grows with it).
        self.ended = 0
        self.list_requests = 0
        self.single_requests = 0
        self.batch_requests = 0
        #: New-API tasks asked about in each recent poll round (diagnostics and tests).
        self.batch_rounds: deque[int] = deque(maxlen=4096)

    def __len__(self) -> int:
        return len(self._tracked)

    @property
    def requests(self) -> int:
        """Poll requests sent so far (list pages, single and batch queries)."""
        return self.list_requests + self.single_requests + self.batch_requests

    def track(self, item: Tracked) -> None:
        if item.deadline == float("inf"):
            item.deadline = item.started + self.policy.task_timeout
        self._seq += 1
        item.seq = self._seq
        self._tracked[item.task_id] = item
        self._wake.set()

    async def _expire(self) -> None:
        """End the wait of every task past its deadline (their jobs time out)."""
        now = self._clock.monotonic()
        for item in [i for i in self._tracked.values() if i.deadline <= now]:
            if self._tracked.pop(item.task_id, None) is not None and item.on_timeout is not None:
                await item.on_timeout()

    async def notify(self, task: Task) -> bool:
        """A task state from elsewhere (a verified callback). True if it ended a tracked task."""
        item = self._tracked.get(task.task_id)
        if item is None or not task.is_final:
            return False
        await self._ended(item, task)
        return True

    async def _ended(self, item: Tracked, task: Task) -> None:
        if self._tracked.pop(item.task_id, None) is None:
            return  # already handled (a callback and a poll both saw it)
        if task.created_at is not None and task.updated_at is not None:
            seconds = (task.updated_at - task.created_at).total_seconds()
        else:
            seconds = self._clock.monotonic() - item.started
        self.durations.observe(item.key, seconds)
        self.ended += 1
        await item.on_end(task)

    def _due_in(self, item: Tracked, now: float) -> float:
        """Seconds until the task may have ended (<= 0: it is due)."""
        expected = self.durations.expected(item.key)
        if expected is None:  # nothing learned yet: look more rarely as the task ages
            return (now - item.started) * self.policy.unknown_share - (now - self._last_round)
        return item.started + expected - now

    def _round_interval(self, due: list[Tracked]) -> float:
        """The budgeted time between poll rounds while ``due`` tasks are due.

        Without a backlog (no job waits for a slot: the batch's tail) rounds come every 5% of
        a task's mean duration, or sooner if the budget allows it (many tasks in flight, each
        round seeing them all), ``min_interval`` at least: the last tasks' ends are the
        batch's end. Under a learned request-rate limit
        the budget shrinks to the share of the rate that creates leave free (at least 0.2)."""
        policy = self.policy
        means = [m for m in (self.durations.mean(i.key) for i in due) if m is not None]
        if not means:
            return policy.min_interval
        mean = sum(means) / len(means)
        per_round = max(1.0, self._round_cost)
        rate = self._client.pacer.rate
        if not self.backlog():  # the tail: a lag of ~2.5% of a task, whatever it costs ...
            # ... or less where the batch is big enough to pay for it: a mean duration of
            # looks for a tenth of a request per job ended so far. At C=1000 the 5% rule
            # alone kept the looks 0.375 s apart for the last half of a two-wave batch, and
            # the last task's end waited for one (1.016 x greedy on the virtual clock)
            afford = mean * per_round / (_TAIL_REQUESTS_PER_JOB * max(1, self.ended))
            tail = min(_TAIL_SHARE * mean, afford)
            interval = min(policy.max_interval, max(policy.min_interval, tail))
            if rate is None:
                return interval
            # ... within the account's request rate: while the last creates wait for their
            # turn, polls (which go first) take their tenth of it, as under a backlog; else
            # half (10 looks a second under 10 req/s had starved the last creates: a 14 s
            # tail for 20 jobs of 2 s)
            share = _RATE_POLL_SHARE if self.creating() else _TAIL_RATE_SHARE
            return max(interval, per_round / (share * rate))
        budget = policy.requests_per_job
        floor = policy.min_interval
        if rate is not None:  # the account's request rate binds: creates come first
            completions = len(self._tracked) / mean
            budget = min(budget, max(0.2, (rate - completions) / completions))
            # and polls take at most a tenth of the rate (each one is a create not sent)
            floor = max(floor, per_round / (_RATE_POLL_SHARE * rate))
        interval = mean * per_round / (len(self._tracked) * budget)
        return min(policy.max_interval, max(floor, interval))

    def next_round(self, last: float, now: float) -> float:
        """When the next poll round is due (monotonic): when the soonest task may have ended,
        but no sooner after the last round than the budget allows (``min_interval`` at
        least), no later than ``max_interval``, never past a deadline."""
        policy = self.policy
        if not self._tracked:
            return now + policy.max_interval
        if self.callbacks:
            deadline = min(item.deadline for item in self._tracked.values())
            return min(last + policy.max_interval, deadline)
        due = []
        soonest = deadline = float("inf")
        for item in self._tracked.values():  # one pass: due times and the nearest deadline
            due_in = self._due_in(item, now)
            if due_in <= 0:
                due.append(item)
            if due_in < soonest:
                soonest = due_in
            if item.deadline < deadline:
                deadline = item.deadline
        floor = self._round_interval(due) if due else policy.min_interval
        return min(last + min(policy.max_interval, max(floor, soonest)), deadline)

    async def run(self) -> None:
        """Poll until cancelled."""
        last = self._clock.monotonic()
        while True:
            if not self._tracked:
                self._wake.clear()
                await self._wake.wait()
                last = self._last_round = self._clock.monotonic()  # nothing new can have ended yet
            self._wake.clear()
            now = self._clock.monotonic()
            planned = self.next_round(last, now)
            # wake early only to re-plan: a new task may make an earlier look worthwhile.
            # Tasks come in waves (a C=1000 ramp tracks 1,400 a second) and a plan reads
            # every task: re-planned on each, the ramp's plans were 9% of its CPU. So a wake
            # waits up to _REPLAN for the rest of its wave, never past the plan.
            if planned > now and await self._clock.wait(self._wake, planned - now):
                await self._clock.sleep(min(_REPLAN, planned - self._clock.monotonic()))
                continue
            last = self._last_round = self._clock.monotonic()
            await self._expire()
            if not self._tracked:
                continue
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except KlingError as exc:  # a poll is never retried on its own: the next one comes
                log.info("poll failed (%s); looking again shortly", exc)
                last = self._clock.monotonic()
            except Exception as exc:  # never let one odd answer stop every task's watch
                log.warning("poll failed unexpectedly (%r); looking again shortly", exc)
                last = self._clock.monotonic()

    async def poll_once(self) -> None:
        """One round: the tasks that may have ended (legacy kinds by list pages once there
        are several, new-API ones 20 per ``GET /tasks``)."""
        now = self._clock.monotonic()
        due = [i for i in self._tracked.values() if self._due_in(i, now) <= 0]
        if not due:  # asked directly (tests, a callback fallback): look at everything
            due = list(self._tracked.values())
        new = [i for i in due if i.wire == "new"]
        jobs = []
        if new:
            jobs.append(self._poll_batch(new))
        for kind in sorted({i.kind for i in due if i.wire != "new"}):
            wanted = {i.task_id: i for i in due if i.kind == kind and i.wire != "new"}
            if len(wanted) >= self.policy.list_threshold:
                # every task of the kind may be on the pages: end any that ended early too
                mine = {
                    t: i for t, i in self._tracked.items() if i.kind == kind and i.wire != "new"
                }
                jobs.append(self._poll_list(kind, mine, set(wanted)))
            else:
                jobs.extend(self._poll_one(kind, item) for item in wanted.values())
        before = self.requests
        results = await asyncio.gather(*jobs, return_exceptions=True)
        self._round_cost = 0.7 * self._round_cost + 0.3 * (self.requests - before)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _poll_list(self, kind: str, mine: dict[str, Tracked], wanted: set[str]) -> None:
        """List pages, newest first, until every ``wanted`` (due) task of the kind was seen
        (or a page came back short: the account holds no older tasks). Only items that ended
        are converted; the rest are merely marked seen."""
        resource = self._resource(kind)
        # a page as deep as the oldest due task lies (tasks tracked since; a fifth more for
        # other clients'), in pages of at most 500
        depth = self._seq - min(mine[t].seq for t in wanted) + 1
        size = min(_PAGE, max(30, depth + depth // 5))
        unseen = set(wanted)
        unreadable: list[Tracked] = []
        ended: list[tuple[Tracked, Task]] = []
        # enough pages to reach the oldest due task, and one for other clients' tasks
        pages = min(_MAX_PAGES, -(-(depth + depth // 5) // size) + 1)
        for number in range(1, pages + 1):
            self.list_requests += 1
            data = await self._client.request(
                "GET",
                resource.path,
                kind="list",
                params={"pageNum": number, "pageSize": size},
                retry=False,
            )
            if not isinstance(data, list):
                raise ResponseFormatError("task list: expected an array", body=data)
            for raw in data:
                item = self._match(raw, "task_id", mine)
                if item is None:
                    continue
                unseen.discard(item.task_id)
                if not maybe_final(raw.get("task_status")):
                    continue
                try:
                    task = task_from_wire(raw, kind)
                except ResponseFormatError:
                    unreadable.append(item)  # its own query may read better
                    continue
                if task.is_final:
                    ended.append((item, task))
            if not unseen or len(data) < size or len(unseen) <= _SINGLES_PER_ROUND // 2:
                break  # the few left are cheaper asked singly than another page
        await self._end_all(ended)
        # Not on any page read: gone (a short page held every task the account has), or
        # older than the pages read. Ask for a few of them singly, the least recently asked.
        missing = sorted((mine[t] for t in unseen), key=lambda i: i.last_single)
        for item in [*unreadable, *missing[:_SINGLES_PER_ROUND]]:
            if item.task_id in self._tracked:
                await self._poll_one(kind, item)

    async def _end_all(self, ended: list[tuple[Tracked, Task]]) -> None:
        """Hand every task a round saw end to its job at once: their slots free together and
        their journal updates share a transaction."""
        if len(ended) == 1:
            await self._ended(*ended[0])
        elif ended:
            await asyncio.gather(*(self._ended(item, task) for item, task in ended))

    def _match(self, raw: Any, key: str, mine: dict[str, Tracked]) -> Tracked | None:
        if not isinstance(raw, dict):
            return None
        ident = raw.get(key)
        if isinstance(ident, int) and not isinstance(ident, bool):
            ident = str(ident)
        return mine.get(ident) if isinstance(ident, str) else None

    async def _poll_batch(self, items: list[Tracked]) -> None:
        """New-API tasks, 20 per ``GET /tasks``; the chunks go out together."""
        size = MAX_IDS_PER_QUERY
        self.batch_rounds.append(len(items))
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        await asyncio.gather(*(self._poll_chunk(chunk) for chunk in chunks))

    async def _poll_chunk(self, chunk: list[Tracked]) -> None:
        self.batch_requests += 1
        data = await self._client.request(
            "GET",
            "/tasks",
            kind="query",
            params={"task_ids": ",".join(i.task_id for i in chunk)},
            retry=False,
            wire="new",
        )
        if data is None:
            data = []
        if not isinstance(data, list):
            raise ResponseFormatError("task list: expected an array", body=data)
        mine = {i.task_id: i for i in chunk}
        seen: set[str] = set()
        ended: list[tuple[Tracked, Task]] = []
        for raw in data:
            item = self._match(raw, "id", mine)
            if item is None:
                continue
            seen.add(item.task_id)
            item.misses = 0
            if not maybe_final(raw.get("status")):
                continue
            try:
                task = task_from_wire(raw, item.kind, "new")
            except ResponseFormatError as exc:  # it is there; its answer does not parse
                log.info("task %s: unreadable answer (%s)", item.task_id, exc)
                continue
            if task.is_final:
                ended.append((item, attrs.evolve(task, kind=item.kind)))
        await self._end_all(ended)
        for item in chunk:
            if item.task_id in seen:
                continue
            item.misses += 1
            if item.misses >= 2 and item.task_id in self._tracked:
                log.warning("task %s is no longer known to the server", item.task_id)
                gone = lost_task(item.task_id, item.kind, "the server no longer knows this task")
                await self._ended(item, attrs.evolve(gone, wire="new"))

    async def _poll_one(self, kind: str, item: Tracked) -> None:
        self.single_requests += 1
        item.last_single = self._clock.monotonic()
        try:
            task = await self._resource(kind).get(item.task_id, retry=False)
        except ResponseFormatError as exc:  # this one task's answer is unreadable: next round
            log.info("task %s: unreadable answer (%s)", item.task_id, exc)
            return
        except NotFoundError:
            log.warning("task %s is no longer known to the server", item.task_id)
            gone = lost_task(item.task_id, kind, "the server no longer knows this task")
            await self._ended(item, gone)
            return
        if task.is_final:
            await self._ended(item, task)

    def _resource(self, kind: str):  # type: ignore[no-untyped-def]
        return self._client.text_to_video if kind == "text2video" else self._client.image_to_video


#: Tasks per list page once several are in flight (the endpoint's maximum), pages read per
#: round at most, and single queries per round for tasks no page showed.
_PAGE = 500
_MAX_PAGES = 20
#: Share of the mean duration between rounds at a batch's tail (no job waits for a slot).
_TAIL_SHARE = 0.05
#: Poll requests a batch's tail may spend per job ended so far, over a mean duration of
#: looks (a big batch's tail is looked at as often as ``min_interval`` allows).
_TAIL_REQUESTS_PER_JOB = 0.1
#: Under a learned request-rate limit, the share of it polls may take.
_RATE_POLL_SHARE = 0.1
#: The share of a learned request rate polls may take once no create waits (the batch's end).
_TAIL_RATE_SHARE = 0.5
_SINGLES_PER_ROUND = 10
#: Seconds a poller woken by a new task waits for others before it plans again.
_REPLAN = 0.02
