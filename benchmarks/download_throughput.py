"""Download throughput of ``client.download`` as a ratio of a raw aiohttp read doing the same
disk work, for one big file and for many small ones, measured in one run; and the process's
peak memory growth while downloading.

Three cases, each against the emulator in its own process (serving filler videos of the size
asked):

* big: one file of ``--big-mb`` MB;
* small: ``--files`` files of ``--small-mb`` MB, ``--concurrency`` at a time;
* small one by one: ``--one-by-one`` files of ``--small-mb`` MB, one at a time (where the
  fixed cost of each download shows most).

The baseline is a raw aiohttp read written to ``<name>.tmp`` with plain blocking writes, then
one flush + fsync and a rename to the final name in a worker thread (so that concurrent
downloads do not queue their fsyncs on the loop: a blocking fsync there would make the
baseline, not the SDK, slow): the disk work the SDK does, with no care for planted links,
resuming, limits or a slow disk stalling the loop. ``client.download`` does the same plus all
of that. Rounds are interleaved (raw, sdk, raw, sdk, ...) after one warm-up of each, so a
change in the machine's load hits both sides alike; each round's ratio is raw time / SDK time
(1.0: as fast as the raw read), and the median over the rounds is the figure (target: at
least 0.85). Memory is the resident set size sampled every 10 ms during the downloads, against
the size after the warm-ups.

    .venv/bin/python benchmarks/download_throughput.py [--rounds 5] [--big-mb 200]
        [--small-mb 5] [--files 40] [--concurrency 4] [--one-by-one 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import BinaryIO

import aiohttp
from _emulator_process import emulator_process, rss_mb

import kling_async as kling

MB = 1024 * 1024
TARGET = 0.85


def _finish_raw(f: BinaryIO, tmp: Path, dest: Path) -> None:
    f.flush()
    os.fsync(f.fileno())
    f.close()
    os.replace(tmp, dest)


async def raw_download(session: aiohttp.ClientSession, url: str, dest: Path, size: int) -> None:
    """The baseline: read, write each chunk with a plain blocking call, then flush + fsync +
    rename in one worker thread (so that concurrent downloads do not queue their fsyncs on
    the loop); length checked."""
    tmp = dest.with_name(dest.name + ".tmp")
    got = 0
    f = open(tmp, "wb")  # noqa: ASYNC230, SIM115  # the baseline: blocking writes on the loop
    try:
        async with session.get(url) as r:
            r.raise_for_status()
            async for chunk in r.content.iter_chunked(256 * 1024):
                f.write(chunk)
                got += len(chunk)
        if got != size:
            raise AssertionError(f"raw read got {got} of {size} bytes")
        await asyncio.to_thread(_finish_raw, f, tmp, dest)
    finally:
        f.close()


async def run_all(
    fetch: Callable[[str, Path], Awaitable[object]], jobs: list[tuple[str, Path]], width: int
) -> float:
    """Seconds to fetch every (url, dest), ``width`` at a time."""
    queue = list(reversed(jobs))

    async def worker() -> None:
        while queue:
            url, dest = queue.pop()
            await fetch(url, dest)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(width, len(jobs)))))
    return time.perf_counter() - started


class PeakRSS:
    """Samples this process's RSS every 10 ms while active; keeps the highest."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            await asyncio.sleep(0.01)

    async def __aenter__(self) -> PeakRSS:
        self._stop.clear()
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task


async def measure(
    label: str, size: int, files: int, width: int, rounds: int, tmp: Path
) -> dict[str, object]:
    """Interleaved rounds of the raw baseline and ``client.download`` over ``files`` files of
    ``size`` bytes, ``width`` at a time, against a fresh emulator."""
    emu_args = ["--video-bytes", str(size), "--duration", "0.1:0.1", "--concurrency-limit", "0"]
    with emulator_process(*emu_args) as env:
        wait = kling.WaitPolicy(first_poll=0.2, min_interval=0.1)
        async with (
            kling.KlingClient(
                api_key=env["KLING_API_KEY"], base_url=env["KLING_BASE_URL"], wait=wait
            ) as client,
            aiohttp.ClientSession() as session,
        ):
            created = await asyncio.gather(
                *(
                    client.image_to_video.create(image="https://x.test/a.png", prompt=f"p{i}")
                    for i in range(files)
                )
            )
            done = await asyncio.gather(*(client.image_to_video.wait(t) for t in created))
            urls = [t.videos[0].url for t in done]

            async def raw(url: str, dest: Path) -> None:
                await raw_download(session, url, dest, size)

            async def sdk(url: str, dest: Path) -> None:
                await client.download(url, dest)

            def jobs(side: str, r: int) -> list[tuple[str, Path]]:
                return [(u, tmp / f"{side}-{r}-{i}.mp4") for i, u in enumerate(urls)]

            def check_and_clear(batch: list[tuple[str, Path]]) -> None:
                for _, dest in batch:
                    assert dest.stat().st_size == size, dest
                    dest.unlink()
                leftovers = sorted(p.name for p in tmp.iterdir())
                assert not leftovers, leftovers

            for side, fetch in (("raw", raw), ("sdk", sdk)):  # warm-up: connections, caches
                warm = jobs(side, -1)
                await run_all(fetch, warm, width)
                check_and_clear(warm)
            before = rss_mb()
            raw_peak, sdk_peak = PeakRSS(), PeakRSS()
            raw_times: list[float] = []
            sdk_times: list[float] = []
            for r in range(rounds):
                batch = jobs("raw", r)
                async with raw_peak:
                    raw_times.append(await run_all(raw, batch, width))
                check_and_clear(batch)
                batch = jobs("sdk", r)
                async with sdk_peak:
                    sdk_times.append(await run_all(sdk, batch, width))
                check_and_clear(batch)
                ratio = raw_times[-1] / sdk_times[-1]
                print(
                    f"  {label} round {r + 1}: raw {raw_times[-1]:.3f} s, "
                    f"sdk {sdk_times[-1]:.3f} s, ratio {ratio:.3f}",
                    flush=True,
                )
    ratios = [a / b for a, b in zip(raw_times, sdk_times, strict=True)]
    total_mb = size * files / MB
    return {
        "case": label,
        "files": files,
        "file_mb": size / MB,
        "concurrency": width,
        "raw_s": [round(t, 4) for t in raw_times],
        "sdk_s": [round(t, 4) for t in sdk_times],
        "ratios": [round(x, 3) for x in ratios],
        "median_ratio": round(statistics.median(ratios), 3),
        "raw_mb_per_s_median": round(total_mb / statistics.median(raw_times), 1),
        "sdk_mb_per_s_median": round(total_mb / statistics.median(sdk_times), 1),
        "rss_before_mb": round(before, 1),
        "rss_growth_raw_mb": round(raw_peak.peak - before, 1),
        "rss_growth_sdk_mb": round(sdk_peak.peak - before, 1),
    }


async def main(ns: argparse.Namespace) -> list[dict[str, object]]:
    results = []
    with tempfile.TemporaryDirectory(dir=ns.dir) as tmp:
        cases = [
            (f"big ({ns.big_mb} MB x 1)", ns.big_mb * MB, 1, 1),
            (f"small ({ns.small_mb} MB x {ns.files})", ns.small_mb * MB, ns.files, ns.concurrency),
        ]
        if ns.one_by_one:
            label = f"small one by one ({ns.small_mb} MB x {ns.one_by_one})"
            cases.append((label, ns.small_mb * MB, ns.one_by_one, 1))
        for label, size, files, width in cases:
            print(f"{label}, {width} at a time, {ns.rounds} interleaved rounds:", flush=True)
            figures = await measure(label, size, files, width, ns.rounds, Path(tmp))
            results.append(figures)
            print(
                f"  {label}: median ratio {figures['median_ratio']:.3f} (target >= {TARGET}); "
                f"median raw {figures['raw_mb_per_s_median']} MB/s, "
                f"sdk {figures['sdk_mb_per_s_median']} MB/s",
                flush=True,
            )
            print(
                f"  {label}: peak RSS growth while downloading: sdk "
                f"{figures['rss_growth_sdk_mb']} MB, raw {figures['rss_growth_raw_mb']} MB "
                f"(from {figures['rss_before_mb']} MB)",
                flush=True,
            )
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--big-mb", type=int, default=200)
    parser.add_argument("--small-mb", type=int, default=5)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--one-by-one",
        type=int,
        default=20,
        help="a third case: this many small files, one at a time (0: skip it)",
    )
    parser.add_argument("--dir", default=None, help="where to write (default: the temp dir)")
    results = asyncio.run(main(parser.parse_args()))
    print(json.dumps(results))
