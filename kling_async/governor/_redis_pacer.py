"""``RedisPacer``: the account's request pacer, shared through Redis (see ``_lua.PACE``)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from ._protocol import PacerStats
from ._redis_link import TTL_MS, Link

log = logging.getLogger("kling_async.governor")


class RedisPacer:
    """The account's request pacer, shared through Redis (see ``_lua.PACE``).

    Whether 1302s are a real share of the answers is judged here, over this process's last
    40 answers (as ``Pacer`` does); the decrease itself goes to Redis with the next request
    and counts once per episode for every process."""

    def __init__(
        self,
        governor: Link,
        account: str,
        *,
        max_rate: float | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._gov = governor
        self._key = governor.key(account, "pace")
        self.max_rate = max_rate
        self._sleep = sleep
        self.rate: float | None = max_rate
        self.stats = PacerStats()
        self._answers: deque[bool] = deque(maxlen=40)
        self.limited_share = 0.25
        self.limited_minimum = 3
        self.decrease = 0.5
        #: A decrease to send with the next turn: its Retry-After in ms (-1: none).
        self._decrease: int | None = None
        self._blocked_until = 0.0

    def __repr__(self) -> str:
        return f"RedisPacer(rate={self.rate})"

    async def turn(self, priority: int = 0) -> None:
        """Wait for this request's slot in the account's shared schedule. (``priority`` orders
        waiting requests in ``Pacer``; across processes a reservation is first come.)"""
        decrease, self._decrease = self._decrease, None
        args = [
            TTL_MS,
            self.max_rate or 0,
            self._gov.min_rate,
            self._gov.growth,
            self.decrease,
            int(decrease is not None),
            decrease if decrease is not None else -1,
        ]
        try:
            wait_ms, rate = await self._gov.run("PACE", [self._key], args)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis away: go at this process's own pace
            log.warning("governor: the shared pacer failed (%r); not pacing", exc)
            wait_ms, rate = b"0", b"-1"
        value = float(rate)
        self.rate = None if value < 0 else value
        wait = max(float(wait_ms) / 1000, self._blocked_until - time.monotonic())
        if wait > 0:
            self.stats.waits += 1
            await self._sleep(wait)

    def answered(self) -> None:
        self._answers.append(False)

    def rate_limited(self, retry_after: float | None) -> None:
        self.stats.rate_limited += 1
        self._answers.append(True)
        limited = sum(self._answers)
        if limited < self.limited_minimum or limited < self.limited_share * len(self._answers):
            return  # a stray 1302: its own retry waits, the account does not slow down
        self._answers.clear()
        self._decrease = -1 if retry_after is None else int(retry_after * 1000)
        if retry_after is not None:  # this process holds back at once, the others on hearing
            self._blocked_until = max(self._blocked_until, time.monotonic() + retry_after)
