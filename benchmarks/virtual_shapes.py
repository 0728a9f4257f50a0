"""The six workload shapes of batch_shapes.py on a virtual clock: schedule quality in seconds.

The emulator and the engine run in this one process on one ``kling.VirtualClock``, so a shape
of ten minutes of API time (300 jobs of 5-15 s on an account of 5) takes seconds, and the same
seed gives nearly the same run. It measures what does not depend on the machine's speed:
makespan / greedy (the zero-lag schedule of the very durations the emulator drew; beside it
``polled``, the best polling client within the issue's request budget, over greedy), API
requests per job (everything but downloads) and 429s per job. CPU time, memory and anything
client-bound (the fast-tasks shape at real speed) are batch_shapes.py's: here the engine's own
work costs no virtual time except the sleeps it overlaps.

    .venv/bin/python benchmarks/virtual_shapes.py                  # every shape, issue sizes
    .venv/bin/python benchmarks/virtual_shapes.py --shapes 2,6 --seeds 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from batch_shapes import SHAPES, Shape, best_polled, greedy_makespan

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import kling_async as kling
from kling_async.emulator import Account, Emulator, EmulatorConfig

KEY = "virtual-bench-key"


def config(shape: Shape, seed: int) -> EmulatorConfig:
    mix = shape.mix
    fields: dict[str, Any] = {
        "accounts": [Account(concurrency_limit=shape.limit, api_keys=(KEY,))],
        "video_bytes": 1000,
        "seed": seed,
    }
    if len(mix) == 1:
        fields["duration"] = (mix[0][1], mix[0][2])
    else:
        fields["duration_mix"] = mix
    if shape.rate is not None:
        fields["rate_limit"] = shape.rate
        fields["rate_burst"] = shape.burst or 1.0
    return EmulatorConfig(**fields)


async def run(shape: Shape, jobs: int, seed: int) -> dict[str, float]:
    clock = kling.VirtualClock()
    real = time.monotonic()
    async with Emulator(config(shape, seed), clock=clock) as emu:
        work = [
            kling.ImageToVideo(image=f"https://img.test/{i}.png", prompt=f"job {i}")
            for i in range(jobs)
        ]
        async with kling.KlingClient(api_key=KEY, base_url=emu.url, clock=clock) as client:
            with tempfile.TemporaryDirectory() as out:
                started = clock.monotonic()
                done = 0
                async for outcome in client.batch(work, output_dir=out):
                    done += outcome.status == kling.OutcomeStatus.SUCCEEDED
                makespan = clock.monotonic() - started
        stats = emu.stats()
    greedy = greedy_makespan(stats["durations"], shape.limit, shape.rate, shape.burst)
    polled, _ = best_polled(stats["durations"], shape.limit, shape.budget, shape.rate, shape.burst)
    api = stats["requests"] - stats["downloads"]
    return {
        "succeeded": done,
        "makespan": makespan,
        "greedy": greedy,
        "ratio": makespan / greedy,
        "polled": polled / greedy,
        "requests_per_job": api / jobs,
        "429_per_job": (stats["rate_limited_1302"] + stats["concurrency_limited_1303"]) / jobs,
        "duplicates": stats["duplicate_creates"],
        "real_s": time.monotonic() - real,
    }


async def main(ns: argparse.Namespace) -> None:
    # the callbacks shape needs a receiver on real sockets: batch_shapes.py's alone
    polled = sorted(k for k, shape in SHAPES.items() if not shape.callbacks)
    keys = [int(k) for k in ns.shapes.split(",")] if ns.shapes else polled
    print(
        f"{'shape':<16} {'N':>6} {'C':>5} {'/greedy':>8} {'req/job':>8} {'429/job':>8}"
        f" {'polled':>7} real s"
    )
    for key in keys:
        shape = SHAPES[key]
        jobs = ns.jobs or shape.jobs_full
        runs = [await run(shape, jobs, seed) for seed in range(7, 7 + ns.seeds)]
        assert all(r["succeeded"] == jobs and r["duplicates"] == 0 for r in runs), runs
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"{shape.name:<16} {jobs:>6} {shape.limit:>5} {med['ratio']:>8.3f} "
            f"{med['requests_per_job']:>8.2f} {med['429_per_job']:>8.3f} {med['polled']:>7.3f}"
            f" {med['real_s']:>6.1f}",
            flush=True,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", default="", help="comma-separated shape numbers (1-6)")
    parser.add_argument("--jobs", type=int, default=0, help="override N for every shape")
    parser.add_argument("--seeds", type=int, default=1, help="runs per shape (medians)")
    asyncio.run(main(parser.parse_args()))
