"""Processes for the shared-governor tests and benchmark (each a real process of its own).

``python tests/governor_runner.py batch BASE_URL API_KEY IMAGES OUT REDIS_URL|-``
    runs a batch of the folder's images; prints one JSON line: its figures.
``python tests/governor_runner.py hold REDIS_URL API_KEY FAMILY COUNT LEASE [SLOTS]``
    takes COUNT leases of SLOTS slots (default 1) of FAMILY's shared window, prints
    ``held``, then waits to be killed (at most 60 s).
``python tests/governor_runner.py app BASE_URL API_KEY IMAGE OUT REDIS_URL``
    an aiohttp app on 127.0.0.1, port 0 (prints ``port N``): ``POST /generate`` makes one
    video with ``client.image_to_video.generate``; it stops after 120 s or on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
import uuid
from pathlib import Path

from aiohttp import web

import kling_async as kling

QUICK_RETRY = kling.RetryPolicy(
    attempts=12, total_timeout=60, initial_backoff=0.05, max_backoff=0.5, jitter=0.05
)
QUICK_WAIT = kling.WaitPolicy(first_poll=0.2, min_interval=0.05, max_interval=0.2, timeout=60)


def governor(url: str, lease: float = 5.0) -> kling.RedisGovernor | None:
    return None if url == "-" else kling.RedisGovernor(url, lease=lease)


async def batch(base: str, key: str, images: Path, out: Path, redis_url: str) -> int:
    jobs = [kling.ImageToVideo(image=p, prompt="drift") for p in sorted(images.glob("*.png"))]
    client = kling.KlingClient(
        api_key=key, base_url=base, retry=QUICK_RETRY, governor=governor(redis_url)
    )
    async with client:
        started = time.time()
        run = client.batch(jobs, output_dir=out, poll=kling.PollPolicy(min_interval=0.05))
        statuses: dict[str, int] = {}
        async for outcome in run:
            statuses[outcome.status.value] = statuses.get(outcome.status.value, 0) + 1
        summary = run.summary
        figures = {
            "started": started,
            "ended": time.time(),
            "statuses": statuses,
            "rate_limited": summary.rate_limited,
            "concurrency_limited": summary.concurrency_limited,
            "learned": summary.learned_parallel_limit,
        }
    print(json.dumps(figures), flush=True)
    return 0


async def hold(
    redis_url: str, key: str, family: str, count: int, lease: float, slots: int = 1
) -> int:
    gov = kling.RedisGovernor(redis_url, lease=lease)
    client = kling.KlingClient(api_key=key, base_url="http://127.0.0.1:9", governor=gov)
    window = client.window(family)
    for _ in range(count):
        await window.reserve(slots)
        await window.answered(slots)
    print("held", flush=True)
    await asyncio.sleep(60)  # killed long before
    await client.close()
    return 0


async def app(base: str, key: str, image: Path, out: Path, redis_url: str) -> int:
    client = kling.KlingClient(
        api_key=key,
        base_url=base,
        retry=QUICK_RETRY,
        wait=QUICK_WAIT,
        governor=governor(redis_url),
    )

    async def generate(request: web.Request) -> web.Response:
        try:
            path = await client.image_to_video.generate(
                image=image, prompt="a replica's request", output=out / f"{uuid.uuid4().hex}.mp4"
            )
        except kling.KlingError as exc:
            return web.json_response({"error": type(exc).__name__}, status=502)
        return web.json_response({"path": path.name})

    web_app = web.Application()
    web_app.router.add_post("/generate", generate)
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(f"port {port}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        async with asyncio.timeout(120):
            await stop.wait()
    except TimeoutError:
        pass
    finally:
        await runner.cleanup()
        await client.close()
    return 0


def main(argv: list[str]) -> int:
    mode, *args = argv
    if mode == "batch":
        return asyncio.run(batch(args[0], args[1], Path(args[2]), Path(args[3]), args[4]))
    if mode == "hold":
        slots = int(args[5]) if len(args) > 5 else 1
        return asyncio.run(hold(args[0], args[1], args[2], int(args[3]), float(args[4]), slots))
    if mode == "app":
        return asyncio.run(app(args[0], args[1], Path(args[2]), Path(args[3]), args[4]))
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
