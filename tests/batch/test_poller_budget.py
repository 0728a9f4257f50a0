"""The poller's budget on its own: the duration model, how often a batch's tail is looked
at, and how few plans a wave of new tasks costs (moved from the governor's tests)."""

from __future__ import annotations

import asyncio
import time

import pytest

import kling_async as kling

# private: the duration model has no public seam
from kling_async.batch._poller import DurationModel


def test_duration_model_uses_a_low_quantile_of_a_window_longer_than_a_wave() -> None:
    """Ends are seen slowest-last within a wave: the last 64 alone put the 10th percentile at
    a wave's slow end (43 of 1..100), leaving the next wave's quick tasks unseen."""
    model = DurationModel()
    key = ("kling-v2-6", "std", 5)
    assert model.expected(key) is None
    for seconds in range(1, 101):  # one wave, seen in the order its tasks ended
        model.observe(key, float(seconds))
    assert model.expected(key) == 10.0  # all 100 seen: the 10th percentile, not 43
    assert model.mean(key) == 50.5
    for _ in range(64):  # the kind got quicker: followed at once by the recent window
        model.observe(key, 2.0)
    assert model.expected(key) == 2.0
    assert model.mean(key) == 2.0


def test_duration_windows_match_a_plain_sort_after_evictions() -> None:
    import random
    import statistics

    model = DurationModel(window=8, long_window=50)
    key = ("kling-v3", "pro", 10)
    rng = random.Random(5)
    seen: list[float] = []
    for _ in range(400):
        seconds = rng.uniform(1, 30)
        seen.append(seconds)
        model.observe(key, seconds)
        recent, long = sorted(seen[-8:]), sorted(seen[-50:])
        low = min(recent[int(0.1 * (len(recent) - 1))], long[int(0.1 * (len(long) - 1))])
        assert model.expected(key) == low
        mean = min(statistics.fmean(seen[-8:]), statistics.fmean(seen[-50:]))
        assert abs((model.mean(key) or 0) - mean) < 1e-9


def test_polls_at_a_batchs_tail_leave_the_last_creates_their_share_of_a_learned_rate() -> None:
    """Under a 10 req/s limit the tail polled every 0.1 s (5% of a 2 s task): polls go before
    creates, so the last creates starved (a 14 s tail for 20 jobs). At the tail, polls now
    take a tenth of a learned rate while a create waits, half once none does."""
    from types import SimpleNamespace

    # private: the poller's round planning has no public seam
    from kling_async.batch._poller import Poller, Tracked

    pacer = SimpleNamespace(rate=None)
    client = SimpleNamespace(clock=kling.VirtualClock(), pacer=pacer)
    poller = Poller(client, kling.PollPolicy())  # type: ignore[arg-type]
    key = ("kling-v3", "std", 5)
    for _ in range(5):
        poller.durations.observe(key, 2.0)
    due = [Tracked(f"t{i}", "image2video", key, 0.0, _never) for i in range(20)]
    poller.backlog = lambda: False  # the tail: no job waits for a slot
    assert poller._round_interval(due) == pytest.approx(0.1)  # 5% of 2 s: no rate learned
    pacer.rate = 10.0
    poller.creating = lambda: True
    assert poller._round_interval(due) == pytest.approx(1.0)  # 1 look a second: a tenth
    poller.creating = lambda: False
    assert poller._round_interval(due) == pytest.approx(0.2)  # 5 a second: half


def test_a_big_batchs_tail_is_looked_at_as_often_as_a_small_ones_budget_would_not_allow() -> None:
    """The tail's rounds came every 5% of a mean duration whatever the batch: at C=1000
    (tasks of 5-10 s) 0.375 s apart for the last half of a two-wave batch, where the
    budget had them 0.1 s apart, and the last task's end waited for a look (virtual clock,
    2,000 jobs: 20.29 s, greedy 19.97). The tail may now spend a tenth of a request per job
    ended so far over a mean duration of looks: sooner for a big batch, as before for a
    small one."""
    from types import SimpleNamespace

    # private: the poller's round planning has no public seam
    from kling_async.batch._poller import Poller, Tracked

    client = SimpleNamespace(clock=kling.VirtualClock(), pacer=SimpleNamespace(rate=None))
    poller = Poller(client, kling.PollPolicy())  # type: ignore[arg-type]
    key = ("kling-v3", "std", 5)
    for seconds in (5.0, 7.5, 10.0):
        poller.durations.observe(key, seconds)
    due = [Tracked(f"t{i}", "image2video", key, 0.0, _never) for i in range(10)]
    poller.backlog = lambda: False
    poller.ended = 20  # a small batch: 5% of 7.5 s, as before
    assert poller._round_interval(due) == pytest.approx(0.375)
    poller.ended = 1500  # 7.5 s of looks for 150 requests: min_interval binds
    assert poller._round_interval(due) == pytest.approx(0.1)
    poller.ended = 300  # 7.5 s for 30 requests: 0.25 s
    assert poller._round_interval(due) == pytest.approx(0.25)


async def _never(_: object) -> None:
    raise AssertionError("not called")


async def test_a_wave_of_new_tasks_costs_the_poller_a_few_plans_not_one_each() -> None:
    """A plan reads every tracked task; a C=1000 ramp tracks ~1,400 tasks a second, and a
    plan per track made the ramp's plans 9% of its CPU. A woken poller waits up to 20 ms for
    the rest of the wave."""
    from types import SimpleNamespace

    # private: the poller's round planning has no public seam
    from kling_async.batch._poller import Poller, Tracked

    client = SimpleNamespace(clock=kling.SystemClock(), pacer=SimpleNamespace(rate=None))
    poller = Poller(client, kling.PollPolicy())  # type: ignore[arg-type]
    key = ("kling-v3", "std", 5)
    for _ in range(5):
        poller.durations.observe(key, 30.0)  # nothing is due for 30 s: plans only, no poll
    plans = [0]
    plan = poller.next_round

    def counted(last: float, now: float) -> float:
        plans[0] += 1
        return plan(last, now)

    poller.next_round = counted  # type: ignore[method-assign]
    runner = asyncio.create_task(poller.run())
    try:
        started = time.monotonic()
        for i in range(300):  # one task a loop turn, as answered creates arrive
            poller.track(Tracked(f"t{i}", "image2video", key, time.monotonic(), _never))
            await asyncio.sleep(0)
        await asyncio.sleep(0.1)
        took = time.monotonic() - started
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
    assert len(poller) == 300
    assert plans[0] <= 5 + 60 * took, (plans[0], took)  # a plan per 20 ms at most, not per task
