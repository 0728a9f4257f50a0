"""Peak memory of a batch of large images: bounded by what is in flight, not by the batch.

    python benchmarks/memory.py [--jobs 5000] [--small 500] [--image-mb 1] [--max-in-flight 200]

Writes ``--jobs`` distinct JPEG files of ``--image-mb`` MiB each (one picture, each file made
unique by bytes after its end marker), then runs ``client.batch`` over the first ``--small``
and over all of them, each in a fresh child process against one emulator process (tasks of
1-2 s, a parallel-task limit of ``--max-in-flight``), sampling the child's RSS every 10 ms.
Prints both peaks and their ratio: a batch ten times as long should not need more memory
(issue #26: 5,000 jobs of 1 MiB at ``max_in_flight=200`` under 400 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _emulator_process import emulator_server

_CHILD = "--child"


def make_images(folder: Path, count: int, size: int) -> list[Path]:
    """``count`` distinct JPEGs of exactly ``size`` bytes (a 640x480 picture, then padding)."""
    from PIL import Image

    picture = io.BytesIO()
    Image.effect_noise((640, 480), 60).convert("RGB").save(picture, "JPEG", quality=90)
    head = picture.getvalue()
    paths = []
    for i in range(count):
        path = folder / f"img{i:05d}.jpg"
        tag = f"kling-async-memory-{i:05d}".encode()
        pad = size - len(head) - len(tag)
        with path.open("wb") as f:
            f.write(head)
            f.write(tag)
            f.write(b"\0" * max(pad, 0))
        paths.append(path)
    return paths


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_child(env: dict[str, str], images: Path, count: int, out: Path, limit: int) -> dict:
    """One batch in a child process; its peak RSS sampled from here every 10 ms."""
    cmd = [sys.executable, __file__, _CHILD, str(images), str(count), str(out), str(limit)]
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env={**os.environ, **env}, stdout=subprocess.PIPE, text=True
    )
    peak = 0.0
    while proc.poll() is None:
        try:
            peak = max(peak, _rss_mb(proc.pid))
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.01)
    stdout, _ = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"child exited {proc.returncode}: {stdout[-2000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result.update(peak_rss_mb=round(peak, 1), seconds=round(time.perf_counter() - started, 1))
    return result


async def child(images: Path, count: int, out: Path, limit: int) -> None:
    import kling_async as kling

    paths = sorted(images.glob("*.jpg"))[:count]
    jobs = (kling.ImageToVideo(image=p, model="kling-v2-6") for p in paths)
    statuses: dict[str, int] = {}
    poll = kling.PollPolicy(min_interval=0.25, max_interval=1.0)
    async with kling.KlingClient() as client:
        async for outcome in client.batch(jobs, out, max_in_flight=limit, poll=poll):
            statuses[outcome.status.value] = statuses.get(outcome.status.value, 0) + 1
    print(json.dumps({"jobs": count, "statuses": statuses}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--image-mb", type=float, default=1.0)
    parser.add_argument("--max-in-flight", type=int, default=200)
    ns = parser.parse_args()
    size = int(ns.image_mb * (1 << 20))
    with tempfile.TemporaryDirectory(prefix="kling-memory-") as tmp:
        root = Path(tmp)
        images = root / "images"
        images.mkdir()
        started = time.perf_counter()
        make_images(images, ns.jobs, size)
        print(f"{ns.jobs} images of {size:,} bytes written in {time.perf_counter() - started:.0f} s")
        args = ["--concurrency-limit", str(ns.max_in_flight), "--duration", "1:2"]
        args += ["--video-bytes", "1000"]
        results = []
        with emulator_server(*args) as emulator:
            for count in (ns.small, ns.jobs):
                out = root / f"out-{count}"
                result = run_child(emulator.env, images, count, out, ns.max_in_flight)
                print(
                    f"  {count:>6} jobs: peak RSS {result['peak_rss_mb']:7.1f} MB, "
                    f"{result['seconds']:6.1f} s, {result['statuses']}"
                )
                results.append(result)
        small, large = results
        ratio = large["peak_rss_mb"] / small["peak_rss_mb"]
        print(
            f"peak RSS, {ns.jobs} jobs / {ns.small} jobs: {ratio:.2f} "
            f"({large['peak_rss_mb']:.0f} MB / {small['peak_rss_mb']:.0f} MB; target: "
            f"{ns.jobs} jobs under 400 MB at max_in_flight={ns.max_in_flight})"
        )
        print(json.dumps({"small": small, "large": large, "ratio": round(ratio, 3)}))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == _CHILD:
        folder, count, out, limit = sys.argv[2:6]
        asyncio.run(child(Path(folder), int(count), Path(out), int(limit)))
    else:
        main()
