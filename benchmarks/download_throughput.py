"""Download throughput of ``client.download`` as a ratio of a raw aiohttp read of the same file,
and the process's peak memory while downloading, measured in one run.

The emulator (its own process) serves a filler video of ``--mb`` megabytes. Each round runs, in
turn: a raw aiohttp read whose chunks are discarded; a raw aiohttp read written to a file with
plain blocking writes and one fsync (the same disk work the SDK does, with no care for the
event loop, partial files or resuming); and ``client.download`` (chunks through aiofiles to
``.part``, length checked, fsynced, renamed). The best round of each is compared. The target
ratio (>= 0.8) is against the raw read that does the same disk work; the ratio against the
read alone is printed too. Memory is the resident set size sampled every 10 ms during the
SDK's downloads, against the size before.

    .venv/bin/python benchmarks/download_throughput.py [--mb 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

import aiohttp
from _emulator_process import emulator_process, rss_mb

import kling_async as kling


async def sample_peak(stop: asyncio.Event, peak: list[float]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb())
        await asyncio.sleep(0.01)


async def main(mb: int, rounds: int) -> dict[str, float]:
    size = mb * 1024 * 1024
    args = ["--video-bytes", str(size), "--duration", "0.1:0.1", "--concurrency-limit", "0"]
    with emulator_process(*args) as env, tempfile.TemporaryDirectory() as tmp:
        wait = kling.WaitPolicy(first_poll=0.2, min_interval=0.1)
        async with kling.KlingClient(
            api_key=env["KLING_API_KEY"], base_url=env["KLING_BASE_URL"], wait=wait
        ) as client:
            task = await client.image_to_video.create(image="https://x.test/a.png", prompt="b")
            done = await client.image_to_video.wait(task.task_id)
            url = done.videos[0].url
            read_times: list[float] = []
            raw_times: list[float] = []
            sdk_times: list[float] = []
            peak, before = [0.0], 0.0
            async with aiohttp.ClientSession() as session:
                for i in range(rounds):
                    started = time.perf_counter()
                    got = 0
                    async with session.get(url) as r:
                        async for chunk in r.content.iter_chunked(256 * 1024):
                            got += len(chunk)
                    read_times.append(time.perf_counter() - started)
                    assert got == size
                    started = time.perf_counter()
                    with open(Path(tmp) / "raw.mp4", "wb") as f:  # noqa: ASYNC230  # the baseline
                        async with session.get(url) as r:
                            async for chunk in r.content.iter_chunked(256 * 1024):
                                f.write(chunk)
                        f.flush()
                        os.fsync(f.fileno())
                    raw_times.append(time.perf_counter() - started)
                    (Path(tmp) / "raw.mp4").unlink()
                    dest = Path(tmp) / f"v{i}.mp4"
                    before = rss_mb() if i == 0 else before
                    stop = asyncio.Event()
                    sampler = asyncio.create_task(sample_peak(stop, peak))
                    started = time.perf_counter()
                    await client.download(done, dest)
                    sdk_times.append(time.perf_counter() - started)
                    stop.set()
                    await sampler
                    assert dest.stat().st_size == size
                    dest.unlink()
    read, raw, sdk = min(read_times), min(raw_times), min(sdk_times)
    return {
        "file_mb": mb,
        "raw_read_only_mb_per_s": round(mb / read, 1),
        "raw_read_to_disk_mb_per_s": round(mb / raw, 1),
        "sdk_download_mb_per_s": round(mb / sdk, 1),
        "throughput_ratio": round(raw / sdk, 3),
        "ratio_vs_read_only": round(read / sdk, 3),
        "rss_before_mb": round(before, 1),
        "rss_peak_during_download_mb": round(peak[0], 1),
        "rss_growth_mb": round(peak[0] - before, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    ns = parser.parse_args()
    figures = asyncio.run(main(ns.mb, ns.rounds))
    print(f"download of a {ns.mb} MB file, best of {ns.rounds} rounds:")
    print(f"  raw aiohttp read, discarded     {figures['raw_read_only_mb_per_s']:>8.1f} MB/s")
    print(f"  raw aiohttp read to disk        {figures['raw_read_to_disk_mb_per_s']:>8.1f} MB/s")
    print(f"  client.download                 {figures['sdk_download_mb_per_s']:>8.1f} MB/s")
    print(f"  ratio to the raw read to disk   {figures['throughput_ratio']:>8.3f}  (target >= 0.8)")
    print(f"  ratio to the discarded read     {figures['ratio_vs_read_only']:>8.3f}")
    print(
        f"  peak RSS growth while downloading: {figures['rss_growth_mb']} MB "
        f"({figures['rss_before_mb']} -> {figures['rss_peak_during_download_mb']} MB)"
    )
    print(json.dumps(figures))
