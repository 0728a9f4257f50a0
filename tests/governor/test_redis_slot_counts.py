"""The shared window counts slots, not leases (against a real redis-server): a lease of
``count`` slots (an image task of ``count`` images) is taken all at once or not at all,
given back all at once, and comes back whole when its holder dies; the learned limit counts
slots too."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

import kling_async as kling
from kling_async.governor import RedisWindow

from .._helpers import API_KEY, SCRIPT
from .._redis_server import RedisServer
from .test_redis_governor import FAMILY, RUNNER, _processes, _shared_client


@asynccontextmanager
async def _two_windows(
    url: str, *, initial: int, condition: asyncio.Condition | None = None
) -> AsyncIterator[tuple[RedisWindow, ...]]:
    """Two windows of one account and family, each with its own governor (two processes);
    the first notifies ``condition`` (a batch dispatcher's)."""
    governors = [kling.RedisGovernor(url, account="shared") for _ in range(2)]
    conditions = [condition or asyncio.Condition(), asyncio.Condition()]
    try:
        yield tuple(
            gov.window("ignored", FAMILY, initial=initial, condition=cond)
            for gov, cond in zip(governors, conditions, strict=True)
        )
    finally:
        for gov in governors:
            await gov.close()


async def _slots_in_redis(url: str, window: RedisWindow) -> int:
    import redis.asyncio as aioredis

    redis = aioredis.from_url(url)
    try:
        return int(await redis.zcard(window.keys[0]))
    finally:
        await redis.aclose()


async def _waits(window: RedisWindow, count: int) -> bool:
    """True if ``count`` slots are not to be had within 0.3 s."""
    try:
        async with asyncio.timeout(0.3):
            await window.reserve(count)
    except TimeoutError:
        return True
    await window.answered(count)
    return False


async def test_a_lease_of_several_slots_is_taken_and_given_back_whole(
    redis_server: RedisServer,
) -> None:
    condition = asyncio.Condition()
    async with _two_windows(redis_server.url, initial=5, condition=condition) as (a, b):
        # the dispatcher's way: ask ahead, then take the lease it holds
        assert not a.has_room(3)
        async with condition:
            await asyncio.wait_for(condition.wait_for(lambda: a.has_room(3)), 5)
            a.take(3)
        await a.answered(3)
        assert (a.in_flight, await _slots_in_redis(redis_server.url, a)) == (3, 3)
        assert await _waits(b, 3)  # 3 + 3 > 5: none of the three taken
        assert await _slots_in_redis(redis_server.url, a) == 3
        assert not await _waits(b, 2)  # 3 + 2 = 5: both at once
        assert (b.in_flight, await _slots_in_redis(redis_server.url, b)) == (2, 5)
        assert await _waits(b, 1)  # full
        await a.release(count=3)  # the task of three ended: all three back, in one step
        assert (a.in_flight, await _slots_in_redis(redis_server.url, a)) == (0, 2)
        async with asyncio.timeout(1.0):
            await b.reserve(3)
        await b.answered(3)
        assert (b.in_flight, await _slots_in_redis(redis_server.url, b)) == (5, 5)


async def test_a_1303_gives_back_every_slot_of_the_create_and_the_limit_counts_slots(
    redis_server: RedisServer,
) -> None:
    async with _two_windows(redis_server.url, initial=5) as (a, b):
        await b.acquire()  # one slot held elsewhere
        async with asyncio.timeout(1.0):
            await a.reserve(3)
        await a.answered(3)
        # the server refused the three-image task with one task running: the limit is 1
        await a.over_limit(3)
        assert (a.in_flight, a.limited, a.limit, a.learned) == (0, 1, 1, 1)
        assert await _slots_in_redis(redis_server.url, a) == 1
        assert await _waits(a, 1)  # the learned limit binds every process
        await b.release()
        assert not await _waits(a, 1)


async def test_a_dead_holders_lease_of_several_slots_comes_back_whole(
    redis_server: RedisServer,
) -> None:
    lease = 1.0
    command = [*SCRIPT, str(RUNNER), "hold", redis_server.url, API_KEY, FAMILY, "1"]
    with _processes([[*command, str(lease), "3"]]) as (holder,):
        assert holder.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(holder.stdout.readline), 30)
        assert line.strip() == "held"
        client = _shared_client(redis_server.url, lease=lease)
        async with client:
            window = client.window(FAMILY)  # the shared limit: 4, three of them held
            assert isinstance(window, RedisWindow)
            await asyncio.sleep(2 * lease)  # past one lease: the holder renews all three
            assert await _waits(window, 2)
            holder.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            async with asyncio.timeout(5 * lease):
                await window.reserve(4)  # every slot of the dead holder's lease is back
            back = time.monotonic() - killed
            await window.answered(4)
            assert window.in_flight == 4
    print(f"\na kill -9'd holder's lease of 3 slots back after {back:.2f} s (lease {lease} s)")
    assert back <= lease + 0.5


@pytest.mark.parametrize("count", [0, -2])
async def test_a_count_below_one_is_refused_naming_count_and_the_rule(
    redis_server: RedisServer, count: int
) -> None:
    async with _two_windows(redis_server.url, initial=4) as (window, _):
        rule = rf"count: {count} must be .* 1 or more"
        with pytest.raises(ValueError, match=rule):
            window.has_room(count)
        with pytest.raises(ValueError, match=rule):
            window.take(count)
        steps: list[Callable[[], Awaitable[Any]]] = [
            lambda: window.reserve(count),
            lambda: window.force_acquire(count),
            lambda: window.answered(count),
            lambda: window.release(count=count),
            lambda: window.over_limit(count),
        ]
        for step in steps:
            with pytest.raises(ValueError, match=rule):
                await step()
        assert (window.in_flight, window.limited) == (0, 0)
        assert await _slots_in_redis(redis_server.url, window) == 0
