"""One poller for every task in flight: on the legacy API the list endpoint covers up to 500
tasks a request and single queries cover the few it misses; on the new API ``GET /tasks`` asks
for 20 tasks a request. The interval follows the durations learned so far."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import attrs

from .._convert import split_tasks_from_wire
from ..errors import KlingError, NotFoundError, ResponseFormatError, ValidationError
from ..models import Task, TaskStatus
from ..resources.task_queries import MAX_IDS_PER_QUERY

if TYPE_CHECKING:
    from ..client import KlingClient

log = logging.getLogger("kling_async.batch")
DurationKey = tuple[str, str, int]  # (model, mode, duration)


@attrs.frozen
class PollPolicy:
    """How often the poller looks. ``min_interval`` while a task is due, up to
    ``max_interval`` while none is expected to end. Before any task of a kind has finished, the
    interval is ``unknown_share`` of the oldest such task's age (so a task 4 s old is looked
    at each second, one 2 minutes old every 15 s). With completion by callback, polling is a
    fallback at ``max_interval``. A failed poll is not retried on its own: the next one
    comes at the usual interval.
    """

    min_interval: float = 0.25
    max_interval: float = 15.0
    unknown_share: float = 0.25
    #: From this many tasks in flight, one list request replaces the single queries.
    list_threshold: int = 3
    #: Seconds after its create (or after a rerun picked it up) that a task may take before
    #: its job ends as ``TaskTimeoutError``; the journal keeps it, so a rerun looks again.
    task_timeout: float = 1200.0

    def __attrs_post_init__(self) -> None:
        for name in ("min_interval", "max_interval", "unknown_share", "task_timeout"):
            value = getattr(self, name)
            if not value > 0:
                raise ValidationError(name, value, "must be a positive number of seconds")
        if self.min_interval > self.max_interval:
            limit = f"must not exceed max_interval {self.max_interval}"
            raise ValidationError("min_interval", self.min_interval, limit)


class DurationModel:
    """When a task of a kind (model, mode, duration) may end: the 10th percentile of the last
    64 durations seen. A low quantile, not the mean: durations vary widely, and a task that
    ends early holds a slot for as long as nobody looks."""

    def __init__(self, quantile: float = 0.1, window: int = 64) -> None:
        self._seen: dict[DurationKey, deque[float]] = {}
        self._quantile = quantile
        self._window = window
        self._cache: dict[DurationKey, float] = {}

    def observe(self, key: DurationKey, seconds: float) -> None:
        if seconds <= 0:
            return
        seen = self._seen.setdefault(key, deque(maxlen=self._window))
        seen.append(seconds)
        ordered = sorted(seen)
        self._cache[key] = ordered[int(self._quantile * (len(ordered) - 1))]

    def expected(self, key: DurationKey) -> float | None:
        return self._cache.get(key)


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


class Poller:
    def __init__(self, client: KlingClient, policy: PollPolicy, *, callbacks: bool = False) -> None:
        self._client = client
        self.policy = policy
        self.callbacks = callbacks
        self.durations = DurationModel()
        self._tracked: dict[str, Tracked] = {}
        self._wake = asyncio.Event()
        self.list_requests = 0
        self.single_requests = 0
        self.batch_requests = 0
        #: New-API tasks asked about in each recent poll round (diagnostics and tests).
        self.batch_rounds: deque[int] = deque(maxlen=4096)

    def __len__(self) -> int:
        return len(self._tracked)

    def track(self, item: Tracked) -> None:
        if item.deadline == float("inf"):
            item.deadline = item.started + self.policy.task_timeout
        self._tracked[item.task_id] = item
        self._wake.set()

    async def _expire(self) -> None:
        """End the wait of every task past its deadline (their jobs time out)."""
        now = time.monotonic()
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
            seconds = time.monotonic() - item.started
        self.durations.observe(item.key, seconds)
        await item.on_end(task)

    def _delay(self) -> float:
        if self.callbacks:
            return self.policy.max_interval
        now = time.monotonic()
        soonest = None
        for item in self._tracked.values():
            expected = self.durations.expected(item.key)
            if expected is None:  # nothing learned yet: look more rarely as the task ages
                due_in = (now - item.started) * self.policy.unknown_share
            else:
                due_in = item.started + expected - now
            soonest = due_in if soonest is None else min(soonest, due_in)
        if soonest is None:
            return self.policy.max_interval
        deadline = min(item.deadline for item in self._tracked.values()) - now
        delay = min(self.policy.max_interval, max(self.policy.min_interval, soonest))
        return max(0.0, min(delay, deadline))

    async def run(self) -> None:
        """Poll until cancelled."""
        last = time.monotonic()
        while True:
            if not self._tracked:
                self._wake.clear()
                await self._wake.wait()
                last = time.monotonic()  # nothing new can have ended yet
            self._wake.clear()
            remaining = last + self._delay() - time.monotonic()
            if remaining > 0:
                # wake early only to re-plan: a new task may make an earlier look worthwhile
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await self._wake.wait()
                if last + self._delay() > time.monotonic():
                    continue
            last = time.monotonic()
            await self._expire()
            if not self._tracked:
                continue
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except KlingError as exc:  # a poll is never retried on its own: the next one comes
                log.info("poll failed (%s); looking again shortly", exc)
                last = time.monotonic()
            except Exception as exc:  # never let one odd answer stop every task's watch
                log.warning("poll failed unexpectedly (%r); looking again shortly", exc)
                last = time.monotonic()

    async def poll_once(self) -> None:
        new = [i for i in self._tracked.values() if i.wire == "new"]
        if new:
            await self._poll_batch(new)
        kinds = {item.kind for item in self._tracked.values() if item.wire != "new"}
        for kind in sorted(kinds):
            mine = {t: i for t, i in self._tracked.items() if i.kind == kind and i.wire != "new"}
            if len(mine) >= self.policy.list_threshold:
                await self._poll_list(kind, mine)
            else:
                await asyncio.gather(*(self._poll_one(kind, item) for item in mine.values()))

    async def _poll_list(self, kind: str, mine: dict[str, Tracked]) -> None:
        resource = self._resource(kind)
        size = min(500, max(30, 2 * len(mine)))
        self.list_requests += 1
        data = await self._client._transport.request(
            "GET", resource.path, kind="list", params={"pageNum": 1, "pageSize": size}, retry=False
        )
        page, bad = split_tasks_from_wire(data, kind)
        seen: set[str] = set()
        # an item that does not parse is looked at on its own (its single query may parse)
        unreadable = [mine[i] for i, _ in bad if i is not None and i in mine]
        seen.update(item.task_id for item in unreadable)
        for task in page:
            item = mine.get(task.task_id)
            if item is None:
                continue
            seen.add(task.task_id)
            if task.is_final:
                await self._ended(item, task)
        # Tasks not on the page: older than it (other clients created many since), or gone
        # (a short page held every task the account has). Ask for a few of them singly.
        missing = [i for t, i in mine.items() if t not in seen and t in self._tracked]
        for item in [*unreadable, *missing[:10]]:
            await self._poll_one(kind, item)

    async def _poll_batch(self, items: list[Tracked]) -> None:
        """New-API tasks, 20 per ``GET /tasks``; the chunks go out together."""
        size = MAX_IDS_PER_QUERY
        self.batch_rounds.append(len(items))
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        await asyncio.gather(*(self._poll_chunk(chunk) for chunk in chunks))

    async def _poll_chunk(self, chunk: list[Tracked]) -> None:
        self.batch_requests += 1
        data = await self._client._transport.request(
            "GET",
            "/tasks",
            kind="query",
            params={"task_ids": ",".join(i.task_id for i in chunk)},
            retry=False,
            wire="new",
        )
        found, bad = split_tasks_from_wire(data if data is not None else [], chunk[0].kind, "new")
        by_id = {t.task_id: t for t in found}
        unreadable = {i for i, _ in bad if i is not None}
        for item in chunk:
            if item.task_id in unreadable:  # its answer does not parse: it is there, though
                item.misses = 0
                continue
            task = by_id.get(item.task_id)
            if task is None:
                item.misses += 1
                if item.misses >= 2 and item.task_id in self._tracked:
                    log.warning("task %s is no longer known to the server", item.task_id)
                    gone = lost_task(
                        item.task_id, item.kind, "the server no longer knows this task"
                    )
                    await self._ended(item, attrs.evolve(gone, wire="new"))
                continue
            item.misses = 0
            if task.is_final:
                await self._ended(item, attrs.evolve(task, kind=item.kind))

    async def _poll_one(self, kind: str, item: Tracked) -> None:
        self.single_requests += 1
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
