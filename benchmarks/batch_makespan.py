"""The batch engine against a naive client, in one run, on an emulator in its own process.

N jobs, a parallel-task limit C the clients are not told (the naive one gets a semaphore of C,
which is generous), task durations uniform in T. For each client it prints:

- makespan / lower bound, where the lower bound is max(sum of task durations / C, longest
  duration) from the emulator's own counters;
- API requests per job (downloads not counted) and 429s (1302 + 1303) per job;
- client CPU seconds per job and the client's peak resident memory.

Then, separately, the engine's peak memory with 100,000 jobs queued (paths, not images).

    .venv/bin/python benchmarks/batch_makespan.py [--jobs 1000] [--limit 50] [--duration 1:3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from _emulator_process import emulator_process, rss_mb
from PIL import Image

import kling_async as kling


class PeakMemory:
    def __init__(self) -> None:
        self.peak = rss_mb()
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mb())
            await asyncio.sleep(0.05)

    async def __aenter__(self) -> PeakMemory:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self.peak = max(self.peak, rss_mb())


async def emulator_stats(base: str, reset: bool = False) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s:
        if reset:
            async with s.post(f"{base}/__emulator__/reset?all=1") as r:
                await r.read()
        async with s.get(f"{base}/__emulator__/stats") as r:
            return await r.json()  # type: ignore[no-any-return]


def jobs(n: int, offset: int = 0) -> list[kling.ImageToVideo]:
    # URL images: the emulator does not fetch them, so the run measures scheduling, not base64
    return [
        kling.ImageToVideo(image=f"https://img.test/{offset + i}.png", prompt=f"job {offset + i}")
        for i in range(n)
    ]


def figures(
    stats: dict[str, Any], n: int, limit: int, makespan: float, cpu: float, peak: float
) -> dict[str, float]:
    bound = max(stats["duration_sum"] / limit, stats["duration_max"])
    api_requests = stats["requests"] - stats["downloads"]
    return {
        "makespan_s": round(makespan, 2),
        "lower_bound_s": round(bound, 2),
        "makespan_over_bound": round(makespan / bound, 3),
        "requests_per_job": round(api_requests / n, 3),
        "429s_per_job": round(
            (stats["rate_limited_1302"] + stats["concurrency_limited_1303"]) / n, 3
        ),
        "cpu_ms_per_job": round(1000 * cpu / n, 2),
        "peak_rss_mb": round(peak, 1),
        "succeeded": stats["tasks_succeeded"],
        "duplicate_creates": stats["duplicate_creates"],
    }


async def run_engine(env: dict[str, str], n: int, limit: int, out: Path) -> dict[str, float]:
    base = env["KLING_BASE_URL"]
    await emulator_stats(base, reset=True)
    async with kling.KlingClient(api_key=env["KLING_API_KEY"], base_url=base) as client:
        poll = kling.PollPolicy(min_interval=0.1)
        cpu0, started = time.process_time(), time.monotonic()
        async with PeakMemory() as memory:
            run = client.batch(jobs(n), output_dir=out, poll=poll, downloads=8)
            async for outcome in run:
                if outcome.status.value not in ("succeeded", "failed"):
                    raise RuntimeError(f"{outcome.name}: {outcome.status} {outcome.error}")
        makespan, cpu = time.monotonic() - started, time.process_time() - cpu0
    return figures(await emulator_stats(base), n, limit, makespan, cpu, memory.peak)


async def run_naive(
    env: dict[str, str], n: int, limit: int, out: Path, interval: float
) -> dict[str, float]:
    """What clients in the wild do: a semaphore, then create and poll every few seconds."""
    base = env["KLING_BASE_URL"]
    await emulator_stats(base, reset=True)
    gate = asyncio.Semaphore(limit)
    async with kling.KlingClient(api_key=env["KLING_API_KEY"], base_url=base) as client:

        async def one(job: kling.ImageToVideo, i: int) -> None:
            async with gate:
                task = await client.image_to_video.create(job)
                while True:
                    await asyncio.sleep(interval)
                    task = await client.image_to_video.get(task.task_id)
                    if task.is_final:
                        break
                if task.succeeded:
                    await client.download(task, out / f"naive-{i}.mp4")

        cpu0, started = time.process_time(), time.monotonic()
        async with PeakMemory() as memory:
            await asyncio.gather(*(one(job, i) for i, job in enumerate(jobs(n, offset=10**6))))
        makespan, cpu = time.monotonic() - started, time.process_time() - cpu0
    return figures(await emulator_stats(base), n, limit, makespan, cpu, memory.peak)


async def queued_memory(
    env: dict[str, str], queued: int, seconds: float, tmp: Path
) -> dict[str, float]:
    """Peak memory while 100,000 jobs (paths to images on disk) wait for the engine."""
    images = []
    for i in range(100):
        path = tmp / f"src{i}.png"
        Image.new("RGB", (400, 300), (i, 2 * i, 90)).save(path)
        images.append(path)
    before = rss_mb()
    waiting = [
        kling.ImageToVideo(image=images[i % 100], prompt=f"queued {i}") for i in range(queued)
    ]
    base = env["KLING_BASE_URL"]
    await emulator_stats(base, reset=True)
    done = 0
    async with (
        kling.KlingClient(api_key=env["KLING_API_KEY"], base_url=base) as client,
        PeakMemory() as memory,
    ):
        run = client.batch(
            waiting, output_dir=tmp / "queued", poll=kling.PollPolicy(min_interval=0.1)
        )
        async with run:
            deadline = time.monotonic() + seconds
            async for _ in run:
                done += 1
                if time.monotonic() > deadline:
                    break
    return {
        "jobs_queued": queued,
        "jobs_done_in_window": done,
        "rss_before_jobs_mb": round(before, 1),
        "peak_rss_mb": round(memory.peak, 1),
    }


async def main(ns: argparse.Namespace) -> dict[str, Any]:
    low, high = ns.duration.split(":")
    args = [
        "--concurrency-limit",
        str(ns.limit),
        "--duration",
        ns.duration,
        "--video-bytes",
        "1000",
        "--rate-limit",
        str(ns.rate_limit),
        "--rate-burst",
        str(ns.rate_limit),
        "--seed",
        "7",
    ]
    result: dict[str, Any] = {
        "jobs": ns.jobs,
        "limit": ns.limit,
        "duration": [float(low), float(high)],
    }
    with emulator_process(*args) as env, tempfile.TemporaryDirectory() as tmp:
        result["engine"] = await run_engine(env, ns.jobs, ns.limit, Path(tmp) / "engine")
        print_row("engine", result["engine"])
        result["naive"] = await run_naive(
            env, ns.jobs, ns.limit, Path(tmp) / "naive", ns.naive_interval
        )
        print_row(f"naive ({ns.naive_interval:g} s poll)", result["naive"])
        if ns.queued:
            result["queued"] = await queued_memory(env, ns.queued, ns.queued_seconds, Path(tmp))
            q = result["queued"]
            print(
                f"\n{q['jobs_queued']:,} jobs queued: peak RSS {q['peak_rss_mb']} MB "
                f"(process before the jobs: {q['rss_before_jobs_mb']} MB; "
                f"{q['jobs_done_in_window']} done in the window)"
            )
    return result


def print_row(name: str, f: dict[str, float]) -> None:
    print(
        f"{name:>22}: makespan {f['makespan_s']:7.2f} s = {f['makespan_over_bound']:.3f} x bound"
        f" ({f['lower_bound_s']} s) | {f['requests_per_job']:.2f} requests/job"
        f" | {f['429s_per_job']:.3f} 429s/job | {f['cpu_ms_per_job']:.2f} ms CPU/job"
        f" | peak {f['peak_rss_mb']} MB | dup creates {f['duplicate_creates']}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--duration", default="1:3")
    parser.add_argument("--rate-limit", type=float, default=100.0)
    parser.add_argument("--naive-interval", type=float, default=2.0)
    parser.add_argument("--queued", type=int, default=100_000)
    parser.add_argument("--queued-seconds", type=float, default=15.0)
    ns = parser.parse_args()
    print(
        f"{ns.jobs} jobs, parallel-task limit {ns.limit} (not told to the engine), "
        f"durations uniform {ns.duration} s, rate limit {ns.rate_limit:g}/s"
    )
    print(json.dumps(asyncio.run(main(ns))))
