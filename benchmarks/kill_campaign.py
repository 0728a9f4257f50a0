"""Kill campaign: workers killed with ``kill -9`` again and again while one follower waits.

Each run starts from nothing: a real redis-server (a Unix socket in a temporary folder), the
emulator in its own process (tasks of 1-3 s, a parallel-task limit of 20 the clients are not
told, distinct filler bytes per video), N distinct images, W ``kling-async worker``
processes (lease 2 s, sweep 1 s) and the follower ``kling-async animate IN --out OUT
--redis URL --json`` as a subprocess. During the run K workers, picked at random, are killed
with SIGKILL at random times (a seeded RNG; the seed is printed) and each is restarted at
once, so W keep running. The follower must end on its own within ``--bound`` seconds.

After each run: the follower's exit code and time; creates, duplicate creates and reused
external ids (the emulator's own record); videos in OUT; duplicate files (``x-<id8>.mp4``
beside ``x.mp4``, files no job asked for, or the same bytes twice); outcomes by status;
whether it ended on its own; and of the kills, how many came within 3 s of the worker's
restart ("young": likely before it took a job) and how many hit a worker holding job leases
("hold", with the number of jobs they held). At the end a table of the runs and a verdict
line. A run that fails keeps its folder (worker logs at INFO, the follower's output, the
queue's state when it did not end).

    .venv/bin/python benchmarks/kill_campaign.py [--runs 10] [--jobs 100] [--workers 4] \\
        [--kills 20] [--seed S]
    .venv/bin/python benchmarks/kill_campaign.py --quick      # 2 runs, 30 jobs, 6 kills
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _emulator_process import emulator_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# the subprocesses (emulator, workers, follower) run this checkout's code too
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p
)

from workers import external_ids, stats  # noqa: E402  (benchmarks/workers.py)

from kling_async.workers import close_queue, make_queue  # noqa: E402
from tests._redis_server import start_redis, stop_redis  # noqa: E402
from tests._worker_cluster import Cluster, make_images  # noqa: E402

#: Emulator: tasks of 1-3 s, a parallel-task limit the clients are not told.
LIMIT = 20
DURATION = "1:3"
#: A name the batch gives a video whose name was taken: ``<name>-<id8>[-n]``.
_SUFFIXED = re.compile(r"^(?P<base>.+)-[0-9a-f]{8}(-\d+)?$")


def duplicate_files(out: Path, expected: set[str]) -> dict[str, Any]:
    """Videos in ``out``: how many, which expected ones are missing, and duplicates (a
    suffixed name beside its base, a name no job asked for, the same bytes twice)."""
    videos = sorted(out.rglob("*.mp4"))
    names = {str(v.relative_to(out)) for v in videos}
    suffixed = [
        n
        for n in names
        if (m := _SUFFIXED.match(n[: -len(".mp4")])) and f"{m['base']}.mp4" in names
    ]
    unexpected = sorted(names - expected - set(suffixed))
    by_content: dict[str, list[str]] = {}
    for video in videos:
        digest = hashlib.sha256(video.read_bytes()).hexdigest()
        by_content.setdefault(digest, []).append(str(video.relative_to(out)))
    same = [sorted(group) for group in by_content.values() if len(group) > 1]
    return {
        "videos": len(videos),
        "missing": sorted(expected - names),
        "suffixed": sorted(suffixed),
        "unexpected": unexpected,
        "same_content": same,
        "duplicate_files": len(suffixed) + len(unexpected) + sum(len(g) - 1 for g in same),
    }


async def leases_of(redis_url: str, pid: int) -> int:
    """How many jobs worker process ``pid`` holds a lease on in the job store now (owner ids
    are ``host:pid:random``)."""
    from redis import asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        held = 0
        async for key in client.scan_iter(match="kling:default:lease:*"):
            owner = await client.get(key)
            if owner is not None and owner.split(":")[1] == str(pid):
                held += 1
        return held
    finally:
        await client.aclose()


async def queue_state(redis_url: str) -> dict[str, Any]:
    """Every queue job's status, and the keys of those not ended (for a stuck run)."""
    queue = make_queue(redis_url, "default")
    try:
        prefix = queue.job_id("")
        keys = [
            queue.job_key_from_id(k.decode() if isinstance(k, bytes) else k)
            async for k in queue.redis.scan_iter(match=f"{prefix}*")
        ]
        records = await queue.jobs(keys)
        statuses = Counter(str(r.status.value) if r else "gone" for r in records)
        open_ = [
            {"key": k[:12], "status": r.status.value, "attempts": r.attempts, "error": r.error}
            for k, r in zip(keys, records, strict=True)
            if r is not None and r.status.value not in ("complete", "failed", "aborted")
        ]
        return {"statuses": dict(statuses), "open": open_}
    finally:
        await close_queue(queue)


async def one_run(index: int, args: argparse.Namespace, seed: int, folder: Path) -> dict[str, Any]:
    rng = random.Random(seed * 1000 + index)
    images = make_images(folder / "in", args.jobs)
    expected = {f"{p.stem}.mp4" for p in images}
    out = folder / "out"
    redis = start_redis(folder / "redis")
    kills: list[tuple[float, int]] = sorted(
        (round(rng.uniform(1.0, args.span), 2), rng.randrange(args.workers))
        for _ in range(args.kills)
    )
    emulator_args = [
        "--concurrency-limit",
        str(LIMIT),
        "--duration",
        DURATION,
        "--video-bytes",
        "16384",
        "--seed",
        str(seed * 1000 + index),
    ]
    try:
        with emulator_server(*emulator_args) as emulator:
            env = emulator.env
            cluster = Cluster(
                redis.url,
                out,
                env["KLING_BASE_URL"],
                folder / "logs",
                count=args.workers,
                credentials={k: v for k, v in env.items() if k != "KLING_BASE_URL"},
                extra=("-v",),  # SAQ's and the worker's INFO lines: what a failed run did
            )
            cluster.start()
            try:
                await cluster.wait_ready()
                result = await follow_and_kill(
                    cluster, kills, folder, images[0].parent, out, env, args.bound
                )
            finally:
                cluster.stop()
            if not result["on_its_own"]:
                result["queue"] = await queue_state(redis.url)
            seen = await stats(env["KLING_BASE_URL"])
            ids = await external_ids(env)
    finally:
        stop_redis(redis)
    result.update(
        creates=seen["creates"],
        duplicate_creates=seen["duplicate_creates"],
        reused_external_ids=sum(n - 1 for n in ids.values() if n > 1),
        max_in_flight=seen["max_in_flight"],
        **duplicate_files(out, expected),
    )
    jobs = args.jobs
    outcomes = result["outcomes"]
    result["ok"] = (
        result["on_its_own"]
        and result["exit_code"] == 0
        and result["creates"] == jobs
        and result["duplicate_creates"] == 0
        and result["reused_external_ids"] == 0
        and result["videos"] == jobs
        and not result["missing"]
        and result["duplicate_files"] == 0
        and sum(outcomes.values()) == jobs
        and set(outcomes) <= {"succeeded", "skipped"}
    )
    return result


async def follow_and_kill(
    cluster: Cluster,
    kills: list[tuple[float, int]],
    folder: Path,
    images: Path,
    out: Path,
    env: dict[str, str],
    bound: float,
) -> dict[str, Any]:
    """Start the follower; kill -9 (and restart) the workers at the drawn times while it
    runs; wait for it to end, at most ``bound`` seconds (more: stuck)."""
    stdout = (folder / "follower.out").open("wb")
    stderr = (folder / "follower.err").open("wb")
    started = time.monotonic()
    follower = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kling_async",
        "animate",
        str(images),
        "--out",
        str(out),
        "--redis",
        cluster.redis_url,
        "--json",
        env={**os.environ, **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
    )
    stdout.close()
    stderr.close()
    done: list[tuple[float, int, float]] = []  # (when, which worker, its uptime then)
    held: list[int] = []  # jobs the killed worker held a lease on
    spawned: dict[int, float] = {}  # a restarted worker's start; the others' is before started
    ended = asyncio.create_task(follower.wait())
    try:
        for at, worker in kills:
            wait = at - (time.monotonic() - started)
            if wait > 0:
                await asyncio.wait({ended}, timeout=wait)
            if ended.done():
                break
            up = time.monotonic() - spawned.get(worker, started)
            held.append(await leases_of(cluster.redis_url, cluster.processes[worker].pid))
            await asyncio.to_thread(cluster.kill, worker)
            cluster.restart(worker)
            spawned[worker] = time.monotonic()
            done.append((round(spawned[worker] - started, 2), worker, round(up, 1)))
        await asyncio.wait({ended}, timeout=max(0.0, bound - (time.monotonic() - started)))
        on_its_own = ended.done()
        if not on_its_own:
            follower.kill()
            await ended
    finally:
        if not ended.done():
            follower.kill()
            await ended
    elapsed = time.monotonic() - started
    records = []
    for line in (folder / "follower.out").read_text(errors="replace").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    outcomes = Counter(r.get("status") for r in records if r.get("event") == "outcome")
    return {
        "exit_code": follower.returncode,
        "seconds": round(elapsed, 1),
        "on_its_own": on_its_own,
        "kills": done,
        "kills_asked": len(kills),
        # killed within 3 s of its restart: likely before it took a job (imports take ~1-2 s)
        "young_kills": sum(1 for _, _, up in done if up < 3.0),
        "kills_holding_jobs": sum(1 for n in held if n),
        "jobs_orphaned": sum(held),
        "outcomes": dict(outcomes),
    }


def line(index: int, r: dict[str, Any], jobs: int) -> str:
    outcomes = ",".join(f"{k}={v}" for k, v in sorted(r["outcomes"].items()))
    return (
        f"{index:>3} {'yes' if r['on_its_own'] else 'NO':>5} {r['exit_code']!s:>4} "
        f"{r['seconds']:>7.1f} {len(r['kills']):>2}/{r['kills_asked']:<2} "
        f"{r['kills_holding_jobs']:>4} {r['jobs_orphaned']:>4} {r['creates']:>4}/{jobs:<4} "
        f"{r['duplicate_creates']:>4} {r['reused_external_ids']:>6} "
        f"{r['videos']:>4}/{jobs:<4} {r['duplicate_files']:>5}  {outcomes}  "
        f"{'ok' if r['ok'] else 'FAIL'}"
    )


HEADER = (
    "run  own exit  time s kills hold jobs creates   dup reused videos    dupf  outcomes\n"
    "--- ----- ---- ------- ----- ---- ---- --------- ---- ------ --------- -----  --------"
)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None, help="default: drawn, printed")
    parser.add_argument(
        "--span", type=float, default=None, help="kills fall in 1..SPAN s (default 0.2 s/job)"
    )
    parser.add_argument("--bound", type=float, default=300.0, help="seconds; more is stuck")
    parser.add_argument("--quick", action="store_true", help="2 runs, 30 jobs, 6 kills")
    parser.add_argument("--keep", type=Path, default=None, help="keep every run's folder here")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.jobs, args.kills = 2, 30, 6
    if args.span is None:
        args.span = max(5.0, 0.2 * args.jobs)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    print(
        f"kill campaign: seed {seed}, {args.runs} runs of {args.jobs} jobs, {args.workers} "
        f"workers, {args.kills} kill -9s in 1..{args.span:g} s, emulator limit {LIMIT}, "
        f"tasks {DURATION} s, bound {args.bound:g} s",
        flush=True,
    )
    base = args.keep or Path(tempfile.mkdtemp(prefix="kling-kills-"))
    results: list[dict[str, Any]] = []
    for i in range(1, args.runs + 1):
        folder = base / f"run-{i:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        r = await one_run(i, args, seed, folder)
        results.append(r)
        shown = {k: v for k, v in r.items() if k not in ("kills",)}
        print(f"run {i}: {json.dumps(shown)}", flush=True)
        print(f"run {i} kills (s, worker, its uptime s): {r['kills']}", flush=True)
        if r["ok"] and args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
        elif not r["ok"]:
            print(f"run {i} FAILED: its folder is kept: {folder}", flush=True)
    print()
    print(f"seed {seed}")
    print(HEADER)
    for i, r in enumerate(results, 1):
        print(line(i, r, args.jobs))
    good = sum(r["ok"] for r in results)
    own = sum(r["on_its_own"] for r in results)
    full = sum(len(r["kills"]) == r["kills_asked"] for r in results)
    verdict = "FAIL" if good < len(results) else "PASS" if full == len(results) else "INCOMPLETE"
    print(
        f"verdict: {verdict}: {good}/{len(results)} runs ended on their own with exactly "
        f"{args.jobs} creates, {args.jobs} videos and no duplicate ({own} ended on their own; "
        f"{sum(len(r['kills']) for r in results)} kill -9s in all, "
        f"{sum(r['kills_holding_jobs'] for r in results)} of them of a worker holding jobs; "
        f"{full}/{len(results)} runs got all {args.kills} before the follower ended)"
    )
    if args.keep is None and good == len(results):
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
