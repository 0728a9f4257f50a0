"""The poller on its own: the planning maths as a pure function, the cost of a wave of new
tasks, and the back-off of a task whose status queries keep failing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import kling_async as kling

# the poller and its planning maths are the engine's inner parts, tested here on their own
from kling_async.batch._poll_plan import round_interval
from kling_async.batch._poller import Poller, Tracked

from .._helpers import StartEmulator, fast_client, png, test_account


def tail_interval(mean: float, *, ended: int = 5, rate: float | None, creating: bool) -> float:
    """A round's interval at a batch's tail (no job waits for a slot), 20 tasks due."""
    return round_interval(
        kling.PollPolicy(),
        mean,
        in_flight=20,
        round_cost=1.0,
        ended=ended,
        rate=rate,
        backlog=False,
        creating=creating,
    )


def test_polls_at_a_batchs_tail_leave_the_last_creates_their_share_of_a_learned_rate() -> None:
    """Under a 10 req/s limit the tail polled every 0.1 s (5% of a 2 s task): polls go before
    creates, so the last creates starved (a 14 s tail for 20 jobs). At the tail, polls now
    take a tenth of a learned rate while a create waits, half once none does."""
    assert tail_interval(2.0, rate=None, creating=False) == pytest.approx(0.1)  # 5% of 2 s
    assert tail_interval(2.0, rate=10.0, creating=True) == pytest.approx(1.0)  # a tenth
    assert tail_interval(2.0, rate=10.0, creating=False) == pytest.approx(0.2)  # half


def test_a_big_batchs_tail_is_looked_at_as_often_as_a_small_ones_budget_would_not_allow() -> None:
    """The tail's rounds came every 5% of a mean duration whatever the batch: at C=1000
    (tasks of 5-10 s) 0.375 s apart for the last half of a two-wave batch, where the
    budget had them 0.1 s apart, and the last task's end waited for a look (virtual clock,
    2,000 jobs: 20.29 s, greedy 19.97). The tail may now spend a tenth of a request per job
    ended so far over a mean duration of looks: sooner for a big batch, as before for a
    small one."""
    mean = 7.5  # of 5, 7.5 and 10 s
    # a small batch: 5% of 7.5 s, as before
    assert tail_interval(mean, ended=20, rate=None, creating=False) == pytest.approx(0.375)
    # 7.5 s of looks for 150 requests: min_interval binds
    assert tail_interval(mean, ended=1500, rate=None, creating=False) == pytest.approx(0.1)
    # 7.5 s for 30 requests: 0.25 s
    assert tail_interval(mean, ended=300, rate=None, creating=False) == pytest.approx(0.25)


def test_a_backlog_spends_the_budget_of_requests_per_job() -> None:
    def interval(**changes: float | None) -> float:
        fields = {"in_flight": 20, "round_cost": 1.0, "ended": 0, "rate": None}
        fields.update(changes)
        return round_interval(kling.PollPolicy(), 10.0, backlog=True, creating=True, **fields)  # type: ignore[arg-type]

    assert interval() == pytest.approx(0.5)  # a mean of 10 s over 20 tasks, 1 request each
    assert interval(rate=2.0) == pytest.approx(5.0)  # polls take a tenth of 2 req/s
    assert round_interval(
        kling.PollPolicy(),
        None,
        in_flight=20,
        round_cost=1,
        ended=0,
        rate=None,
        backlog=True,
        creating=False,
    ) == pytest.approx(0.1)  # nothing learned: min_interval


async def test_a_wave_of_new_tasks_costs_the_poller_a_few_plans_not_one_each() -> None:
    """A plan reads every tracked task; a C=1000 ramp tracks ~1,400 tasks a second, and a
    plan per track made the ramp's plans 9% of its CPU. A woken poller waits up to 20 ms for
    the rest of the wave."""
    client = SimpleNamespace(clock=kling.SystemClock(), pacer=SimpleNamespace(rate=None))
    poller: Poller[None] = Poller(client, kling.PollPolicy())  # type: ignore[arg-type]
    key = ("kling-v3", "std", 5)
    for _ in range(5):
        poller.durations.observe(key, 30.0)  # nothing is due for 30 s: plans only, no poll
    plans = [0]
    plan = poller.next_round

    def counted(last: float, now: float) -> float:
        plans[0] += 1
        return plan(last, now)

    poller.next_round = counted  # type: ignore[method-assign]
    took = 0.0
    async with asyncio.TaskGroup() as group:
        runner = group.create_task(poller.run())
        started = time.monotonic()
        for i in range(300):  # one task a loop turn, as answered creates arrive
            poller.track(Tracked(f"t{i}", "image2video", key, time.monotonic(), None))
            await asyncio.sleep(0)
        await asyncio.sleep(0.1)
        took = time.monotonic() - started
        runner.cancel()
    assert len(poller) == 300
    assert plans[0] <= 5 + 60 * took, (plans[0], took)  # a plan per 20 ms at most, not per task


async def test_a_task_whose_queries_keep_failing_is_looked_at_less_and_less_often(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """Single-task queries answered 5000 every time drew 585 requests in 60 s for one task
    (a look every min_interval: the task was overdue at the batch's tail). Its failed looks
    now back off (min_interval doubled each, up to max_interval); once the queries answer
    again the task is seen within max_interval."""
    clock = kling.VirtualClock()
    emu, _ = await start_emulator(
        test_account(concurrency_limit=4), clock=clock, duration=(2.0, 2.0), video_bytes=1000
    )
    image = png(400, 300)
    async with (
        fast_client(emu) as client,
        kling.BatchEngine(client, tmp_path / "out") as engine,
    ):
        for i in range(3):  # the poller learns that tasks take 2 s
            await engine.submit(kling.ImageToVideo(image=image, prompt=f"learn {i}"))
        outcomes = engine.outcomes()
        for _ in range(3):
            assert (await anext(outcomes)).status is kling.OutcomeStatus.SUCCEEDED
        emu.inject("5000", count=100_000, route="query")  # every status query fails from now
        await engine.submit(kling.ImageToVideo(image=image, prompt="stuck"))
        await engine.finish()  # the batch's tail: an overdue task is looked at most often
        for _ in range(100):  # bounded: until its task is tracked
            if len(engine.poller):
                break
            await clock.sleep(0.1)
        before, started = engine.poller.single_requests, clock.monotonic()
        await clock.sleep(60.0)
        looks = engine.poller.single_requests - before
        assert clock.monotonic() - started >= 60.0
        emu.clear_faults()
        async with asyncio.timeout(30):  # real seconds; the virtual wait is max_interval
            last = await anext(outcomes)
        ended_after = clock.monotonic() - started
    print(f"\nlooks at a task whose queries fail, in 60 s: {looks}")
    # 0.1 s apart at first, then 0.2, 0.4 ... 15 s: about 11 in 60 s (there were 585)
    assert 5 <= looks <= 20, looks
    assert last.status is kling.OutcomeStatus.SUCCEEDED
    assert ended_after <= 60.0 + kling.PollPolicy().max_interval + 1.0


async def test_a_poller_alone_says_what_ended_on_its_ends_queue(
    start_emulator: StartEmulator,
) -> None:
    """The poller knows nothing of the engine: it watches what it is given and puts each end
    (with the caller's job) on ``ends``, a round's ends in one list."""
    emu, _ = await start_emulator(duration=(0.2, 0.3), video_bytes=1000)
    async with fast_client(emu) as client:
        tasks = [await client.image_to_video.create(image=png(), prompt=f"p{i}") for i in range(3)]
        poller: Poller[str] = Poller(client, kling.PollPolicy(min_interval=0.05))
        for i, task in enumerate(tasks):
            key = ("kling-v2-6", "std", 5)
            poller.track(Tracked(task.task_id, "image2video", key, time.monotonic(), f"job {i}"))
        ended: list[tuple[str, bool]] = []
        async with asyncio.TaskGroup() as group:
            watching = group.create_task(poller.run())
            async with asyncio.timeout(20):
                while len(ended) < 3:
                    for ending in await poller.ends.get():
                        assert ending.task is not None
                        ended.append((ending.tracked.job, ending.task.succeeded))
            watching.cancel()
    assert sorted(ended) == [("job 0", True), ("job 1", True), ("job 2", True)]
    assert len(poller) == 0
