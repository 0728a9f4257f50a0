"""One poller for every task in flight: on the legacy API the list endpoint covers up to 500
tasks a request and single queries cover the few it misses; on the new API ``GET /tasks`` asks
for 20 tasks a request. When to look is ``_poll_plan``'s; what ended goes out on ``ends``, a
queue the engine reads (one list per round, so that a round's ends are handled together)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import attrs

from .._convert import task_from_wire
from .._durations import DurationKey, DurationModel
from ..errors import KlingError, NotFoundError, ResponseFormatError
from ..resources.task_queries import MAX_IDS_PER_QUERY
from ..results import Task
from ..states import TaskStatus, maybe_final
from ._poll_plan import PollPolicy, round_interval
from ._together import together

if TYPE_CHECKING:
    from ._client import BatchClient

log = logging.getLogger("kling_async.batch")
J = TypeVar("J")


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
class Tracked(Generic[J]):
    """A task the poller watches, and the job (``job``: the caller's) it belongs to."""

    task_id: str
    kind: str
    key: DurationKey
    started: float  # monotonic, when the create was answered
    job: J
    #: The API that holds the task: ``legacy`` or ``new``.
    wire: str = "legacy"
    #: Batch queries in a row that did not return it (two: the server has lost it).
    misses: int = 0
    #: Monotonic time after which its job ends as timed out (see ``PollPolicy.task_timeout``).
    deadline: float = float("inf")
    #: When a single query last asked for it (rotation among tasks no list page shows).
    last_single: float = 0.0
    #: Its place in the order tasks were tracked (how deep in the list pages it lies).
    seq: int = 0
    #: Queries in a row that failed for it; it is not looked at again before ``retry_at``.
    failures: int = 0
    retry_at: float = 0.0


@attrs.frozen
class Ending(Generic[J]):
    """A tracked task's end as the poller saw it; ``task`` None: its deadline passed first
    (the task may still end: the journal keeps it for a rerun)."""

    tracked: Tracked[J]
    task: Task | None


class Demand(Protocol):
    """What the poll budget reads of the rest of the batch (the dispatcher)."""

    @property
    def backlog(self) -> bool:
        """Jobs wait for a slot (or may still come)."""
        ...

    @property
    def creating(self) -> bool:
        """A create waits to be sent or answered."""
        ...


class _Standalone:
    """A poller without a dispatcher: always a backlog, never a create waiting."""

    backlog = True
    creating = False


class Poller(Generic[J]):
    """Watches the tasks it is given (``track``) until each ends, is lost, or passes its
    deadline, and says so on ``ends``; run it with ``run()`` (until cancelled)."""

    def __init__(
        self,
        client: BatchClient,
        policy: PollPolicy,
        *,
        callbacks: bool = False,
        demand: Demand | None = None,
    ) -> None:
        self._client = client
        self._clock = client.clock
        self.policy = policy
        self.callbacks = callbacks
        self.durations = DurationModel()
        self._demand: Demand = demand if demand is not None else _Standalone()
        self._tracked: dict[str, Tracked[J]] = {}
        #: What ended (or timed out), a list per round: the engine's to take.
        self.ends: asyncio.Queue[list[Ending[J]]] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._last_round = self._clock.monotonic()
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

    def track(self, item: Tracked[J]) -> None:
        if item.deadline == float("inf"):
            item.deadline = item.started + self.policy.task_timeout
        self._seq += 1
        item.seq = self._seq
        self._tracked[item.task_id] = item
        self._wake.set()

    def _expire(self) -> None:
        """End the wait of every task past its deadline (their jobs time out)."""
        now = self._clock.monotonic()
        late = [i for i in self._tracked.values() if i.deadline <= now]
        for item in late:
            del self._tracked[item.task_id]
        if late:
            self.ends.put_nowait([Ending(item, None) for item in late])

    async def notify(self, task: Task) -> bool:
        """A task state from elsewhere (a verified callback). True if it ended a tracked task."""
        item = self._tracked.get(task.task_id)
        if item is None or not task.is_final:
            return False
        self._end_all([(item, task)])
        return True

    def _ended(self, item: Tracked[J], task: Task) -> Ending[J] | None:
        if self._tracked.pop(item.task_id, None) is None:
            return None  # already handled (a callback and a poll both saw it)
        if task.created_at is not None and task.updated_at is not None:
            seconds = (task.updated_at - task.created_at).total_seconds()
        else:
            seconds = self._clock.monotonic() - item.started
        self.durations.observe(item.key, seconds)
        self.ended += 1
        return Ending(item, task)

    def _end_all(self, ended: Iterable[tuple[Tracked[J], Task]]) -> None:
        """Hand every task a round saw end to the engine at once: their slots free together
        and their journal updates share a transaction."""
        endings = [e for e in (self._ended(item, task) for item, task in ended) if e is not None]
        if endings:
            self.ends.put_nowait(endings)

    def _failed(self, items: Iterable[Tracked[J]]) -> None:
        """Their queries failed: each is looked at again later, the later the more in a row."""
        now = self._clock.monotonic()
        for item in items:
            item.failures += 1
            item.retry_at = now + self.policy.after_failures(item.failures)

    def _due_in(self, item: Tracked[J], now: float) -> float:
        """Seconds until the task may have ended (<= 0: it is due)."""
        expected = self.durations.expected(item.key)
        if expected is None:  # nothing learned yet: look more rarely as the task ages
            due = (now - item.started) * self.policy.unknown_share - (now - self._last_round)
        else:
            due = item.started + expected - now
        if item.failures:  # its last queries failed: not before its back-off has passed
            return max(due, item.retry_at - now)
        return due

    def _round_interval(self, due: list[Tracked[J]]) -> float:
        """The budgeted time between poll rounds while ``due`` tasks are due."""
        means = [m for m in (self.durations.mean(i.key) for i in due) if m is not None]
        return round_interval(
            self.policy,
            sum(means) / len(means) if means else None,
            in_flight=len(self._tracked),
            round_cost=self._round_cost,
            ended=self.ended,
            rate=self._client.pacer.rate,
            backlog=self._demand.backlog,
            creating=self._demand.creating,
        )

    def next_round(self, last: float, now: float) -> float:
        """When the next poll round is due (monotonic): when the soonest task may have ended,
        but no sooner after the last round than the budget allows (``min_interval`` at
        least), no later than ``max_interval``, never past a deadline."""
        policy = self.policy
        if not self._tracked:
            return now + policy.max_interval
        if self.callbacks:  # a fallback: only for a task whose callback is overdue
            deadline = min(item.deadline for item in self._tracked.values())
            oldest = min(item.started for item in self._tracked.values())
            return min(max(last, oldest) + policy.max_interval, deadline)
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
            self._expire()
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
        if self.callbacks:  # tasks end by callback: look only at those whose is overdue
            overdue = now - self.policy.max_interval
            due = [i for i in self._tracked.values() if i.started <= overdue]
        else:
            due = [i for i in self._tracked.values() if self._due_in(i, now) <= 0]
        if not due:  # asked directly (tests): look at everything
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
        try:
            await together(jobs)
        finally:
            self._round_cost = 0.7 * self._round_cost + 0.3 * (self.requests - before)

    async def _poll_list(self, kind: str, mine: dict[str, Tracked[J]], wanted: set[str]) -> None:
        """List pages, newest first, until every ``wanted`` (due) task of the kind was seen
        (or a page came back short: the account holds no older tasks). Only items that ended
        are converted; the rest are merely marked seen."""
        resource = self._client.resource_for(kind)
        # a page as deep as the oldest due task lies (tasks tracked since; a fifth more for
        # other clients'), in pages of at most 500
        depth = self._seq - min(mine[t].seq for t in wanted) + 1
        size = min(_PAGE, max(30, depth + depth // 5))
        unseen = set(wanted)
        unreadable: list[Tracked[J]] = []
        ended: list[tuple[Tracked[J], Task]] = []
        # enough pages to reach the oldest due task, and one for other clients' tasks
        pages = min(_MAX_PAGES, -(-(depth + depth // 5) // size) + 1)
        for number in range(1, pages + 1):
            self.list_requests += 1
            try:
                data = await self._client.request(
                    "GET",
                    resource.path,
                    kind="list",
                    params={"pageNum": number, "pageSize": size},
                    retry=False,
                )
                if not isinstance(data, list):
                    raise ResponseFormatError("task list: expected an array", body=data)
            except Exception:
                self._end_all(ended)  # what the pages read so far showed ended, ended
                self._failed(mine[t] for t in unseen)
                raise
            for raw in data:
                item = self._match(raw, "task_id", mine)
                if item is None:
                    continue
                unseen.discard(item.task_id)
                if item.failures:
                    item.failures = 0
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
        self._end_all(ended)
        # Not on any page read: gone (a short page held every task the account has), or
        # older than the pages read. Ask for a few of them singly, the least recently asked.
        missing = sorted((mine[t] for t in unseen), key=lambda i: i.last_single)
        for item in [*unreadable, *missing[:_SINGLES_PER_ROUND]]:
            if item.task_id in self._tracked:
                await self._poll_one(kind, item)

    def _match(self, raw: Any, key: str, mine: dict[str, Tracked[J]]) -> Tracked[J] | None:
        if not isinstance(raw, dict):
            return None
        ident = raw.get(key)
        if isinstance(ident, int) and not isinstance(ident, bool):
            ident = str(ident)
        return mine.get(ident) if isinstance(ident, str) else None

    async def _poll_batch(self, items: list[Tracked[J]]) -> None:
        """New-API tasks, 20 per ``GET /tasks``; the chunks go out together."""
        size = MAX_IDS_PER_QUERY
        self.batch_rounds.append(len(items))
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        await together(self._poll_chunk(chunk) for chunk in chunks)

    async def _poll_chunk(self, chunk: list[Tracked[J]]) -> None:
        self.batch_requests += 1
        try:
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
        except Exception:
            self._failed(chunk)
            raise
        mine = {i.task_id: i for i in chunk}
        seen: set[str] = set()
        ended: list[tuple[Tracked[J], Task]] = []
        for raw in data:
            item = self._match(raw, "id", mine)
            if item is None:
                continue
            seen.add(item.task_id)
            item.misses = 0
            if item.failures:
                item.failures = 0
            if not maybe_final(raw.get("status")):
                continue
            try:
                task = task_from_wire(raw, item.kind, "new")
            except ResponseFormatError as exc:  # it is there; its answer does not parse
                log.info("task %s: unreadable answer (%s)", item.task_id, exc)
                continue
            if task.is_final:
                ended.append((item, attrs.evolve(task, kind=item.kind)))
        for item in chunk:
            if item.task_id in seen:
                continue
            item.misses += 1
            if item.misses >= 2 and item.task_id in self._tracked:
                log.warning("task %s is no longer known to the server", item.task_id)
                gone = lost_task(item.task_id, item.kind, "the server no longer knows this task")
                ended.append((item, attrs.evolve(gone, wire="new")))
        self._end_all(ended)

    async def _poll_one(self, kind: str, item: Tracked[J]) -> None:
        self.single_requests += 1
        item.last_single = self._clock.monotonic()
        try:
            task = await self._client.resource_for(kind).get(item.task_id, retry=False)
        except ResponseFormatError as exc:  # this one task's answer is unreadable: next round
            log.info("task %s: unreadable answer (%s)", item.task_id, exc)
            self._failed([item])
            return
        except NotFoundError:
            log.warning("task %s is no longer known to the server", item.task_id)
            gone = lost_task(item.task_id, kind, "the server no longer knows this task")
            self._end_all([(item, gone)])
            return
        except Exception:
            self._failed([item])
            raise
        if item.failures:
            item.failures = 0
        if task.is_final:
            self._end_all([(item, task)])


#: Tasks per list page once several are in flight (the endpoint's maximum), pages read per
#: round at most, and single queries per round for tasks no page showed.
_PAGE = 500
_MAX_PAGES = 20
_SINGLES_PER_ROUND = 10
#: Seconds a poller woken by a new task waits for others before it plans again.
_REPLAN = 0.02
