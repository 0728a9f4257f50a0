"""The injectable clock: tests that advance time instead of sleeping.

Each test here runs minutes of the API's time (30 s first polls, tasks of 20-60 s, back-offs)
in about a second of real time, and checks that every time rule still held.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

import kling_async as kling

from .._helpers import StartEmulator, fast_client, png, test_account


async def test_virtual_sleep_costs_no_real_time() -> None:
    clock = kling.VirtualClock()
    started, real = clock.monotonic(), time.monotonic()
    await asyncio.gather(clock.sleep(30), clock.sleep(90), clock.sleep(600))
    assert clock.monotonic() - started == 600
    assert time.monotonic() - real < 2
    assert clock.skipped == 600


async def test_sleepers_wake_in_deadline_order_and_a_cancelled_one_is_skipped() -> None:
    clock = kling.VirtualClock()
    woke: list[tuple[str, float]] = []

    async def nap(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(nap(n, s)) for n, s in (("c", 30), ("a", 10), ("x", 5))]
    tasks.append(asyncio.create_task(nap("b", 20)))
    await asyncio.sleep(0)
    tasks[2].cancel()  # x, 5 s: never wakes, does not hold the clock back
    await asyncio.gather(*tasks, return_exceptions=True)
    assert woke == [("a", 10), ("b", 20), ("c", 30)]


async def test_manual_clock_moves_only_when_advanced() -> None:
    clock = kling.VirtualClock(start=1_000.0, auto=False)
    sleeper = asyncio.create_task(clock.sleep(5))
    await asyncio.sleep(0.05)
    assert not sleeper.done()  # real time passed; virtual did not
    clock.advance(4.9)
    await asyncio.sleep(0)
    assert not sleeper.done()
    clock.advance(0.1)
    await asyncio.wait_for(sleeper, 1)
    assert clock.time() == 1_005.0
    with pytest.raises(ValueError, match="seconds: -1 must be >= 0"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="tick"):
        kling.VirtualClock(tick=0)


async def test_wait_for_an_event_with_a_virtual_timeout() -> None:
    clock = kling.VirtualClock()
    event = asyncio.Event()
    assert await clock.wait(event, 45) is False
    assert clock.monotonic() == 45

    async def set_later() -> None:
        await clock.sleep(60)
        event.set()

    setter = asyncio.create_task(set_later())
    assert await clock.wait(event, 3600) is True
    await setter
    assert clock.monotonic() == 45 + 60  # woke by the event, not the timeout
    assert await kling.SystemClock().wait(event, 0) is True


async def test_generate_with_real_kling_timing_in_a_second(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """Tasks of 20-40 s and the SDK's default wait (a first look after 1 s, then 1.5x up to
    15 s): a minute of API time; the emulator and the client both run on the virtual clock."""
    clock = kling.VirtualClock()
    emu, _ = await start_emulator(clock=clock, duration=(20.0, 40.0))
    real = time.monotonic()
    async with fast_client(emu, wait=kling.WaitPolicy()) as client:
        paths = await asyncio.gather(
            *(
                client.image_to_video.generate(image=png(), output=tmp_path / f"{i}.mp4")
                for i in range(3)
            )
        )
    assert all(p.stat().st_size > 0 for p in paths)
    assert clock.monotonic() >= 20  # the tasks' own time passed, on the virtual clock
    assert time.monotonic() - real < 10
    stats = emu.stats()
    assert stats["creates"] == 3
    # looks at 1, 2.5, 4.75 ... s growing to every 15 s: eight or nine a task, not hundreds
    assert stats["single_queries"] <= 3 * 9


async def test_wait_times_out_on_the_virtual_clock(start_emulator: StartEmulator) -> None:
    clock = kling.VirtualClock()
    emu, _ = await start_emulator(clock=clock, duration=(900.0, 900.0))
    real = time.monotonic()
    async with fast_client(emu, wait=kling.WaitPolicy(first_poll=30, min_interval=10)) as client:
        task = await client.image_to_video.create(image=png())
        with pytest.raises(kling.TaskTimeoutError):
            await client.image_to_video.wait(task, timeout=300)
    assert 300 <= clock.monotonic() < 900
    assert time.monotonic() - real < 10


async def test_batch_over_minutes_of_api_time(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """40 jobs of 30-60 s on an account of 5: ~6 minutes of API time, the window and the poller
    on the virtual clock; every limit still held."""
    clock = kling.VirtualClock()
    emu, _ = await start_emulator(
        clock=clock, duration=(30.0, 60.0), accounts=[test_account(concurrency_limit=5)]
    )
    jobs = [kling.ImageToVideo(image=png(), prompt=f"job {i}") for i in range(40)]
    real = time.monotonic()
    async with fast_client(emu) as client:
        outcomes = [o async for o in client.batch(jobs, tmp_path / "out", initial_window=5)]
    assert [o.status for o in outcomes] == [kling.OutcomeStatus.SUCCEEDED] * 40
    stats = emu.stats()
    assert stats["creates"] == 40
    assert stats["duplicate_creates"] == 0
    assert stats["max_in_flight"] <= 5
    lower_bound = 40 / 5 * 30  # eight waves of at least 30 s
    assert clock.monotonic() >= lower_bound
    assert time.monotonic() - real < 30


async def test_no_jump_while_a_request_is_on_the_wire() -> None:
    """The client holds the clock while it waits for an answer: a slow answer (a loaded
    machine) is not overtaken by the time its sleepers wait for."""
    clock = kling.VirtualClock()
    sleeper = asyncio.create_task(clock.sleep(100))
    with clock.hold():
        await asyncio.sleep(0.05)  # 25 ticks of real time
        assert clock.monotonic() == 0
    await asyncio.wait_for(sleeper, 2)
    assert clock.monotonic() == 100


async def test_no_jump_while_the_journal_writes(tmp_path: Path) -> None:
    """A batch's journal works in its own thread: the engine gives it the clock's hold, so a
    slow write (a busy disk) is not overtaken by virtual time. Without it, a small account's
    slots sat in 'submitting' for virtual seconds and a virtual benchmark ran 1.22 x greedy,
    not 1.12."""
    from kling_async.store import Journal

    clock = kling.VirtualClock()
    async with fast_client_on(clock) as client:
        engine = kling.BatchEngine(client, tmp_path)
        journal = engine.journal
        assert isinstance(journal, Journal)
        await journal.open()
        try:
            sleeper = asyncio.create_task(clock.sleep(100))
            await journal._run(lambda _conn: time.sleep(0.1))  # 50 ticks of real time
            assert clock.monotonic() == 0
            await asyncio.wait_for(sleeper, 2)
            assert clock.monotonic() == 100
        finally:
            await journal.close()


def fast_client_on(clock: kling.VirtualClock) -> kling.KlingClient:
    return kling.KlingClient(api_key="k", base_url="http://127.0.0.1:9", clock=clock)


async def test_no_jump_while_the_loop_is_busy() -> None:
    # CPU work between requests (no holder, but callbacks ready to run) is not waiting: time
    # that jumped under a batch preparing its jobs had made a first wave take 5 virtual s
    clock = kling.VirtualClock(tick=0.002)
    sleeper = asyncio.ensure_future(clock.sleep(100))
    real = time.monotonic()
    yields = 0
    while time.monotonic() - real < 0.1 and yields < 1_000_000:  # ~50 ticks of busy loop
        await asyncio.sleep(0)
        yields += 1
    assert clock.monotonic() == 0.0
    assert not sleeper.done()
    await asyncio.wait_for(sleeper, 5)  # idle now: it jumps
    assert clock.monotonic() == 100.0
