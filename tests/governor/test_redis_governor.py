"""The shared governor (#14) against a real redis-server and the emulator: many processes on
one account stay within its limits, a dead process's slots come back, and the pacer is one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import kling_async as kling
from kling_async.emulator import EmulatorConfig, EmulatorThread
from kling_async.governor import RedisWindow

from .._helpers import API_KEY, SCRIPT, png, test_account
from .._redis_server import RedisServer

RUNNER = Path(__file__).parent.parent / "governor_runner.py"
FAMILY = "2.6"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}


def _images(folder: Path, count: int, seed: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        color = ((seed * 37 + i) % 256, (seed * 11 + 7 * i) % 256, 90)
        (folder / f"img{i:03d}.png").write_bytes(png(400, 300, color))
    return folder


@contextmanager
def _processes(commands: list[list[str]]) -> Iterator[list[subprocess.Popen[str]]]:
    """Start each command; whatever happens, none outlives the test."""
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
        for cmd in commands
    ]
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(ValueError):  # already read to the end by the test
                proc.communicate(timeout=10)


@pytest.fixture(autouse=True)
def _no_bookkeeping_failures(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A shared step that fails only logs (a job must not fail for it): none may here."""
    yield
    failures = [r for r in caplog.records if r.name == "kling_async.governor"]
    assert failures == []


def run_shared_account(
    tmp: Path,
    redis_url: str | None,
    *,
    processes: int,
    jobs: int,
    limit: int,
    duration: tuple[float, float],
) -> dict[str, Any]:
    """``processes`` batches of ``jobs`` each on one account (parallel limit ``limit``), with
    the shared governor (``redis_url``) or without; the server's figures and the makespan."""
    config = EmulatorConfig(
        accounts=[test_account(concurrency_limit=limit)],
        duration=duration,
        seed=7,
        video_bytes=2000,
    )
    with EmulatorThread(config) as emu:
        commands = [
            [
                *SCRIPT,
                str(RUNNER),
                "batch",
                emu.url,
                API_KEY,
                str(_images(tmp / f"in{i}", jobs, i)),
                str(tmp / f"out{i}"),
                redis_url or "-",
            ]
            for i in range(processes)
        ]
        with _processes(commands) as procs:
            results = []
            for proc in procs:
                out, err = proc.communicate(timeout=120)
                assert proc.returncode == 0, err[-2000:]
                assert "governor:" not in err  # no shared bookkeeping step failed
                results.append(json.loads(out.strip().splitlines()[-1]))
        stats = emu.stats()
    total = processes * jobs
    durations = stats["durations"]
    lower = max(sum(durations) / limit, max(durations))
    makespan = max(r["ended"] for r in results) - min(r["started"] for r in results)
    return {
        "succeeded": sum(r["statuses"].get("succeeded", 0) for r in results),
        "creates": stats["creates"],
        "max_in_flight": stats["max_in_flight"],
        "1303": stats["concurrency_limited_1303"],
        "1302": stats["rate_limited_1302"],
        "429_per_job": (stats["concurrency_limited_1303"] + stats["rate_limited_1302"]) / total,
        "makespan": makespan,
        "lower_bound": lower,
        "ratio": makespan / lower,
    }


def test_processes_sharing_an_account_stay_within_its_limit(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    # 1303s with the governor are a fixed cost (learning the limit, a probe or two): enough
    # jobs that 0.1 per job is a real bound, short tasks to keep the test quick
    limit, processes, jobs = 4, 4, 15
    shape = {"processes": processes, "jobs": jobs, "limit": limit, "duration": (0.2, 0.4)}
    shared = run_shared_account(tmp_path / "shared", redis_server.url, **shape)  # type: ignore[arg-type]
    alone = run_shared_account(tmp_path / "alone", None, **shape)  # type: ignore[arg-type]
    print(f"\n{'':>14} {'shared':>9} {'alone':>9}")
    for name in ("succeeded", "max_in_flight", "1303", "1302", "429_per_job", "makespan", "ratio"):
        print(f"{name:>14} {shared[name]:>9.3g} {alone[name]:>9.3g}")
    for run in (shared, alone):
        assert run["succeeded"] == run["creates"] == processes * jobs
        assert run["max_in_flight"] <= limit
    # 0.1 a job, plus one first probe per process: tasks of 0.2-0.4 s leave the fixed start
    # cost large beside 60 jobs (8 seen once on a loaded machine; benchmarks/shared_account.py
    # measures 0.01 a job for 400 jobs)
    assert shared["1303"] + shared["1302"] <= 0.1 * processes * jobs + processes
    # each process alone learns its own window: the account is oversubscribed, 1303s pile up
    assert alone["1303"] >= 3 * max(1, shared["1303"])
    assert shared["ratio"] < 2.5


def _shared_client(url: str, **governor: Any) -> kling.KlingClient:
    """A client on the emulator's account (never contacted here) with its own governor, as
    another process would have."""
    return kling.KlingClient(
        api_key=API_KEY,
        base_url="http://127.0.0.1:9",
        governor=kling.RedisGovernor(url, **governor),
    )


async def test_a_1303_lowers_the_limit_for_every_process_and_one_probes(
    redis_server: RedisServer,
) -> None:
    a = _shared_client(redis_server.url, probe_every=2)
    b = _shared_client(redis_server.url, probe_every=2)
    async with a, b:
        wa, wb = a.window(FAMILY), b.window(FAMILY)
        for _ in range(4):  # the shared limit starts at 4
            await wa.acquire()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await wb.acquire()  # four held by the other: none for this one
        await wa.over_limit()  # the server said 1303 with three running: the limit is 3
        assert (wa.limit, wa.learned, wa.in_flight) == (3, 3, 3)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await wb.acquire()  # the learned limit holds for the other process too
        assert (wb.limit, wb.learned) == (3, 3)
        await wa.release()  # a full window drained one: one toward the probe
        await wb.acquire()
        await wb.release()  # the second: the shared limit probes one more, once
        assert wb.limit == 4
        for _ in range(2):
            await wa.acquire()
        assert wa.in_flight == 4
        await wa.release()
        await wa.acquire()
        await wa.release()
        assert wa.limit == 4  # no second probe while the first is open
        await wa.over_limit()  # the probe's 1303: back to the learned limit, for all
        assert (wa.limit, wa.learned) == (3, 3)


async def test_the_request_pacer_is_one_for_every_process(redis_server: RedisServer) -> None:
    a = _shared_client(redis_server.url)
    b = _shared_client(redis_server.url)
    async with a, b:
        a.pacer.rate_limited(0.5)
        a.pacer.rate_limited(0.5)
        assert b.pacer.rate is None  # nothing learned yet
        a.pacer.rate_limited(0.5)  # three in a row: a real limit, sent with a's next turn
        started = time.monotonic()
        turn_a = asyncio.create_task(a.pacer.turn())
        await asyncio.sleep(0.05)  # a's turn has told Redis
        await b.pacer.turn()  # the other process holds back until Retry-After has passed
        waited = time.monotonic() - started
        await turn_a
        assert b.pacer.rate is not None
        assert 0.45 <= waited <= 2.0
        # from now on both share one schedule: 12 requests at the learned rate
        rate = b.pacer.rate
        started = time.monotonic()
        await asyncio.gather(*(c.pacer.turn() for c in (a, b) for _ in range(6)))
        elapsed = time.monotonic() - started
        assert elapsed >= 11 / (rate * 1.5)  # not two schedules of 6: one of 12


async def test_a_killed_process_slots_come_back_within_the_lease(
    redis_server: RedisServer,
) -> None:
    lease = 1.0
    command = [*SCRIPT, str(RUNNER), "hold", redis_server.url, API_KEY, FAMILY, "4"]
    with _processes([[*command, str(lease)]]) as (holder,):
        assert holder.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(holder.stdout.readline), 30)
        assert line.strip() == "held"
        client = _shared_client(redis_server.url, lease=lease)
        async with client:
            window = client.window(FAMILY)
            await asyncio.sleep(2 * lease)  # past one lease: the holder renews them
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.3):
                    await window.acquire()
            holder.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            async with asyncio.timeout(5 * lease):
                for _ in range(4):
                    await window.acquire()
            back = time.monotonic() - killed
            assert window.in_flight == 4
    print(f"\nslots of a kill -9'd process back after {back:.2f} s (lease {lease} s)")
    assert 0.5 * lease <= back <= lease + 0.5  # held to expiry, then one backoff at most


async def _replicas(
    tmp: Path, redis_url: str | None, *, limit: int, requests: int
) -> dict[str, Any]:
    """Three replicas of a small aiohttp app calling ``generate()`` on one account; ``requests``
    calls spread over them at once. The server's figures."""
    image = tmp / "in.png"
    image.parent.mkdir(parents=True, exist_ok=True)
    image.write_bytes(png(400, 300))
    config = EmulatorConfig(
        accounts=[test_account(concurrency_limit=limit)],
        duration=(0.3, 0.6),
        seed=3,
        video_bytes=2000,
    )
    with EmulatorThread(config) as emu:
        command = [*SCRIPT, str(RUNNER), "app", emu.url, API_KEY, str(image)]
        commands = [[*command, str(tmp / f"out{i}"), redis_url or "-"] for i in range(3)]
        with _processes(commands) as procs:
            ports = []
            for proc in procs:
                assert proc.stdout is not None
                line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)
                ports.append(int(line.split()[1]))
            async with aiohttp.ClientSession() as session:

                async def call(i: int) -> int:
                    url = f"http://127.0.0.1:{ports[i % 3]}/generate"
                    async with session.post(url, timeout=aiohttp.ClientTimeout(60)) as r:
                        return r.status

                async with asyncio.timeout(90):
                    statuses = await asyncio.gather(*(call(i) for i in range(requests)))
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
                _, err = proc.communicate(timeout=20)
                assert "governor:" not in err  # no shared bookkeeping step failed
        stats = emu.stats()
    return {"statuses": statuses, **stats}


async def test_replicas_of_a_web_app_share_the_account_limit(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    limit, requests = 4, 24
    shared = await _replicas(tmp_path / "shared", redis_server.url, limit=limit, requests=requests)
    alone = await _replicas(tmp_path / "alone", None, limit=limit, requests=requests)
    print(
        f"\n3 replicas, {requests} generate() calls, C={limit}: 1303s shared "
        f"{shared['concurrency_limited_1303']}, alone {alone['concurrency_limited_1303']}"
    )
    assert shared["statuses"] == [200] * requests
    assert shared["creates"] == requests
    assert shared["max_in_flight"] <= limit
    # finding the limit is a fixed cost, not one per call: slow start grows the shared window
    # past C before the first 1303 answers, up to a round of creates on their way (0-1 on a
    # quiet machine, 3, 5 and 7 in loaded clean-clone runs); alone, each replica learns on its
    # own (32-57)
    assert shared["concurrency_limited_1303"] <= 8
    assert alone["concurrency_limited_1303"] >= 3 * max(1, shared["concurrency_limited_1303"])


async def test_keys_name_the_account_by_a_hash_and_renewal_brings_no_slot_back(
    redis_server: RedisServer,
) -> None:
    import redis.asyncio as aioredis

    client = kling.KlingClient(
        api_key=API_KEY,
        base_url="http://127.0.0.1:9",
        governor=kling.RedisGovernor(redis_server.url),
    )
    async with client:
        window = client.window(FAMILY)
        assert isinstance(window, RedisWindow)
        await window.acquire()
        await client.pacer.turn()
        lease = list(window.held)
        await window.release()
        await window.tick(renew=True)
        gov = client.governor
        assert isinstance(gov, kling.RedisGovernor)
        # a renewal that races a release must not bring the slot back
        lost = await gov.run("RENEW", window.keys, [60_000, 30_000, *lease])
        assert [x.decode() for x in lost] == lease
        redis = aioredis.from_url(redis_server.url)
        try:
            keys = [k.decode() async for k in redis.scan_iter("*")]
            held = await redis.zcard(window.keys[0])
        finally:
            await redis.aclose()
    assert held == 0
    assert keys
    assert all(k.startswith("kling:gov:") for k in keys)
    assert all(API_KEY not in k for k in keys)
    assert any(client.account_id in k for k in keys)
    shown = repr(kling.RedisGovernor("redis://user:s3cret-pass@redis.internal:6379/0"))
    assert "s3cret" not in shown
    assert "redis.internal" in shown


async def test_generate_in_one_process_waits_for_room_instead_of_drawing_1303s(
    start_emulator: Any, tmp_path: Path
) -> None:
    """The default (local) governor: concurrent generate() calls share the client's window."""
    from .._helpers import fast_client

    # on the virtual clock: tasks of 20-40 s that cost milliseconds, whatever the machine's load
    emu, _ = await start_emulator(
        test_account(concurrency_limit=3), duration=(20.0, 40.0), clock=kling.VirtualClock()
    )
    image = tmp_path / "in.png"
    image.write_bytes(png(400, 300))
    wait = kling.WaitPolicy(first_poll=10, min_interval=2, max_interval=5, timeout=600)
    async with fast_client(emu, wait=wait) as client:
        paths = await asyncio.gather(
            *(
                client.image_to_video.generate(
                    image=image, prompt=f"call {i}", output=tmp_path / f"{i}.mp4"
                )
                for i in range(12)
            )
        )
    stats = emu.stats()
    assert len({p.name for p in paths}) == 12
    assert stats["creates"] == 12
    assert stats["max_in_flight"] <= 3
    print(f"\n12 generate() calls, C=3, one process: {stats['concurrency_limited_1303']} 1303s")
    # slow start's one overshoot while finding the limit (1-3 usual, 5 seen under heavy load;
    # was 36 before generate() took window slots)
    assert stats["concurrency_limited_1303"] <= 6


async def test_an_unreachable_redis_fails_loudly_not_forever(
    start_emulator: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from .._helpers import fast_client

    emu, _ = await start_emulator(test_account(concurrency_limit=3))
    image = tmp_path / "in.png"
    image.write_bytes(png(400, 300))
    nowhere = f"unix://{tmp_path / 'no-redis.sock'}"
    gov = kling.RedisGovernor(nowhere, give_up_after=1.0)
    async with fast_client(emu, governor=gov) as client:
        with pytest.raises(kling.GovernorUnavailableError):
            await client.image_to_video.generate(image=image, prompt="x", output=tmp_path / "a.mp4")
        jobs = [kling.ImageToVideo(image=image, prompt=f"job {i}") for i in range(3)]

        async def run_batch() -> None:
            async with asyncio.timeout(15):
                async for _ in client.batch(jobs, output_dir=tmp_path / "out"):
                    pass

        started = time.monotonic()
        with pytest.raises(kling.GovernorUnavailableError):
            await run_batch()
        assert time.monotonic() - started < 10  # give_up_after, not the 15 s guard
    assert emu.stats()["create_requests"] == 0  # nothing sent without a slot
    assert any(r.name == "kling_async.governor" for r in caplog.records)
    caplog.clear()  # the warnings were the point here


async def test_tasks_resumed_from_a_journal_count_in_the_shared_window(
    redis_server: RedisServer,
) -> None:
    a = _shared_client(redis_server.url)
    b = _shared_client(redis_server.url)
    async with a, b:
        wa, wb = a.window(FAMILY), b.window(FAMILY)
        for _ in range(4):  # a rerun found four tasks still running: counted without asking
            await wa.force_acquire()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await wb.acquire()
        await wa.release()  # one of them ended: its slot is the other process's at once
        async with asyncio.timeout(1.0):
            await wb.acquire()
        assert (wa.in_flight, wb.in_flight) == (3, 1)
