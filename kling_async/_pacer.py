"""The account governor's pacer: one for every request a client makes.

It spaces requests evenly (no bursts) at a rate it adapts like TCP: when 1302s make up a real
share of the recent answers (a quarter of the last 40, at least three) it halves (or drops to
half of what was really being sent, if that is lower) and holds every request until the
Retry-After has passed, then grows back a few percent per second. A stray 1302 among
successes only delays its own request's retry: it is no reason to slow the whole account.
Until the server first pushes back it slows nothing down, unless the caller gave a ceiling.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

import attrs


@attrs.define
class PacerStats:
    rate_limited: int = 0
    waits: int = 0


class Pacing(Protocol):
    """What the transport needs of a pacer: ``Pacer`` here, or the shared one of
    ``RedisGovernor``. ``turn`` before each request; then ``answered`` or ``rate_limited``."""

    rate: float | None
    stats: PacerStats

    async def turn(self, priority: int = 0) -> None: ...

    def answered(self) -> None: ...

    def rate_limited(self, retry_after: float | None) -> None: ...


class Pacer:
    """Even spacing of requests at an adaptive rate (requests per second)."""

    def __init__(
        self,
        *,
        max_rate: float | None = None,
        min_rate: float = 0.2,
        decrease: float = 0.5,
        growth_per_second: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        #: None until the server first says 1302 (or the caller sets a ceiling).
        self.rate: float | None = max_rate
        self.max_rate = max_rate
        self.min_rate = min_rate
        self.decrease = decrease
        self.growth = growth_per_second
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._blocked_until = 0.0
        self._grown_at = clock()
        self._sent: deque[float] = deque(maxlen=256)
        #: The last answers: True for a 1302. A decision needs a real share of them.
        self._answers: deque[bool] = deque(maxlen=40)
        self.limited_share = 0.25
        self.limited_minimum = 3
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._runner: asyncio.Task[None] | None = None
        self.stats = PacerStats()

    def _observed_rate(self, now: float) -> float | None:
        recent = [t for t in self._sent if now - t <= 2.0]
        if len(recent) < 2:
            return None
        return len(recent) / max(0.25, now - recent[0])

    async def turn(self, priority: int = 0) -> None:
        """Wait for this request's slot; slots are 1/rate apart. While requests wait, the
        lowest ``priority`` goes first (queries 0, creates 1: a poll that frees a slot is
        worth more than a create that would only wait for one); equal ones in arrival order."""
        now = self._clock()
        self._grow(now)
        ready = now >= self._blocked_until and (self.rate is None or now >= self._next)
        if ready and not self._waiting:
            if self.rate is not None:
                self._next = now + 1.0 / self.rate
            self._sent.append(now)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._order), waiter))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(
                self._hand_out(), name="kling-pacer"
            )
        try:
            await waiter
        except asyncio.CancelledError:
            waiter.cancel()  # its slot goes to the next one
            raise

    async def _hand_out(self) -> None:
        """Give the waiting requests their slots, in priority order, one per 1/rate."""
        while self._waiting:
            now = self._clock()
            self._grow(now)
            start = max(now, self._blocked_until)
            if self.rate is not None:
                start = max(start, self._next)
            if start > now:
                self.stats.waits += 1
                await self._sleep(start - now)
                continue  # look again: a 1302 may have moved the slot, a poll may have come
            _, _, waiter = heapq.heappop(self._waiting)
            if waiter.done():
                continue  # cancelled while it waited
            if self.rate is not None:
                self._next = start + 1.0 / self.rate
            self._sent.append(start)
            waiter.set_result(None)

    def _grow(self, now: float) -> None:
        if self.rate is not None and now > self._blocked_until:
            elapsed = now - max(self._grown_at, self._blocked_until)
            if elapsed > 0:
                self.rate *= (1 + self.growth) ** elapsed
                if self.max_rate is not None:
                    self.rate = min(self.rate, self.max_rate)
        self._grown_at = now

    def answered(self) -> None:
        """An answer that was not a 1302."""
        self._answers.append(False)

    def rate_limited(self, retry_after: float | None) -> None:
        """A 1302 arrived: if 1302s are a real share of the recent answers, slow down
        multiplicatively and hold every request until Retry-After has passed."""
        now = self._clock()
        self.stats.rate_limited += 1
        self._answers.append(True)
        limited = sum(self._answers)
        if limited < self.limited_minimum or limited < self.limited_share * len(self._answers):
            return  # a stray 1302: its own retry waits, the account does not slow down
        self._answers.clear()  # one decrease per episode, then fresh evidence
        observed = self._observed_rate(now)
        base = self.rate if self.rate is not None else (observed or 10.0)
        if observed is not None:
            base = min(base, observed)
        self.rate = max(self.min_rate, base * self.decrease)
        self._grown_at = now
        pause = retry_after if retry_after is not None else 1.0 / self.rate
        self._blocked_until = max(self._blocked_until, now + pause)
        self._next = max(self._next, self._blocked_until)
