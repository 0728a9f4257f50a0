"""The shared window's acquirer against a Redis that fails and comes back: a stand-in for
the governor whose ACQUIRE fails a given number of times (no Redis server needed)."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest

import kling_async as kling
from kling_async.governor import RedisWindow

FAMILY = "image2video"


class FlakyRedis:
    """What a ``RedisWindow`` needs of its governor; ACQUIRE fails ``failures`` times, then
    always finds a slot free."""

    lease = 30.0
    give_up_after = 60.0
    min_rate = 0.2
    growth = 0.05
    probe_every = 20
    max_probe_every = 640
    connected = True

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.acquires: list[float] = []  # when each ACQUIRE came
        self._ids = itertools.count(1)

    def key(self, *parts: str) -> str:
        return ":".join(("test", *parts))

    def lease_id(self) -> str:
        return f"lease-{next(self._ids)}"

    async def run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        if script == "ACQUIRE":
            self.acquires.append(time.monotonic())
            if len(self.acquires) <= self.failures:
                raise ConnectionError("redis away")
            return [1, 1, 4, -1]
        return [4, -1]  # limit, learned: what RELEASE and the others answer

    def register(self, window: object) -> None:
        pass

    def unregister(self, window: object) -> None:
        pass


def failures_logged(caplog: pytest.LogCaptureFixture) -> int:
    return sum(
        r.name == "kling_async.governor" and "slot failed" in r.getMessage() for r in caplog.records
    )


async def test_the_dispatchers_slot_comes_once_redis_answers_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two failed tries a second apart, each logged, then the slot; and the acquirer goes on
    taking slots after the recovery (a fresh count of tries for the next failure)."""
    redis = FlakyRedis(failures=2)
    condition = asyncio.Condition()
    window = RedisWindow(redis, "acct", FAMILY, initial=4, cap=None, condition=condition)
    try:
        assert not window.has_room()  # asks for a slot ahead
        async with condition:
            await asyncio.wait_for(condition.wait_for(window.has_room), 5)
            window.take()
        assert len(redis.acquires) == 3
        gaps = [b - a for a, b in itertools.pairwise(redis.acquires)]
        assert all(0.9 <= gap < 2.0 for gap in gaps), gaps
        assert failures_logged(caplog) == 2
        assert not window.has_room()  # the next slot: asked for again
        async with condition:
            await asyncio.wait_for(condition.wait_for(window.has_room), 2)
        assert len(redis.acquires) == 4
        assert window.in_flight == 1
    finally:
        await window.close()


async def test_a_generate_caller_hears_of_the_failure_and_the_next_gets_a_slot() -> None:
    redis = FlakyRedis(failures=1)
    window = RedisWindow(redis, "acct", FAMILY, initial=4, cap=None, condition=None)
    try:
        with pytest.raises(kling.GovernorUnavailableError, match="did not answer"):
            await asyncio.wait_for(window.reserve(), 2)
        await asyncio.wait_for(window.reserve(), 3)  # the retry a second later finds one
        assert (window.in_flight, len(redis.acquires)) == (1, 2)
    finally:
        await window.close()
