"""``RedisWindow``: one model family's share of the account's parallel-task limit, in Redis.

The slots are leases in a sorted set (see ``_lua``): a lease of ``count`` slots (an image
task of ``count`` images) is that many members, taken, renewed and given back together.
In each process one acquirer per window talks to Redis, however many callers wait: between
the release notifications its governor relays, it looks again after a delay from
``backoff`` (20 ms doubling to at most 1 s, or a quarter of the lease), which is what finds
slots freed by expiry (an expiry sends nothing).
A Redis that does not answer is tried again every second (``retry``) while a slot is wanted,
for about ``give_up_after`` seconds of tries at a stretch; each look is a plain call, so a
Redis that answers costs nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

from .._retry import backoff, retry
from ..errors import GovernorUnavailableError
from ._redis_link import RECONNECT, TTL_MS, Link

log = logging.getLogger("kling_async.governor")

#: Seconds a slot taken ahead for the batch dispatcher may stay unused.
_SPARE_IDLE = 1.0
#: Looking again for a free slot: the first delay, and the most (also at most lease / 4).
_MIN_BACKOFF = 0.02
_MAX_BACKOFF = 1.0


def _checked(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count: {count!r} must be a whole number of slots, 1 or more")
    return count


class RedisWindow:
    """One model family's share of the account's parallel-task limit, held in Redis.

    The same steps as ``ConcurrencyWindow``; ``limit`` and ``learned`` are the shared ones as
    last seen, ``in_flight`` the slots this window holds. For the batch dispatcher,
    ``has_room(count)`` asks for a lease of ``count`` slots ahead (one lease at a time) and
    says True once it holds one; ``reserve`` (``generate()``) waits for its own. Held slots
    are fungible: a release of ``count`` gives back any ``count`` of them, in one step.
    """

    def __init__(
        self,
        governor: Link,
        account: str,
        family: str,
        *,
        initial: int = 4,
        cap: int | None = None,
        condition: asyncio.Condition | None = None,
    ) -> None:
        self._gov = governor
        self.family = family
        tag = "{" + f"{account}:{family}" + "}"
        #: The family's keys in Redis: slots, state, answers, pending (see ``_lua``).
        self.keys = [governor.key(tag, name) for name in ("slots", "state", "answers", "pending")]
        self.channel = governor.key(tag, "freed")
        self._initial = initial
        self.cap = cap
        self._condition = condition or asyncio.Condition()
        self.limit = min(initial, cap) if cap is not None else initial
        self.learned: int | None = None
        self.in_flight = 0
        self.limited = 0
        #: Slots held for tasks, by id (fungible: a release gives back any ``count`` of them).
        self._held: list[str] = []
        #: Held slots whose create has no answer yet (``answered`` tells Redis).
        self._unanswered: list[str] = []
        #: Leases taken ahead for the dispatcher: (slot ids, when).
        self._spare: deque[tuple[list[str], float]] = deque()
        #: The slots of the lease the dispatcher wants ahead (0: none).
        self._want_spare = 0
        #: The slots of the lease the acquirer last looked for (0: none yet).
        self._looking_for = 0
        #: ``reserve`` callers: (the lease they get, its slots).
        self._waiters: deque[tuple[asyncio.Future[list[str]], int]] = deque()
        self._acquirer: asyncio.Task[None] | None = None
        self.freed = asyncio.Event()
        #: Since when taking a slot has failed (Redis unreachable), and why.
        self._failing: tuple[float, Exception] | None = None
        self._registered = False
        self._closed = False

    def __repr__(self) -> str:
        return f"RedisWindow({self.family!r}, limit={self.limit}, in_flight={self.in_flight})"

    @property
    def held(self) -> tuple[str, ...]:
        """The ids of the slots this window holds for tasks."""
        return tuple(self._held)

    def _seen(self, limit: Any, learned: Any) -> None:
        self.limit = int(limit)
        self.learned = None if int(learned) < 0 else int(learned)

    # -- taking slots ---------------------------------------------------------------------
    def _spare_of(self, count: int) -> int | None:
        """Where in the spare leases one of ``count`` slots is, if any."""
        return next((i for i, (ids, _) in enumerate(self._spare) if len(ids) == count), None)

    def has_room(self, count: int = 1) -> bool:
        """A lease of ``count`` slots is held ahead for ``take``; if not, one is asked for
        (taken all at once, when the account's window has room for all of them)."""
        _checked(count)
        if self._spare_of(count) is not None:
            return True
        if self._failing is not None:
            since, exc = self._failing
            if time.monotonic() - since >= self._gov.give_up_after:
                raise GovernorUnavailableError(
                    f"Redis has not answered the shared governor for {self._gov.give_up_after:g}"
                    f" s ({exc!r})"
                ) from exc
        if self.cap is not None and self.in_flight > 0 and self.in_flight + count > self.cap:
            return False
        self._want_spare = count
        self._look_now_if_changed()
        self._start_acquirer()
        return False

    def _look_now_if_changed(self) -> None:
        """A lease of another size is wanted first now: the acquirer, maybe backing off
        after failing to find the old size, looks at once (a smaller one may fit)."""
        if self._wanted() != self._looking_for:
            self.freed.set()

    def take(self, count: int = 1) -> None:
        """Take the lease of ``count`` slots that ``has_room(count)`` said is held."""
        where = self._spare_of(_checked(count))
        if where is None:
            raise RuntimeError(f"take({count}) without has_room({count}) saying True")
        ids, _ = self._spare[where]
        del self._spare[where]
        self._hold(ids, answered=False)

    def _hold(self, ids: list[str], *, answered: bool) -> None:
        self._held.extend(ids)
        if not answered:
            self._unanswered.extend(ids)
        self.in_flight += len(ids)

    async def acquire(self) -> None:
        """Wait for a slot and hold it (no create to account for: see ``reserve``)."""
        await self.reserve()
        await self.answered()

    async def reserve(self, count: int = 1) -> None:
        """Wait for ``count`` slots for a create, taken at once; call ``answered`` once the
        create has its answer (until then they count among the creates on their way, for
        slow start)."""
        waiter: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        self._waiters.append((waiter, _checked(count)))
        self._look_now_if_changed()
        self._start_acquirer()
        try:
            ids = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # handed over just as the caller gave up: spare, used or given back soon
                self._spare.append((waiter.result(), time.monotonic()))
            raise
        self._hold(ids, answered=False)

    def _start_acquirer(self) -> None:
        if self._closed:
            return
        if not self._registered:
            self._gov.register(self)
            self._registered = True
        if self._acquirer is None or self._acquirer.done():
            self._acquirer = asyncio.get_running_loop().create_task(
                self._acquire_loop(), name=f"kling-governor-acquire-{self.family}"
            )

    def _wanted(self) -> int:
        """The slots of the lease wanted next (0: none)."""
        while self._waiters and self._waiters[0][0].done():
            self._waiters.popleft()  # cancelled while waiting
        return self._waiters[0][1] if self._waiters else self._want_spare

    async def _acquire_loop(self) -> None:
        """Take slots while someone wants one. A Redis that fails is tried again a second
        apart (``retry``), for about ``give_up_after`` seconds of tries; once it answers again,
        the next failure has as many tries (a fresh ``retry``)."""
        tries = int(self._gov.give_up_after / RECONNECT) + 1
        try:
            while await retry(
                self._take_while_wanted,
                retry_if=lambda exc: isinstance(exc, Exception),
                wait=lambda n, exc: backoff(n, initial=RECONNECT, cap=RECONNECT),
                attempts=tries,
                what=f"governor: taking a {self.family} slot",
            ):
                pass
        except Exception:
            return  # Redis away through every try: ``has_room`` says so; a new demand restarts

    async def _take_while_wanted(self, attempt: int) -> bool:
        """Look for slots while someone wants one: after a look that finds none free, wait
        for a release (or a delay from ``backoff``) and look again. False once nobody wants
        one; True as soon as a look is answered on a try after a failure (see above)."""
        misses = 0  # looks in a row that found no slot free
        most = min(_MAX_BACKOFF, self._gov.lease / 4)
        while (ids := await self._look()) is not None:
            if ids:
                misses = 0
                await self._hand_over(ids)
            else:
                misses += 1
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(backoff(misses, initial=_MIN_BACKOFF, cap=most)):
                        await self.freed.wait()
            if attempt > 1:
                return True
        return False

    async def _look(self) -> list[str] | None:
        """One try at the lease wanted first: its slot ids if they were free, ``[]`` if not,
        None if nobody wants one any more. A Redis that fails is logged, fails the
        ``generate()`` callers waiting at once, wakes the dispatcher, and is raised (to be
        tried again)."""
        count = self._looking_for = self._wanted()
        if not count:
            return None
        await self._drop_spares_but(count)
        self.freed.clear()
        ids = [self._gov.lease_id() for _ in range(count)]
        lease_ms = int(self._gov.lease * 1000)
        try:
            got, _, limit, learned = await self._gov.run(
                "ACQUIRE", self.keys, [TTL_MS, lease_ms, self._initial, *ids]
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("governor: taking a %s slot failed (%r)", self.family, exc)
            if self._failing is None:
                self._failing = (time.monotonic(), exc)
            async with self._condition:
                self._condition.notify_all()  # the dispatcher looks at has_room again
            while self._waiters:  # generate() callers hear of it at once
                waiter, _ = self._waiters.popleft()
                if not waiter.done():
                    error = GovernorUnavailableError(
                        f"Redis did not answer the shared governor ({exc!r})"
                    )
                    error.__cause__ = exc
                    waiter.set_exception(error)
            raise  # the dispatcher's demand stays: tried again
        self._failing = None
        self._seen(limit, learned)
        return ids if got else []

    async def _drop_spares_but(self, count: int) -> None:
        """Give back the spare leases of another size than the one wanted now (the
        dispatcher's first job changed): they would only hold slots it cannot use."""
        other = [ids for ids, _ in self._spare if len(ids) != count]
        if other:
            self._spare = deque((ids, at) for ids, at in self._spare if len(ids) == count)
            await self._give_back([i for ids in other for i in ids], completed=False)

    async def _hand_over(self, ids: list[str]) -> None:
        """A lease to the first caller waiting for one of its size, else to the dispatcher
        if it wants one of that size, else back to Redis."""
        for entry in list(self._waiters):
            waiter, count = entry
            if waiter.done():
                self._waiters.remove(entry)
            elif count == len(ids):
                self._waiters.remove(entry)
                waiter.set_result(ids)
                return
        if self._want_spare == len(ids):
            self._want_spare = 0
            self._spare.append((ids, time.monotonic()))
            async with self._condition:
                self._condition.notify_all()
            return
        await self._give_back(ids, completed=False)  # nobody wants it any more

    async def force_acquire(self, count: int = 1) -> None:
        """A task already running on the server (resumed from a journal): its ``count``
        slots counted at once, without asking."""
        ids = [self._gov.lease_id() for _ in range(_checked(count))]
        if not self._registered:
            self._gov.register(self)
            self._registered = True
        self._hold(ids, answered=True)
        await self._quietly("HOLD", [TTL_MS, int(self._gov.lease * 1000), *ids])

    # -- what happened to the create and the task ------------------------------------------
    async def answered(self, count: int = 1) -> None:
        """The create of ``count`` slots has its answer: they no longer count as on their way."""
        ids = self._unanswered[: _checked(count)]
        if ids:
            del self._unanswered[: len(ids)]
            await self._quietly("ANSWERED", ids)

    async def accepted(self) -> None:
        result = await self._quietly("ACCEPTED", [TTL_MS])
        if result is not None:
            self._seen(*result)

    def _let_go(self, count: int) -> list[str]:
        """Stop holding ``count`` slots (those a release or a 1303 is about): which."""
        ids = self._held[len(self._held) - min(_checked(count), len(self._held)) :]
        del self._held[len(self._held) - len(ids) :]
        self.in_flight -= len(ids)
        gone = set(ids)
        self._unanswered = [i for i in self._unanswered if i not in gone]
        return ids

    async def release(self, *, completed: bool = True, count: int = 1) -> None:
        """The task of ``count`` slots ended: they go back together, in one step."""
        ids = self._let_go(count)
        if not ids:
            return
        await self._give_back(ids, completed=completed)
        async with self._condition:
            self._condition.notify_all()

    async def over_limit(self, count: int = 1) -> None:
        """A create of ``count`` slots got 1303: they go back, and the shared limit learns."""
        ids = self._let_go(count)
        self.limited += 1
        if not ids:
            return
        result = await self._quietly(
            "OVER_LIMIT",
            [TTL_MS, self.channel, self._gov.probe_every, self._gov.max_probe_every, *ids],
        )
        if result is not None:
            self._seen(*result)
        async with self._condition:
            self._condition.notify_all()

    async def _give_back(self, ids: list[str], *, completed: bool) -> None:
        if not ids:
            return
        result = await self._quietly(
            "RELEASE",
            [TTL_MS, self.channel, int(completed), self._gov.probe_every, *ids],
        )
        if result is not None:
            self._seen(*result)

    async def _quietly(self, script: str, args: list[Any]) -> Any:
        """A bookkeeping step that must not fail a job: a lease left behind expires."""
        try:
            return await self._gov.run(script, self.keys, args)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("governor: %s for %s failed (%r)", script.lower(), self.family, exc)
            return None

    # -- upkeep ---------------------------------------------------------------------------
    def _spare_ids(self) -> list[str]:
        return [i for ids, _ in self._spare for i in ids]

    async def tick(self, renew: bool) -> None:
        """Give back spare slots the dispatcher left unused; renew the leases if due."""
        now = time.monotonic()
        stale = [ids for ids, at in self._spare if now - at > _SPARE_IDLE]
        if stale:
            self._spare = deque((ids, at) for ids, at in self._spare if now - at <= _SPARE_IDLE)
            await self._give_back([i for ids in stale for i in ids], completed=False)
        slots = self._held + self._spare_ids()
        if renew and slots:
            gone = await self._gov.run(
                "RENEW", self.keys, [TTL_MS, int(self._gov.lease * 1000), *slots]
            )
            # a slot released while the renewal was on its way is gone, and rightly so
            still = set(self._held) | set(self._spare_ids())
            lost = sum(
                1 for slot in gone if (slot.decode() if isinstance(slot, bytes) else slot) in still
            )
            if lost:
                log.warning(
                    "governor: %d %s slot(s) expired before renewal (this process was paused "
                    "longer than the lease?): the account may be oversubscribed until they end",
                    lost,
                    self.family,
                )

    async def close(self) -> None:
        """Give every lease back (a batch that stops leaves its tasks to the journal)."""
        if self._closed:
            return
        self._closed = True
        if self._acquirer is not None:
            self._acquirer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._acquirer
        for waiter, _ in self._waiters:
            waiter.cancel()
        slots = self._held + self._spare_ids()
        self._held, self._spare, self._unanswered = [], deque(), []
        self.in_flight = 0
        if self._gov.connected:
            await self._give_back(slots, completed=False)
        self._gov.unregister(self)
