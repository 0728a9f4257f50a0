"""Worker processes on one account, side by side with the single-process engine.

A real redis-server (on a Unix socket in a temporary folder), the emulator in its own process
with a parallel-task limit C the clients are not told, and N jobs run three ways:

- ``engine``: one process, ``client.batch`` (it learns C by itself);
- ``workers``: W ``kling-async worker`` processes sharing the account's limits through the
  RedisGovernor on the same Redis (each may use any slot; the sum stays at C), fed by one
  enqueuer;
- ``workers-own``: the same workers with ``--own-limits``: each learns C on its own (the
  oversubscription the shared governor prevents);
- ``workers-kill``: as ``workers``, with ``kill -9`` of half the workers once a quarter of the
  jobs were created (their job and slot leases, 2 s here, run out; the others take over).

For each: creates (the emulator's count), duplicate creates and reused external ids, the
server's max in flight, 429s (1302 + 1303) per job, and makespan / lower bound, where the
bound is max(sum of task durations / C, longest task) from the emulator's own record.

    .venv/bin/python benchmarks/workers.py [--jobs 400] [--limit 20] [--workers 4] \\
        [--duration 1:3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from _emulator_process import emulator_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import kling_async as kling
from kling_async.workers import close_queue, enqueue, follow, make_queue
from tests._redis_server import start_redis, stop_redis
from tests._worker_cluster import Cluster


async def stats(base: str, reset: bool = False) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s:
        if reset:
            async with s.post(f"{base}/__emulator__/reset?all=1") as r:
                await r.read()
        async with s.get(f"{base}/__emulator__/stats") as r:
            return await r.json()  # type: ignore[no-any-return]


async def external_ids(env: dict[str, str]) -> Counter[str]:
    """Every task's external id, from the emulator's list endpoint (legacy, image2video)."""
    from tests._helpers import Api, token

    seen: Counter[str] = Counter()
    auth = token(env["KLING_ACCESS_KEY"], env["KLING_SECRET_KEY"])
    async with aiohttp.ClientSession() as session:
        api = Api(session, env["KLING_BASE_URL"], auth=f"Bearer {auth}")
        for page in range(1, 1000):
            _, body, _ = await api.call(
                "GET", f"/v1/videos/image2video?pageNum={page}&pageSize=500"
            )
            tasks = body.get("data") or []
            for task in tasks:
                seen[(task.get("task_info") or {}).get("external_task_id") or ""] += 1
            if len(tasks) < 500:
                return seen
    return seen


def jobs(n: int, run: str) -> list[tuple[str, kling.ImageToVideo]]:
    # URL images: the emulator does not fetch them; the run measures scheduling
    return [
        (f"{run}-{i}", kling.ImageToVideo(image=f"https://img.test/{run}/{i}.png", prompt=run))
        for i in range(n)
    ]


def figures(s: dict[str, Any], n: int, limit: int, makespan: float) -> dict[str, Any]:
    bound = max(s["duration_sum"] / limit, s["duration_max"])
    return {
        "creates": s["creates"],
        "duplicate_creates": s["duplicate_creates"],
        "max_in_flight": s["max_in_flight"],
        "429s_per_job": round((s["rate_limited_1302"] + s["concurrency_limited_1303"]) / n, 3),
        "makespan_s": round(makespan, 2),
        "lower_bound_s": round(bound, 2),
        "makespan_over_bound": round(makespan / bound, 3),
        "succeeded": s["tasks_succeeded"],
    }


async def run_engine(env: dict[str, str], n: int, limit: int, out: Path) -> dict[str, Any]:
    base = env["KLING_BASE_URL"]
    await stats(base, reset=True)
    async with kling.KlingClient(api_key=env["KLING_API_KEY"], base_url=base) as client:
        started = time.monotonic()
        run = client.batch(
            [job for _, job in jobs(n, "engine")],
            output_dir=out,
            poll=kling.PollPolicy(min_interval=0.05),
            downloads=8,
        )
        async for _ in run:
            pass
        makespan = time.monotonic() - started
    return figures(await stats(base), n, limit, makespan)


async def run_workers(
    env: dict[str, str],
    redis_url: str,
    n: int,
    limit: int,
    count: int,
    tmp: Path,
    *,
    kill: bool,
    shared: bool = True,
    extra: tuple[str, ...] = (),
) -> dict[str, Any]:
    base = env["KLING_BASE_URL"]
    await stats(base, reset=True)
    name = ("kill" if kill else "workers") + ("" if shared else "-own")
    out = tmp / name
    cluster = Cluster(
        redis_url,
        out,
        base,
        tmp / f"logs-{name}",
        count=count,
        # the same workers either way: each may use every slot the account has; shared
        # limits keep the sum at C, own limits let them oversubscribe the account N-fold
        concurrency=limit,
        namespace=name,
        credentials={k: v for k, v in env.items() if k != "KLING_BASE_URL"},
        extra=extra if shared else (*extra, "--own-limits"),
    )
    cluster.start()
    queue = make_queue(redis_url, name)
    outcomes: Counter[str] = Counter()
    try:
        await cluster.wait_ready()
        started = time.monotonic()
        queued, bad = await enqueue(queue, jobs(n, name), heartbeat=2)
        assert not bad, bad
        if kill:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # a quarter of the jobs created, then kill
                if (await stats(base))["creates"] >= n // 4:
                    break
                await asyncio.sleep(0.05)
            for i in range(count // 2):
                cluster.kill(i)
        finished = await follow(
            queue, queued, out, lambda o, _: outcomes.update([o.status.value]), timeout=600
        )
        makespan = time.monotonic() - started
    finally:
        await close_queue(queue)
        cluster.stop()
    result = figures(await stats(base), n, limit, makespan)
    ids = await external_ids(env)
    result["reused_external_ids"] = sum(c - 1 for c in ids.values() if c > 1)
    result["outcomes"] = dict(outcomes)
    result["all_followed"] = finished
    result["files"] = len(list(out.glob("*.mp4")))
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=400)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--duration", default="1:3")
    parser.add_argument("--runs", default="engine,workers,workers-own,workers-kill")
    parser.add_argument(
        "--worker-options", default="", help="More worker options, e.g. '--prefetch 1'"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kling-workers-") as folder:
        tmp = Path(folder)
        redis = start_redis(tmp / "redis")
        try:
            emulator_args = [
                "--concurrency-limit",
                str(args.limit),
                "--duration",
                args.duration,
                "--video-bytes",
                "16384",
                "--seed",
                "1",
            ]
            with emulator_server(*emulator_args) as emulator:
                env = emulator.env
                runs = args.runs.split(",")
                results = {}
                if "engine" in runs:
                    results["engine"] = await run_engine(env, args.jobs, args.limit, tmp / "engine")
                for name, kill, shared in (
                    ("workers", False, True),
                    ("workers-own", False, False),
                    ("workers-kill", True, True),
                ):
                    if name in runs:
                        results[name] = await run_workers(
                            env,
                            redis.url,
                            args.jobs,
                            args.limit,
                            args.workers,
                            tmp,
                            kill=kill,
                            shared=shared,
                            extra=tuple(args.worker_options.split()),
                        )
        finally:
            stop_redis(redis)
    print(json.dumps({"jobs": args.jobs, "limit": args.limit, "workers": args.workers}))
    for name, figures_ in results.items():
        print(f"{name:13s} {json.dumps(figures_)}")


if __name__ == "__main__":
    asyncio.run(main())
