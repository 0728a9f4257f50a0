"""The account governor's parts on their own: pacer, concurrency window, duration model."""

from __future__ import annotations

import asyncio
import itertools
import random
import time

import pytest

from kling_async.governor import ConcurrencyWindow, Pacer


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_pacer_changes_nothing_until_told_of_a_limit() -> None:
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    for _ in range(20):
        await pacer.turn()
    assert t.slept == []
    assert pacer.rate is None


async def test_pacer_spaces_requests_evenly_at_its_rate() -> None:
    t = FakeTime()
    pacer = Pacer(max_rate=4, clock=t.clock, sleep=t.sleep, growth_per_second=0)
    sent = []
    for _ in range(5):
        await pacer.turn()
        sent.append(t.now)
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(sent)]
    assert gaps == [0.25] * 4  # no burst: every request a quarter second after the last


async def test_pacer_halves_on_1302_waits_retry_after_then_regrows() -> None:
    t = FakeTime()
    pacer = Pacer(max_rate=10, clock=t.clock, sleep=t.sleep, growth_per_second=0.1)
    await pacer.turn()
    for _ in range(3):  # a burst of 1302s: the account is really over its rate
        pacer.rate_limited(retry_after=3)
    assert pacer.rate == pytest.approx(5)
    before = t.now
    await pacer.turn()
    assert t.now - before == pytest.approx(3)  # held until Retry-After passed
    t.now += 5  # five quiet seconds: it grows back 10% a second, up to the ceiling
    await pacer.turn()
    assert pacer.rate == pytest.approx(min(10, 5 * 1.1**5), rel=0.01)
    assert pacer.stats.rate_limited == 3


async def test_a_stray_1302_among_successes_does_not_slow_the_account() -> None:
    t = FakeTime()
    pacer = Pacer(max_rate=10, clock=t.clock, sleep=t.sleep, growth_per_second=0)
    for i in range(40):
        if i % 10 == 9:
            pacer.rate_limited(retry_after=1)  # one in ten: noise, not a limit
        else:
            pacer.answered()
    assert pacer.rate == 10
    assert pacer.stats.rate_limited == 4


async def test_pacer_learns_from_what_was_really_sent() -> None:
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    for _ in range(20):  # 20 requests over 1 s: about 20/s was the real rate
        await pacer.turn()
        t.now += 0.05
    for _ in range(3):
        pacer.rate_limited(None)
    assert pacer.rate is not None
    assert 8 <= pacer.rate <= 12  # half of what was sent


async def test_pacer_settles_just_under_what_the_account_let_through() -> None:
    """The rate after a slow-down is 95% of what got through while the rest met 1302s (not a
    blind halving); it stays there, probes above only after a quiet 20 s, and a 1302 up
    there sends it back under at once."""
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    for i in range(9):  # 10 requests a second sent, every third one refused
        await pacer.turn()
        t.now += 0.1
        if i % 3 == 2:
            pacer.rate_limited(None)
        else:
            pacer.answered()
    assert pacer.ceiling == pytest.approx(4 / 0.6)  # 4 answers let through in 0.6 s
    settled = 0.95 * pacer.ceiling
    assert pacer.rate == pytest.approx(settled)
    for _ in range(5):  # quiet, but not for long: no growth past the settled rate
        t.now += 2
        await pacer.turn()
        pacer.answered()
    assert pacer.rate == pytest.approx(settled)
    t.now += 21  # a long quiet: it probes above, slowly (growth / 5)
    await pacer.turn()
    assert settled < pacer.rate <= settled * 1.01**21 * 1.001
    pacer.answered()
    pacer.rate_limited(None)  # a stray 1302 up there: back under at once
    assert pacer.rate == pytest.approx(settled)


async def test_pacer_learns_a_token_buckets_rate_without_bias() -> None:
    """An account of 10 requests a second (bucket of 10) and a client sending 20-33 a second:
    what the pacer learns at its slow-down is the account's rate (from the first 1302 on
    the bucket is empty, and what gets through is its refill)."""
    ceilings = []
    for step in range(20):
        t = FakeTime()
        pacer = Pacer(clock=t.clock, sleep=t.sleep)
        tokens, last = 10.0, t.now
        gap = 0.03 + step * 0.001
        for _ in range(300):  # 188 at most were needed before 1302s at random were told apart
            await pacer.turn()
            tokens = min(10.0, tokens + (t.now - last) * 10.0)
            last = t.now
            if tokens >= 1:
                tokens -= 1
                pacer.answered()
            else:
                pacer.rate_limited(None)
                if pacer.ceiling is not None:
                    break
            t.now += gap
        assert pacer.ceiling is not None
        ceilings.append(pacer.ceiling)
    mean = sum(ceilings) / len(ceilings)
    assert 9.7 <= mean <= 10.3, ceilings
    assert all(8.5 <= c <= 11.5 for c in ceilings), ceilings


async def _offered(seed: int, *, seconds: float = 60.0) -> tuple[int, int]:
    """A client that would send 100 requests a second to an account with no real limit
    that answers 1302 to one request in ten, at random: (requests offered, requests sent)."""
    rng = random.Random(seed)
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    end, sent = t.now + seconds, 0
    while t.now < end:
        await pacer.turn()
        sent += 1
        if rng.random() < 0.1:
            pacer.rate_limited(1.0)
        else:
            pacer.answered()
        t.now += 0.01
    return int(seconds * 100), sent


async def test_1302s_at_random_do_not_ratchet_the_rate_down() -> None:
    """1302s that come whatever the rate (a fault, not the account's limit) leave most of
    what was sent let through: no slow-down, no ceiling. (Before, each cluster of them halved
    the rate and set a ceiling from what got through, which the next cluster lowered again:
    a fault campaign's 300 jobs took 60-120 s instead of 10.)"""
    shares = []
    for seed in range(10):
        offered, sent = await _offered(seed)
        shares.append(sent / offered)
    assert sum(shares) / len(shares) >= 0.9, shares
    assert min(shares) >= 0.6, shares  # one early cluster may still cost a slow-down


async def test_window_slow_start_1303_and_probing() -> None:
    window = ConcurrencyWindow(initial=2, probe_every=3)
    await window.acquire()
    await window.accepted()
    assert window.limit == 2  # one of two in flight: a window not reached does not grow
    await window.acquire()
    await window.accepted()
    assert window.limit == 4  # full: slow start widens it by two per accepted create
    await window.acquire()
    await window.accepted()
    assert (window.limit, window.in_flight) == (4, 3)  # not full: no wider
    await window.acquire()
    await window.over_limit()  # the 4th was refused: the first 1303 ends slow start
    assert (window.limit, window.in_flight, window.learned) == (3, 3, 3)
    await window.accepted()
    assert window.limit == 3  # no more slow start once the limit is known
    for _ in range(3):  # three completions of a full window: probe one higher
        await window.release()
        await window.acquire()
    assert (window.limit, window.probes) == (4, 1)
    await window.acquire()
    await window.over_limit()  # the probe's first 1303: back at once, next probe later
    assert (window.limit, window.in_flight, window.learned) == (3, 3, 3)
    assert window.probe_every == 6
    await window.release()
    await window.release()
    await window.acquire()
    await window.over_limit()  # with room to spare: a stray (another client took a slot)
    assert (window.limit, window.in_flight) == (3, 1)
    await window.acquire()
    await window.acquire()
    await window.over_limit()  # refused as it filled the window: the limit is lower now
    assert (window.limit, window.in_flight, window.learned) == (2, 2, 2)


async def test_an_accepted_probe_raises_the_learned_limit() -> None:
    window = ConcurrencyWindow(initial=3, probe_every=2)
    for _ in range(3):
        await window.acquire()
        await window.accepted()
    assert window.limit == 5  # the third filled the window: two more
    await window.acquire()
    await window.acquire()
    await window.over_limit()  # the fifth was refused: learned 4
    assert (window.learned, window.limit, window.in_flight) == (4, 4, 4)
    for _ in range(2):  # two completions of a full window: probe one higher
        await window.release()
        await window.acquire()
    assert window.limit == 5
    await asyncio.wait_for(window.acquire(), 1)
    await window.accepted()  # the probe got through: the pack is bigger now
    assert (window.learned, window.limit) == (5, 5)
    for _ in range(50):
        await window.accepted()
    assert window.limit == 5  # once learned, accepted creates alone never widen it
    await window.release()
    await window.acquire()  # the create that fills the window again...
    await window.over_limit()  # ...is refused: the probe's room was an unseen end
    assert (window.learned, window.limit, window.probe_every) == (4, 4, 4)


async def test_window_blocks_when_full_and_honours_the_cap() -> None:
    window = ConcurrencyWindow(initial=10, cap=2)
    await window.acquire()
    await window.acquire()
    waiter = asyncio.create_task(window.acquire())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    await window.release()
    await asyncio.wait_for(waiter, 1)
    for _ in range(5):
        await window.accepted()
    assert window.limit == 2


async def test_polls_go_ahead_of_waiting_creates() -> None:
    pacer = Pacer(max_rate=20)
    order: list[str] = []

    async def request(name: str, priority: int) -> None:
        await pacer.turn(priority)
        order.append(name)

    started = time.monotonic()
    await pacer.turn(1)  # takes the first slot: the next ones wait 1/20 s each
    waiting = [asyncio.create_task(request(f"create{i}", 1)) for i in range(3)]
    await asyncio.sleep(0)
    waiting.append(asyncio.create_task(request("poll", 0)))  # comes last, goes first
    await asyncio.wait_for(asyncio.gather(*waiting), 2)
    assert order == ["poll", "create0", "create1", "create2"]
    assert time.monotonic() - started >= 0.14  # still spaced at the rate
