"""The batch engine against a naive client and a greedy reference, on seven workload shapes.

Each shape is N jobs on an account with a parallel-task limit C that no client is told (the
naive one gets a semaphore of C, which is generous) and task durations drawn by an emulator
running in its own process. Each client runs in its own process too, so CPU time and peak
memory are that client's alone:

- engine: ``client.batch(jobs, output_dir=...)`` with its defaults; in the "callbacks" shape
  (7) with ``callbacks=True``, the jobs' ``callback_url`` pointing at ``animate --listen``'s
  receiver in the client's process, and the emulator signing its callbacks;
- naive: a semaphore of C; per job create, ``get`` every 2 s until final, download;
- greedy: not a client but the zero-lag schedule of the durations the emulator drew in that
  very run (``durations`` in ``GET /__emulator__/stats``, creation order): list scheduling on
  C slots, task i starting at the earliest free slot, and not before max(0, i - burst + 1) /
  rate when the shape has a request-rate limit. No client can beat it without knowing the
  durations in advance.
- polled: not a client either, but the best a client that knows C and not the durations
  can do within the issue's request budget (2 requests a job, 1.3 where T >= 5 s): ends seen
  only by polls (one request sees every task), at the best fixed interval (and tail
  interval), creates sent the moment a slot shows free, polls and creates sharing the rate
  limit (``best_polled``). Where ``polled / greedy`` is above 1.03, no polling client meets
  both the makespan and the request targets; only callbacks can.
- fill: how long the client took from its first accepted create to the C-th (the account's
  slots all taken once); greedy starts every first-wave task at 0, and no client can send C
  creates in no time, so on a large account this is most of what stands between a client
  and greedy. ``over_greedy_after_fill`` is makespan over the greedy schedule whose
  first-wave tasks start when the client's really did (the schedule's lag alone).

Clients and emulator run on the loop the kling-async commands choose (uvloop where installed;
``--loop asyncio`` for asyncio's, as a library user's ``asyncio.run`` would).

Per shape and client it prints makespan, makespan / greedy, engine / naive, API requests per
job (everything but downloads), 429s per job (1302 + 1303), client CPU ms per job, the client's
peak RSS, duplicate creates and the emulator's CPU use (to show it is not the bottleneck).
Then a markdown summary and one JSON line with every figure.

    .venv/bin/python benchmarks/batch_shapes.py --quick            # make bench: ~15 minutes
    .venv/bin/python benchmarks/batch_shapes.py --full             # the issue's sizes, 3 runs
    .venv/bin/python benchmarks/batch_shapes.py --shapes 1,3 --repeat 3
    .venv/bin/python benchmarks/batch_shapes.py --shapes none --queued   # 100k jobs queued
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import http.client
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
from _emulator_process import EmulatorProcess, emulator_server, rss_mb

from kling_async.emulator._ratelimit import Bucket  # the rule the emulator enforces

NAIVE_POLL = 2.0
#: What the emulator signs callbacks with in the "callbacks" shape (a benchmark's, not a secret).
WEBHOOK_SECRET = "whsec_" + "YmVuY2htYXJrLXdlYmhvb2stc2VjcmV0LTMyYnl0ZXM="


@attrs.frozen
class Shape:
    key: int
    name: str
    jobs_full: int
    jobs_quick: int
    limit: int
    #: "MIN:MAX" for --duration, or "W:MIN:MAX,..." for --duration-mix
    durations: str
    rate: float | None = None
    burst: float | None = None
    #: The engine ends tasks by signed callback (``animate --listen``'s receiver), polling
    #: only as a fallback; the emulator signs them with ``WEBHOOK_SECRET``.
    callbacks: bool = False

    @property
    def mix(self) -> tuple[tuple[float, float, float], ...]:
        """The durations as (weight, min, max) components."""
        parts = [tuple(float(x) for x in p.split(":")) for p in self.durations.split(",")]
        if len(parts) == 1 and len(parts[0]) == 2:
            return ((1.0, parts[0][0], parts[0][1]),)
        return tuple((p[0], p[1], p[2]) for p in parts)

    @property
    def budget(self) -> float:
        """The issue's requests a job: 2.0, and 1.3 where every task takes 5 s or more."""
        return 1.3 if min(lo for _, lo, _ in self.mix) >= 5 else 2.0

    @property
    def mean_duration(self) -> float:
        mix = self.mix
        return sum(w * (lo + hi) / 2 for w, lo, hi in mix) / sum(w for w, _, _ in mix)

    def emulator_args(self) -> list[str]:
        mixed = "," in self.durations or self.durations.count(":") == 2
        args = ["--concurrency-limit", str(self.limit), "--video-bytes", "1000", "--seed", "7"]
        args += ["--duration-mix" if mixed else "--duration", self.durations]
        if self.rate is not None:
            args += ["--rate-limit", f"{self.rate:g}", "--rate-burst", f"{self.burst or 1:g}"]
        if self.callbacks:
            args += ["--webhook-secret", WEBHOOK_SECRET]
        return args

    def describe(self) -> str:
        if len(self.mix) == 1:
            t = f"U({self.mix[0][1]:g},{self.mix[0][2]:g})"
        else:
            total = sum(w for w, _, _ in self.mix)
            t = " + ".join(f"{100 * w / total:g}% U({lo:g},{hi:g})" for w, lo, hi in self.mix)
        rate = f", {self.rate:g} req/s (burst {self.burst:g})" if self.rate else ""
        hooks = ", engine ends tasks by signed callback" if self.callbacks else ""
        return f"C={self.limit}, T~{t}{rate}{hooks}"


SHAPES: dict[int, Shape] = {
    s.key: s
    for s in (
        Shape(1, "uniform", 1000, 1000, 50, "1:3"),
        Shape(2, "small account", 300, 60, 5, "5:15"),
        Shape(3, "heavy tail", 1000, 1000, 50, "0.9:1:2,0.1:10:20"),
        Shape(4, "large account", 5000, 2000, 1000, "5:10"),
        Shape(5, "fast tasks", 10000, 10000, 500, "0.2:0.5"),
        Shape(6, "rate-limited", 300, 300, 20, "1:3", rate=10.0, burst=10.0),
        Shape(7, "callbacks", 40, 40, 5, "5:10", callbacks=True),
    )
}


def greedy_makespan(
    durations: Sequence[float],
    slots: int,
    rate: float | None = None,
    burst: float | None = None,
    starts: Sequence[float] = (),
) -> float:
    """The zero-lag list schedule of ``durations`` in creation order on ``slots`` slots: each
    task takes the earliest free slot, no earlier than its create may pass the rate limit (a
    token bucket of ``burst`` refilled at ``rate``/s lets create i through at (i-burst+1)/rate);
    returns the last end. Tasks of the first wave (i < slots) with a time in ``starts`` start
    then instead (when a client really sent them: the schedule after its ramp)."""
    free = [0.0] * max(1, min(slots, len(durations)))
    first = min(slots, len(starts))
    end = 0.0
    for i, seconds in enumerate(durations):
        start = heapq.heappop(free)
        if i < first:
            start = max(start, starts[i])
        elif rate:
            start = max(start, max(0.0, i - (burst or 1.0) + 1) / rate)
        heapq.heappush(free, start + seconds)
        end = max(end, start + seconds)
    return end


def _passes(bucket: Bucket | None, t: float, *, take: bool) -> float:
    """The earliest time >= t a request may pass the emulator's own token bucket (``None``: no
    rate limit); with ``take``, that request takes its token."""
    if bucket is None:
        return t
    probe = bucket if take else attrs.evolve(bucket)
    wait = probe.take(t)
    while wait > 0:
        t += max(wait, 1e-9)  # a float short of a whole token: never a zero step
        wait = probe.take(t)
    return t


def polled_makespan(
    durations: Sequence[float],
    slots: int,
    interval: float,
    tail_interval: float,
    rate: float | None = None,
    burst: float | None = None,
) -> tuple[float, int]:
    """A client with no overhead that knows C but not the durations: it learns of ends only
    by polling (one request sees every task, as a list page does), every ``interval`` s while
    jobs wait to be created and every ``tail_interval`` s after; it creates the moment a poll
    shows a slot free. Polls and creates share the rate limit, polls first. Returns (the time
    the last end was seen, polls sent)."""
    size = burst or 1.0
    bucket = Bucket(rate, size, size, 0.0) if rate else None
    running: list[float] = []  # end times of tasks not yet seen ended
    free, i, n = slots, 0, len(durations)
    t, polls, seen_last = 0.0, 0, 0.0
    next_poll = interval
    while i < n or running:
        if free > 0 and i < n:
            at = _passes(bucket, t, take=False)
            if at < next_poll or not running:
                t = _passes(bucket, at, take=True)
                heapq.heappush(running, t + durations[i])
                i += 1
                free -= 1
                continue
        t = _passes(bucket, next_poll, take=True)
        polls += 1
        while running and running[0] <= t:
            heapq.heappop(running)
            free += 1
            seen_last = t
        next_poll = t + (interval if i < n else tail_interval)
    return seen_last, polls


def best_polled(
    durations: Sequence[float],
    slots: int,
    budget: float,
    rate: float | None = None,
    burst: float | None = None,
) -> tuple[float, float]:
    """The best ``polled_makespan`` over poll intervals (0.02 s to 66 s, 10% apart, and a
    tail interval of 1 to 1/8 of it) whose requests (creates + polls) stay within ``budget``
    a job: what the issue's request budget allows a client that cannot guess durations. Returns
    (makespan, requests per job); (inf, inf) when no interval fits the budget."""
    n = len(durations)
    best = (float("inf"), float("inf"))
    intervals = [0.02 * 1.1**k for k in range(85)]  # 0.02 .. 66 s, 10% apart
    for interval in intervals:
        for tail in (interval, interval / 2, interval / 4, interval / 8):
            makespan, polls = polled_makespan(durations, slots, interval, tail, rate, burst)
            per_job = (n + polls) / n
            if per_job <= budget and makespan < best[0]:
                best = (makespan, per_job)
    return best


# -- the parent: one emulator per shape, one child process per client run ---------------------
def emulator_call(base: str, method: str, path: str) -> dict[str, Any]:
    """One plain HTTP request to the emulator's own endpoints (stats, reset)."""
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
    try:
        connection.request(method, path)
        answer = connection.getresponse()
        body = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {answer.status} {body[:200]!r}")
        return json.loads(body)  # type: ignore[no-any-return]
    finally:
        connection.close()


def run_client(
    emulator: EmulatorProcess, shape: Shape, client: str, jobs: int, offset: int
) -> dict[str, Any]:
    """Run one client in a child process against a freshly reset emulator; its figures."""
    base = emulator.env["KLING_BASE_URL"]
    emulator_call(base, "POST", "/__emulator__/reset?all=1")
    cpu_before = emulator.cpu_seconds()
    # generous: 20 times the work's lower bound, never less than 10 minutes
    timeout = max(600.0, 20 * jobs * shape.mean_duration / shape.limit)
    cmd = [sys.executable, __file__, "--child", client, "--jobs", str(jobs)]
    cmd += ["--limit", str(shape.limit), "--offset", str(offset)]
    if shape.callbacks and client == "engine":
        cmd += ["--callbacks"]
    env = {**os.environ, **emulator.env}
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"no result within {timeout:.0f} s (child killed)"}
    emulator_cpu = emulator.cpu_seconds() - cpu_before
    if done.returncode != 0 or not done.stdout.strip():
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-2000:]}"}
    child = json.loads(done.stdout.strip().splitlines()[-1])
    stats = emulator_call(base, "GET", "/__emulator__/stats")
    durations, created = stats["durations"], stats["created"]
    greedy = greedy_makespan(durations, shape.limit, shape.rate, shape.burst)
    after_fill = greedy_makespan(durations, shape.limit, shape.rate, shape.burst, created)
    polled, _ = best_polled(durations, shape.limit, shape.budget, shape.rate, shape.burst)
    fill = created[min(shape.limit, len(created)) - 1] if created else 0.0
    makespan = child["makespan_s"]
    return {
        "makespan_s": round(makespan, 2),
        "greedy_s": round(greedy, 2),
        "over_greedy": round(makespan / greedy, 3),
        "fill_s": round(fill, 3),
        "over_greedy_after_fill": round(makespan / after_fill, 3),
        "polled_s": round(polled, 2),
        "polled_over_greedy": round(polled / greedy, 3),
        "requests_per_job": round((stats["requests"] - stats["downloads"]) / jobs, 3),
        "429s_per_job": round(
            (stats["rate_limited_1302"] + stats["concurrency_limited_1303"]) / jobs, 3
        ),
        "cpu_ms_per_job": round(1000 * child["cpu_s"] / jobs, 2),
        "peak_rss_mb": child["peak_rss_mb"],
        "duplicate_creates": stats["duplicate_creates"],
        "emulator_cpu_pct": round(100 * emulator_cpu / makespan, 1),
        "client_cpu_pct": round(100 * child["cpu_s"] / makespan, 1),
        "creates": stats["creates"],
        "succeeded": child["succeeded"],
        "not_succeeded": child["not_succeeded"],
        "first_errors": child["first_errors"],
        "max_in_flight": stats["max_in_flight"],
        "requests_by_route": stats["requests_by_route"],
        "callbacks_sent": stats["callbacks_sent"],
        "callbacks_ended": child.get("callbacks_ended"),
    }


NUMERIC = (
    "makespan_s",
    "greedy_s",
    "over_greedy",
    "fill_s",
    "over_greedy_after_fill",
    "polled_s",
    "polled_over_greedy",
    "requests_per_job",
    "429s_per_job",
    "cpu_ms_per_job",
    "peak_rss_mb",
    "duplicate_creates",
    "emulator_cpu_pct",
    "client_cpu_pct",
)


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    good = [r for r in runs if "error" not in r]
    if not good:
        return {"error": runs[0]["error"] if runs else "no run"}
    out: dict[str, Any] = {k: round(statistics.median(r[k] for r in good), 3) for k in NUMERIC}
    out["duplicate_creates"] = max(r["duplicate_creates"] for r in good)  # worst, not median
    out["not_succeeded"] = sum(r["not_succeeded"] for r in good)
    out["runs"] = len(good)
    out["failed_runs"] = len(runs) - len(good)
    return out


HEADER = (
    f"{'shape':<18} {'N':>6} {'client':<7} {'makespan':>9} {'/greedy':>8} {'greedy':>8}"
    f" {'polled':>7}"
    f" {'fill':>6} {'eng/naive':>9} {'req/job':>8} {'429/job':>8} {'CPU ms/job':>10}"
    f" {'peak RSS':>9} {'dup':>4} {'emu CPU':>8} {'not ok':>6}"
)


def row(shape: Shape, jobs: int, client: str, f: dict[str, Any], ratio: float | None) -> str:
    label = f"{shape.key} {shape.name}"
    if "error" in f:
        return f"{label:<18} {jobs:>6} {client:<7} ERROR {f['error'][:300]}"
    eng_naive = f"{ratio:.3f}" if ratio is not None else "-"
    return (
        f"{label:<18} {jobs:>6} {client:<7} {f['makespan_s']:>8.1f}s {f['over_greedy']:>8.3f}"
        f" {f['greedy_s']:>7.1f}s {f['polled_over_greedy']:>7.3f} {f['fill_s']:>5.2f}s"
        f" {eng_naive:>9} {f['requests_per_job']:>8.2f}"
        f" {f['429s_per_job']:>8.3f} {f['cpu_ms_per_job']:>10.2f} {f['peak_rss_mb']:>6.1f} MB"
        f" {f['duplicate_creates']:>4} {f['emulator_cpu_pct']:>7.0f}% {f['not_succeeded']:>6}"
    )


def run_shape(shape: Shape, jobs: int, repeat: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"engine": [], "naive": []}
    ratios: list[float] = []
    load = os.getloadavg()[0]
    with emulator_server(*shape.emulator_args()) as emulator:
        for rep in range(repeat):
            for client in ("engine", "naive"):
                offset = (rep * 2 + (client == "naive")) * 10**6
                figures = run_client(emulator, shape, client, jobs, offset)
                runs[client].append(figures)
                progress = f"[{shape.key} run {rep + 1}/{repeat}]"
                print(f"  {progress} {row(shape, jobs, client, figures, None)}")
                if figures.get("first_errors"):
                    print(f"      {client} errors: {figures['first_errors']}")
                sys.stdout.flush()
            engine, naive = runs["engine"][-1], runs["naive"][-1]
            if "error" not in engine and "error" not in naive:
                ratios.append(engine["makespan_s"] / naive["makespan_s"])
    return {
        "shape": shape.key,
        "name": shape.name,
        "jobs": jobs,
        "limit": shape.limit,
        "durations": shape.durations,
        "rate_limit": shape.rate,
        "load_before": round(load, 2),
        "engine": median_of(runs["engine"]),
        "naive": median_of(runs["naive"]),
        "engine_over_naive": round(statistics.median(ratios), 3) if ratios else None,
        "runs": runs,
    }


def summary_markdown(results: list[dict[str, Any]], repeat: int) -> str:
    what = "median of " + str(repeat) if repeat > 1 else "one run"
    lines = [
        f"| shape ({what}) | N | C | engine / greedy | best polled / greedy "
        "| naive / greedy | engine / naive "
        "| engine req/job | engine 429/job | engine CPU ms/job | engine peak RSS | dup |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        e, n, shape = r["engine"], r["naive"], SHAPES[r["shape"]]
        if "error" in e:
            lines.append(f"| {shape.key} {shape.name} | {r['jobs']} | {shape.limit} | error |")
            continue
        naive = f"{n['over_greedy']:.2f}" if "error" not in n else "error"
        ratio = f"{r['engine_over_naive']:.2f}" if r["engine_over_naive"] is not None else "-"
        lines.append(
            f"| {shape.key} {shape.name} | {r['jobs']:,} | {shape.limit} "
            f"| {e['over_greedy']:.2f} ({e['makespan_s']:.0f} s) "
            f"| {e['polled_over_greedy']:.2f} at {shape.budget:g} req | {naive} | {ratio} "
            f"| {e['requests_per_job']:.2f} | {e['429s_per_job']:.3f} | {e['cpu_ms_per_job']:.1f} "
            f"| {e['peak_rss_mb']:.0f} MB | {e['duplicate_creates']} |"
        )
    return "\n".join(lines)


def run_queued(count: int, seconds: float) -> dict[str, Any]:
    args = ["--concurrency-limit", "50", "--duration", "1:3", "--video-bytes", "1000"]
    with emulator_server(*args, "--seed", "7") as emulator:
        cmd = [sys.executable, __file__, "--child", "queued", "--jobs", str(count)]
        cmd += ["--queued-seconds", str(seconds)]
        env = {**os.environ, **emulator.env}
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    if done.returncode != 0:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-2000:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(ns: argparse.Namespace) -> None:
    full = ns.full
    repeat = ns.repeat if ns.repeat is not None else (3 if full else 1)
    keys = [] if ns.shapes == "none" else [int(k) for k in ns.shapes.split(",") if k]
    results: list[dict[str, Any]] = []
    if ns.loop:
        os.environ["KLING_ASYNC_LOOP"] = ns.loop  # the children's and the emulator's
    from kling_async._loop import loop_choice

    print(
        f"{'full' if full else 'quick'} sizes, {repeat} run(s) per shape and client; "
        f"engine: client.batch defaults; naive: semaphore of C, get every {NAIVE_POLL:g} s; "
        f"clients and emulator on {loop_choice()}'s loop (the kling-async commands' choice)"
    )
    for key in keys:
        shape = SHAPES[key]
        jobs = ns.jobs or (shape.jobs_full if full else shape.jobs_quick)
        print(f"\nshape {key} ({shape.name}): N={jobs}, {shape.describe()}")
        sys.stdout.flush()
        results.append(run_shape(shape, jobs, repeat))
    if results:
        print(f"\n{HEADER}")
        for r in results:
            shape = SHAPES[r["shape"]]
            print(row(shape, r["jobs"], "engine", r["engine"], r["engine_over_naive"]))
            print(row(shape, r["jobs"], "naive", r["naive"], None))
        print()
        print(summary_markdown(results, repeat))
    out: dict[str, Any] = {"full": full, "repeat": repeat, "shapes": results}
    if ns.queued:
        q = out["queued"] = run_queued(ns.queued, ns.queued_seconds)
        if "error" in q:
            print(f"\nqueued: ERROR {q['error']}")
        else:
            print(
                f"\n{q['jobs_queued']:,} jobs queued: peak RSS {q['peak_rss_mb']} MB "
                f"(process before the jobs: {q['rss_before_jobs_mb']} MB, with the job list "
                f"{q['rss_with_jobs_mb']} MB; {q['jobs_done_in_window']} done in the window)"
            )
    print(json.dumps(out))


# -- the children: one client run each, figures as one JSON line on stdout ------------------
def job_list(n: int, offset: int, callback_url: str | None = None) -> list[Any]:
    import kling_async as kling

    # URL images: the emulator does not fetch them, so the run measures scheduling, not base64
    return [
        kling.ImageToVideo(
            image=f"https://img.test/{offset + i}.png",
            prompt=f"job {offset + i}",
            callback_url=callback_url,
        )
        for i in range(n)
    ]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def child_engine(n: int, offset: int, out: Path) -> dict[str, Any]:
    import kling_async as kling

    jobs = job_list(n, offset)
    succeeded, errors = 0, []
    base, key = os.environ["KLING_BASE_URL"], os.environ["KLING_API_KEY"]
    async with kling.KlingClient(api_key=key, base_url=base) as client:
        cpu0, started = time.process_time(), time.monotonic()
        async for outcome in client.batch(jobs, output_dir=out):
            if outcome.status == kling.OutcomeStatus.SUCCEEDED:
                succeeded += 1
            else:
                errors.append(f"{outcome.name}: {outcome.status.value} {outcome.error!r}")
        makespan, cpu = time.monotonic() - started, time.process_time() - cpu0
    return child_figures(makespan, cpu, succeeded, errors)


async def child_engine_callbacks(n: int, offset: int, out: Path) -> dict[str, Any]:
    """The engine with ``animate --listen``'s receiver: tasks end by signed callback, and
    polling is the fallback (``callbacks=True``)."""
    import kling_async as kling
    from kling_async.cli._listen import CallbackReceiver

    succeeded, errors = 0, []
    base, key = os.environ["KLING_BASE_URL"], os.environ["KLING_API_KEY"]
    async with CallbackReceiver(("127.0.0.1", 0), WEBHOOK_SECRET) as receiver:
        jobs = job_list(n, offset, receiver.callback_url("http://127.0.0.1:{port}/kling"))
        async with kling.KlingClient(api_key=key, base_url=base) as client:
            cpu0, started = time.process_time(), time.monotonic()
            run = client.batch(jobs, output_dir=out, callbacks=True)
            receiver.feed(run.engine.notify)
            async with run:
                async for outcome in run:
                    if outcome.status == kling.OutcomeStatus.SUCCEEDED:
                        succeeded += 1
                    else:
                        errors.append(f"{outcome.name}: {outcome.status.value} {outcome.error!r}")
            makespan, cpu = time.monotonic() - started, time.process_time() - cpu0
    figures = child_figures(makespan, cpu, succeeded, errors)
    figures["callbacks_ended"] = receiver.ended
    return figures


async def child_naive(n: int, limit: int, offset: int, out: Path) -> dict[str, Any]:
    """What clients in the wild do: a semaphore, then create and poll every few seconds."""
    import kling_async as kling

    jobs = job_list(n, offset)
    gate = asyncio.Semaphore(limit)
    succeeded, errors = 0, []
    base, key = os.environ["KLING_BASE_URL"], os.environ["KLING_API_KEY"]
    async with kling.KlingClient(api_key=key, base_url=base) as client:

        async def one(job: kling.ImageToVideo, i: int) -> None:
            nonlocal succeeded
            async with gate:
                try:
                    task = await client.image_to_video.create(job)
                    while not task.is_final:
                        await asyncio.sleep(NAIVE_POLL)
                        task = await client.image_to_video.get(task.task_id)
                    if task.succeeded:
                        await client.download(task, out / f"naive-{i}.mp4")
                        succeeded += 1
                    else:
                        errors.append(f"job {i}: task {task.task_id} {task.status}")
                except Exception as exc:
                    errors.append(f"job {i}: {exc!r}")

        cpu0, started = time.process_time(), time.monotonic()
        await asyncio.gather(*(one(job, i) for i, job in enumerate(jobs)))
        makespan, cpu = time.monotonic() - started, time.process_time() - cpu0
    return child_figures(makespan, cpu, succeeded, errors)


def child_figures(makespan: float, cpu: float, succeeded: int, errors: list[str]) -> dict[str, Any]:
    return {
        "makespan_s": makespan,
        "cpu_s": cpu,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "succeeded": succeeded,
        "not_succeeded": len(errors),
        "first_errors": errors[:3],
    }


async def child_queued(count: int, seconds: float, tmp: Path) -> dict[str, Any]:
    """Peak memory while ``count`` jobs (paths to images on disk) wait for the engine."""
    from PIL import Image

    import kling_async as kling

    images = []
    for i in range(100):
        path = tmp / f"src{i}.png"
        Image.new("RGB", (400, 300), (i, 2 * i, 90)).save(path)
        images.append(path)
    before = rss_mb()
    waiting = [
        kling.ImageToVideo(image=images[i % 100], prompt=f"queued {i}") for i in range(count)
    ]
    with_jobs = rss_mb()
    done = 0
    base, key = os.environ["KLING_BASE_URL"], os.environ["KLING_API_KEY"]
    async with kling.KlingClient(api_key=key, base_url=base) as client:
        run = client.batch(waiting, output_dir=tmp / "queued")
        async with run:
            deadline = time.monotonic() + seconds
            async for _ in run:
                done += 1
                if time.monotonic() > deadline:
                    break
    return {
        "jobs_queued": count,
        "jobs_done_in_window": done,
        "rss_before_jobs_mb": round(before, 1),
        "rss_with_jobs_mb": round(with_jobs, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def child(ns: argparse.Namespace) -> None:
    from kling_async._loop import run  # the kling-async commands' loop (KLING_ASYNC_LOOP)

    with tempfile.TemporaryDirectory() as tmp:
        if ns.child == "engine" and ns.callbacks:
            result = run(child_engine_callbacks(ns.jobs, ns.offset, Path(tmp)))
        elif ns.child == "engine":
            result = run(child_engine(ns.jobs, ns.offset, Path(tmp)))
        elif ns.child == "naive":
            result = run(child_naive(ns.jobs, ns.limit, ns.offset, Path(tmp)))
        else:
            result = run(child_queued(ns.jobs, ns.queued_seconds, Path(tmp)))
    print(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--quick", action="store_true", help="smaller N for the slow shapes (the default)"
    )
    size.add_argument("--full", action="store_true", help="the issue's sizes; 3 runs by default")
    parser.add_argument(
        "--shapes", default="1,2,3,4,5,6,7", help="comma-separated shape numbers, or 'none'"
    )
    parser.add_argument(
        "--repeat", type=int, default=None, help="runs per shape and client; medians printed"
    )
    parser.add_argument("--jobs", type=int, default=None, help="override N for every shape")
    parser.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default=None,
        help="the event loop of the clients and the emulator (default: uvloop if installed)",
    )
    parser.add_argument(
        "--queued",
        type=int,
        nargs="?",
        const=100_000,
        default=0,
        help="also measure peak RSS with this many jobs queued (default 100,000)",
    )
    parser.add_argument("--queued-seconds", type=float, default=15.0)
    parser.add_argument("--child", choices=("engine", "naive", "queued"), help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--callbacks", action="store_true", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.child:
        child(ns)
    else:
        main(ns)
