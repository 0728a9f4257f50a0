"""One Kling account, several batch processes: with the shared governor (Redis) and without.

P processes (real ones, ``tests/governor_runner.py batch``), each running ``client.batch``
over its own N/P images into its own folder, on one emulator account whose parallel-task
limit C none of them is told. For each mode it prints the server's most tasks in flight,
its 1303s and 1302s (429s) per job, and the makespan against the lower bound
max(sum of task durations / C, longest duration) from the emulator's own counters. With
``--rate-limit R`` (requests per second, 1302 beyond) it also prints the requests sent / R:
the time those requests need at best, which may bind instead.

The emulator runs in its own process (``kling-async emulator``), Redis as a redis-server
on a Unix socket in a temporary folder (no TCP port).

    .venv/bin/python benchmarks/shared_account.py [--jobs 400] [--processes 4] [--limit 20]
        [--duration 0.5:1.5] [--rate-limit R]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _emulator_process import emulator_process
from PIL import Image

RUNNER = Path(__file__).resolve().parent.parent / "tests" / "governor_runner.py"


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A redis-server on a Unix socket in ``folder`` (TCP off), stopped afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed: run `make redis-server`")
    sock = folder / "redis.sock"
    proc = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
         "--save", "", "--appendonly", "no", "--dir", str(folder), "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("redis-server did not start")
            time.sleep(0.02)
        yield f"unix://{sock}"
    finally:
        proc.terminate()
        proc.wait(10)


def images(folder: Path, count: int, seed: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        color = ((seed * 37 + i) % 256, (seed * 11 + 7 * i) % 256, (seed * 5 + 3 * i) % 256)
        Image.new("RGB", (400, 300), color).save(folder / f"img{i:04d}.png")
    return folder


def emulator_stats(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/__emulator__/stats", timeout=10) as r:  # noqa: S310
        data: dict[str, Any] = json.load(r)
    return data


def run(args: argparse.Namespace, tmp: Path, redis_url: str | None) -> dict[str, Any]:
    emulator_args = [
        "--concurrency-limit", str(args.limit), "--duration", args.duration,
        "--video-bytes", "2000", "--seed", "7", "--api-key", "bench-api-key",
    ]  # fmt: skip
    if args.rate_limit:
        emulator_args += ["--rate-limit", str(args.rate_limit)]
    per = args.jobs // args.processes
    with emulator_process(*emulator_args) as env:
        base = env["KLING_BASE_URL"]
        commands = [
            [sys.executable, str(RUNNER), "batch", base, "bench-api-key",
             str(images(tmp / f"in{i}", per, i)), str(tmp / f"out{i}"), redis_url or "-"]
            for i in range(args.processes)
        ]  # fmt: skip
        procs = [
            subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for cmd in commands
        ]
        results = []
        try:
            for proc in procs:
                out, err = proc.communicate(timeout=1800)
                if proc.returncode != 0:
                    raise SystemExit(f"a batch process failed:\n{err[-3000:]}")
                results.append(json.loads(out.strip().splitlines()[-1]))
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        stats = emulator_stats(base)
    total = per * args.processes
    lower = max(stats["duration_sum"] / args.limit, stats["duration_max"])
    makespan = max(r["ended"] for r in results) - min(r["started"] for r in results)
    api = stats["requests"] - stats["downloads"]
    figures = {
        "jobs succeeded": sum(r["statuses"].get("succeeded", 0) for r in results),
        "server max in flight": stats["max_in_flight"],
        "1303 (parallel)": stats["concurrency_limited_1303"],
        "1302 (rate)": stats["rate_limited_1302"],
        "429s per job": (stats["concurrency_limited_1303"] + stats["rate_limited_1302"]) / total,
        "API requests per job": api / total,
        "makespan (s)": makespan,
        "lower bound (s)": lower,
        "makespan / bound": makespan / lower,
    }
    if args.rate_limit:  # the rate binds too: the requests sent take this long at best
        figures["API requests / rate (s)"] = api / args.rate_limit
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=400)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--duration", default="0.5:1.5")
    parser.add_argument("--rate-limit", type=float, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kling-shared-") as name:
        tmp = Path(name)
        with redis_server(tmp) as url:
            shared = run(args, tmp / "shared", url)
        alone = run(args, tmp / "alone", None)
    print(
        f"\n{args.jobs} jobs on {args.processes} processes, one account with C={args.limit}, "
        f"tasks U({args.duration.replace(':', ',')}) s"
        + (f", {args.rate_limit} requests/s" if args.rate_limit else "")
    )
    print(f"{'':<22}{'RedisGovernor':>15}{'each alone':>13}")
    for key in shared:
        a, b = shared[key], alone[key]
        fmt = (lambda v: f"{v:.2f}") if isinstance(a, float) else str
        print(f"{key:<22}{fmt(a):>15}{fmt(b):>13}")


if __name__ == "__main__":
    main()
