"""``RedisWindow``: one model family's share of the account's parallel-task limit, in Redis.

The slots are leases in a sorted set (see ``_lua``). In each process one acquirer per window
talks to Redis, however many callers wait: between the release notifications its governor
relays, it looks again after a delay from ``backoff`` (20 ms doubling to at most 1 s, or a
quarter of the lease), which is what finds slots freed by expiry (an expiry sends nothing).
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


def _one(count: int) -> None:
    if count != 1:
        raise ValueError(f"count: {count} must be 1 (a shared window takes one slot a create)")


class RedisWindow:
    """One model family's share of the account's parallel-task limit, held in Redis.

    The same steps as ``ConcurrencyWindow``; ``limit`` and ``learned`` are the shared ones as
    last seen, ``in_flight`` the slots this window holds. For the batch dispatcher,
    ``has_room`` asks for a slot ahead (one at a time) and says True once it holds one;
    ``acquire`` (``generate()``) waits for its own.
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
        #: Leases held for tasks (fungible: a release gives back any one of them).
        self._held: list[str] = []
        #: Held leases whose create has no answer yet (``answered`` tells Redis).
        self._unanswered: list[str] = []
        #: Leases taken ahead for the dispatcher: (id, when).
        self._spare: deque[tuple[str, float]] = deque()
        self._want_spare = False
        self._waiters: deque[asyncio.Future[str]] = deque()
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
        """The ids of the leases this window holds for tasks."""
        return tuple(self._held)

    def _seen(self, limit: Any, learned: Any) -> None:
        self.limit = int(limit)
        self.learned = None if int(learned) < 0 else int(learned)

    # -- taking a slot ------------------------------------------------------------------
    #: One lease a create: an image task of several images cannot be counted here yet (the
    #: batch refuses it with this governor rather than undercount the account).
    multi_slot = False

    def has_room(self, count: int = 1) -> bool:
        _one(count)
        if self._spare:
            return True
        if self._failing is not None:
            since, exc = self._failing
            if time.monotonic() - since >= self._gov.give_up_after:
                raise GovernorUnavailableError(
                    f"Redis has not answered the shared governor for {self._gov.give_up_after:g}"
                    f" s ({exc!r})"
                ) from exc
        if self.cap is not None and self.in_flight >= self.cap:
            return False
        self._want_spare = True
        self._start_acquirer()
        return False

    def take(self, count: int = 1) -> None:
        _one(count)
        lease, _ = self._spare.popleft()
        self._held.append(lease)
        self._unanswered.append(lease)
        self.in_flight += 1

    async def acquire(self) -> None:
        """Wait for a slot and hold it (no create to account for: see ``reserve``)."""
        await self.reserve()
        await self.answered()

    async def reserve(self) -> None:
        """Wait for a slot for a create; call ``answered`` once the create has its answer
        (until then it counts among the creates on their way, for slow start)."""
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._start_acquirer()
        try:
            lease = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # handed over just as the caller gave up: spare, used or given back soon
                self._spare.append((waiter.result(), time.monotonic()))
            raise
        self._held.append(lease)
        self._unanswered.append(lease)
        self.in_flight += 1

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

    def _wanted(self) -> bool:
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()  # cancelled while waiting
        return bool(self._waiters) or self._want_spare

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
        while (lease := await self._look()) is not None:
            if lease:
                misses = 0
                await self._hand_over(lease)
            else:
                misses += 1
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(backoff(misses, initial=_MIN_BACKOFF, cap=most)):
                        await self.freed.wait()
            if attempt > 1:
                return True
        return False

    async def _look(self) -> str | None:
        """One try at a slot: its lease id if one was free, ``""`` if none was, None if
        nobody wants one any more. A Redis that fails is logged, fails the ``generate()``
        callers waiting at once, wakes the dispatcher, and is raised (to be tried again)."""
        if not self._wanted():
            return None
        self.freed.clear()
        lease = self._gov.lease_id()
        try:
            got, _, limit, learned = await self._gov.run(
                "ACQUIRE", self.keys, [TTL_MS, lease, int(self._gov.lease * 1000), self._initial]
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
                waiter = self._waiters.popleft()
                if not waiter.done():
                    error = GovernorUnavailableError(
                        f"Redis did not answer the shared governor ({exc!r})"
                    )
                    error.__cause__ = exc
                    waiter.set_exception(error)
            raise  # the dispatcher's demand stays: tried again
        self._failing = None
        self._seen(limit, learned)
        return lease if got else ""

    async def _hand_over(self, lease: str) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(lease)
                return
        if self._want_spare:
            self._want_spare = False
            self._spare.append((lease, time.monotonic()))
            async with self._condition:
                self._condition.notify_all()
            return
        await self._give_back([lease], completed=False)  # nobody wants it any more

    async def force_acquire(self, count: int = 1) -> None:
        """A task already running on the server (resumed from a journal): counted at once."""
        _one(count)
        lease = self._gov.lease_id()
        if not self._registered:
            self._gov.register(self)
            self._registered = True
        self._held.append(lease)
        self.in_flight += 1
        await self._quietly("HOLD", [TTL_MS, int(self._gov.lease * 1000), lease])

    # -- what happened to the create and the task ------------------------------------------
    async def answered(self, count: int = 1) -> None:
        """The create of a slot has its answer: it no longer counts as on its way."""
        _one(count)
        if self._unanswered:
            await self._quietly("ANSWERED", [self._unanswered.pop(0)])

    async def accepted(self) -> None:
        result = await self._quietly("ACCEPTED", [TTL_MS])
        if result is not None:
            self._seen(*result)

    def _let_go(self) -> str | None:
        """Stop holding one lease (the one a release or a 1303 is about): which, if any."""
        if not self._held:
            return None
        lease = self._held.pop()
        self.in_flight -= 1
        if lease in self._unanswered:
            self._unanswered.remove(lease)
        return lease

    async def release(self, *, completed: bool = True, count: int = 1) -> None:
        _one(count)
        lease = self._let_go()
        if lease is None:
            return
        await self._give_back([lease], completed=completed)
        async with self._condition:
            self._condition.notify_all()

    async def over_limit(self, count: int = 1) -> None:
        _one(count)
        self.limited += 1
        lease = self._let_go()
        if lease is None:
            return
        result = await self._quietly(
            "OVER_LIMIT",
            [TTL_MS, self.channel, lease, self._gov.probe_every, self._gov.max_probe_every],
        )
        if result is not None:
            self._seen(*result)
        async with self._condition:
            self._condition.notify_all()

    async def _give_back(self, leases: list[str], *, completed: bool) -> None:
        if not leases:
            return
        result = await self._quietly(
            "RELEASE",
            [TTL_MS, self.channel, int(completed), self._gov.probe_every, *leases],
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
    async def tick(self, renew: bool) -> None:
        """Give back spare slots the dispatcher left unused; renew the leases if due."""
        now = time.monotonic()
        stale = [lease for lease, at in self._spare if now - at > _SPARE_IDLE]
        if stale:
            self._spare = deque((lease, at) for lease, at in self._spare if lease not in stale)
            await self._give_back(stale, completed=False)
        leases = self._held + [lease for lease, _ in self._spare]
        if renew and leases:
            gone = await self._gov.run(
                "RENEW", self.keys, [TTL_MS, int(self._gov.lease * 1000), *leases]
            )
            # a lease released while the renewal was on its way is gone, and rightly so
            still = set(self._held) | {lease for lease, _ in self._spare}
            lost = sum(
                1
                for lease in gone
                if (lease.decode() if isinstance(lease, bytes) else lease) in still
            )
            if lost:
                log.warning(
                    "governor: %d %s lease(s) expired before renewal (this process was paused "
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
        for waiter in self._waiters:
            waiter.cancel()
        leases = self._held + [lease for lease, _ in self._spare]
        self._held, self._spare, self._unanswered = [], deque(), []
        self.in_flight = 0
        if self._gov.connected:
            await self._give_back(leases, completed=False)
        self._gov.unregister(self)
