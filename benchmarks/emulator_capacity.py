"""How many simple requests per second the emulator serves here, so that benchmarks of the SDK
can tell the emulator is not their bottleneck.

The emulator runs in its own process (`kling-async emulator`); one client process drives it
with aiohttp at a fixed number of connections for a fixed time per request kind. On a 2-core
machine client and server share the cores, so the figures are a lower bound.

    .venv/bin/python benchmarks/emulator_capacity.py [--seconds 3] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import aiohttp
from _emulator_process import emulator_process


async def _drive(
    request: Callable[[aiohttp.ClientSession, int], Awaitable[int]],
    session: aiohttp.ClientSession,
    connections: int,
    seconds: float,
) -> tuple[int, int]:
    deadline = time.monotonic() + seconds
    done = errors = 0

    async def worker(n: int) -> None:
        nonlocal done, errors
        i = 0
        while time.monotonic() < deadline:
            status = await request(session, n * 1_000_000 + i)
            i += 1
            done += 1
            errors += status != 200

    await asyncio.gather(*(worker(n) for n in range(connections)))
    return done, errors


async def main(seconds: float, connections: int) -> dict[str, float]:
    with emulator_process(
        "--concurrency-limit", "0", "--duration", "1:2", "--video-bytes", "4096"
    ) as env:
        base = env["KLING_BASE_URL"]
        headers = {"Authorization": f"Bearer {env['KLING_API_KEY']}"}
        connector = aiohttp.TCPConnector(limit=connections)
        async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
            body = {"model_name": "kling-v2-6", "image": "https://x.test/a.png", "prompt": "p"}
            async with session.post(f"{base}/v1/videos/image2video", json=body) as r:
                task_id = (await r.json())["data"]["task_id"]

            async def create(s: aiohttp.ClientSession, i: int) -> int:
                payload = {**body, "external_task_id": f"bench-{i}"}
                async with s.post(f"{base}/v1/videos/image2video", json=payload) as r:
                    await r.read()
                    return r.status

            async def query(s: aiohttp.ClientSession, i: int) -> int:
                async with s.get(f"{base}/v1/videos/image2video/{task_id}") as r:
                    await r.read()
                    return r.status

            async def page(s: aiohttp.ClientSession, i: int) -> int:
                async with s.get(f"{base}/v1/videos/image2video?pageSize=30") as r:
                    await r.read()
                    return r.status

            results: dict[str, float] = {}
            for name, fn in (("single_query", query), ("create", create), ("list_30", page)):
                started = time.monotonic()
                done, errors = await _drive(fn, session, connections, seconds)
                elapsed = time.monotonic() - started
                if errors:
                    raise RuntimeError(f"{name}: {errors} of {done} requests failed")
                results[f"{name}_rps"] = round(done / elapsed)
            return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=32)
    ns = parser.parse_args()
    figures = asyncio.run(main(ns.seconds, ns.connections))
    print(
        f"emulator capacity on this machine ({ns.connections} connections, {ns.seconds:g} s each):"
    )
    for name, value in figures.items():
        print(f"  {name:>18}: {value:>7,.0f} requests/s")
    print(json.dumps(figures))
