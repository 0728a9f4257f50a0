"""The local pacer: one for every request a client makes, learning the rate from 1302s.

It spaces requests evenly (no bursts) at a rate it adapts: when 1302s make up a real share of
the recent answers (a quarter of the last 40, at least three) it holds every request until the
Retry-After has passed and slows down — to just under what the account let through meanwhile
(the *ceiling*: answers other than 1302 a second), or, without enough answers to tell, to half
of what it sent. Then it grows back a few percent per second up to 95% of the ceiling and stays
there; only after 20 s without a 1302 does it probe above, 1% a second, and a 1302 there
sends it back under. A stray 1302 among successes only delays its own request's retry: it is
no reason to slow the whole account. Until the server first pushes back it slows nothing
down, unless the caller gave a ceiling.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable

import attrs

from ._protocol import PacerStats


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class Pacer:
    """Even spacing of requests at an adaptive rate (requests per second).

    Its settings are the constructor's keywords (``growth_per_second`` is kept as
    ``growth``); what it learns is set up in ``__attrs_post_init__``."""

    max_rate: float | None = None
    min_rate: float = 0.2
    decrease: float = 0.5
    growth: float = attrs.field(default=0.05, alias="growth_per_second")
    _clock: Callable[[], float] = time.monotonic
    _sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def __attrs_post_init__(self) -> None:
        #: None until the server first says 1302 (or the caller sets a ceiling).
        self.rate: float | None = self.max_rate
        self._next = 0.0
        self._blocked_until = 0.0
        self._grown_at = self._clock()
        self._sent: deque[float] = deque(maxlen=256)
        #: When answers that were not 1302s came (what the account really let through).
        self._accepted: deque[float] = deque(maxlen=256)
        #: When 1302s came.
        self._refused: deque[float] = deque(maxlen=256)
        #: The account's rate as learned at the last slow-down: what it let through while it
        #: answered 1302 to the rest. None until then.
        self.ceiling: float | None = None
        #: Once a ceiling is known the rate settles at this share of it, and stays there
        #: until ``quiet`` seconds pass without a 1302; then it probes for more, slowly.
        self.settle = 0.95
        self.quiet = 20.0
        self._limited_at = float("-inf")
        #: The first 1302 since the last slow-down: from then on the account's bucket is
        #: empty, and what it lets through is its refill rate (a burst allowance is not).
        self._episode_from: float | None = None
        #: The last answers: True for a 1302. A decision needs a real share of them.
        self._answers: deque[bool] = deque(maxlen=40)
        self.limited_share = 0.25
        self.limited_minimum = 3
        #: The account is over its rate only when it turned away a real part of what was
        #: sent (what got through is under this share of it). 1302s that come at random, some
        #: in a hundred whatever the rate, slow nothing down: a slow-down for each cluster of
        #: them would ratchet the rate (and the ceiling learned from it) down to a crawl.
        self.saturated = 0.8
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
                rate = self.rate * (1 + self.growth) ** elapsed
                if self.ceiling is not None:
                    settled = self.settle * self.ceiling
                    if self.rate < settled:
                        rate = min(rate, settled)  # back up to just under the account's rate
                    elif now - self._limited_at < self.quiet:
                        rate = self.rate  # hold there: growing on only meets 1302s
                    else:  # a long quiet: the account may allow more now; look, slowly
                        rate = self.rate * (1 + self.growth / 5) ** elapsed
                if self.max_rate is not None:
                    rate = min(rate, self.max_rate)
                self.rate = rate
        self._grown_at = now

    def answered(self) -> None:
        """An answer that was not a 1302."""
        self._answers.append(False)
        self._accepted.append(self._clock())

    def _accepted_rate(self, now: float) -> float | None:
        """Answers other than 1302 a second since this episode's first 1302 (the last 2 s
        at most); None when too few to tell."""
        since = now - 2.0
        if self._episode_from is not None:
            since = max(since, self._episode_from)
        span = now - since
        recent = [t for t in self._accepted if t > since]
        if len(recent) < 4 or span < 0.5:
            return None
        return len(recent) / span

    def _let_through(self, now: float) -> float | None:
        """The share of the last 5 s's answers that were not 1302 (a connection that failed
        is no answer, and no sign of the account's rate); None when too few to tell."""
        since = now - 5.0
        for times in (self._accepted, self._refused):
            if len(times) == times.maxlen:
                since = max(since, times[0])  # only as far back as both remember
        accepted = sum(1 for t in self._accepted if t >= since)
        refused = sum(1 for t in self._refused if t >= since)
        if accepted + refused < 20:
            return None
        return accepted / (accepted + refused)

    def rate_limited(self, retry_after: float | None) -> None:
        """A 1302 arrived: if 1302s are a real share of the recent answers, slow down
        multiplicatively and hold every request until Retry-After has passed."""
        now = self._clock()
        self.stats.rate_limited += 1
        self._answers.append(True)
        self._refused.append(now)
        if self._episode_from is None:
            self._episode_from = now
        limited = sum(self._answers)
        if limited < self.limited_minimum or limited < self.limited_share * len(self._answers):
            if (
                self.ceiling is not None
                and self.rate is not None
                and self.rate > self.settle * self.ceiling
            ):
                self.rate = self.settle * self.ceiling  # probed above it: back to just under
                self._limited_at = now
            return  # a stray 1302: its own retry waits, the account does not slow down
        observed = self._observed_rate(now)
        accepted = self._accepted_rate(now)
        through = self._let_through(now)
        if through is not None and through >= self.saturated:
            return  # most of what was sent got through: 1302s at random, not the account's rate
        self._answers.clear()  # one decrease per episode, then fresh evidence
        self._limited_at = now
        self._episode_from = None
        base = self.rate if self.rate is not None else (observed or 10.0)
        if observed is not None:
            base = min(base, observed)
        if accepted is not None:
            # what got through while the rest met 1302s: the account's rate, give or take
            self.ceiling = accepted
            self.rate = max(self.min_rate, self.settle * accepted)
        else:
            self.rate = max(self.min_rate, base * self.decrease)
        self._grown_at = now
        pause = retry_after if retry_after is not None else 1.0 / self.rate
        self._blocked_until = max(self._blocked_until, now + pause)
        self._next = max(self._next, self._blocked_until)
