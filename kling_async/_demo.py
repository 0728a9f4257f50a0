"""``kling-async demo``: animate the bundled samples on an in-process emulator.

First version: it speaks the documented HTTP protocol directly (sign, create, poll, download),
as any client written against Kling's documentation would. The SDK's client replaces this
wiring once it lands; the emulator side stays as it is.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiofiles
import aiohttp
import jwt

from ._samples import sample_paths
from .emulator import Emulator, EmulatorConfig

#: One camera move per sample, so the demo shows what ``camera_control`` does.
CAMERA_MOVES: dict[str, dict[str, Any]] = {
    "sunset": {"type": "simple", "config": {"zoom": -6}},  # zoom in
    "lighthouse": {"type": "simple", "config": {"pan": 6}},  # turn up
    "planet": {"type": "simple", "config": {"roll": 8}},  # roll clockwise
}
POLL_INTERVAL = 0.5
DEADLINE = 120.0


def _token(access_key: str, secret_key: str) -> str:
    now = int(time.time())
    claims = {"iss": access_key, "exp": now + 1800, "nbf": now - 5}
    return jwt.encode(claims, secret_key, algorithm="HS256", headers={"typ": "JWT"})


async def _animate(
    session: aiohttp.ClientSession, base: str, headers: dict[str, str], image: Path, out_dir: Path
) -> Path:
    body = {
        "model_name": "kling-v1-5",  # camera control needs kling-v1-5, pro, 5 s
        "mode": "pro",
        "duration": "5",
        "image": base64.b64encode(await asyncio.to_thread(image.read_bytes)).decode(),
        "prompt": f"a gentle camera move over the {image.stem}",
        "camera_control": CAMERA_MOVES.get(image.stem, CAMERA_MOVES["sunset"]),
        "external_task_id": f"demo-{image.stem}-{os.getpid()}-{time.time_ns()}",
    }
    async with session.post(f"{base}/v1/videos/image2video", json=body, headers=headers) as r:
        created = await r.json()
    if created["code"] != 0:
        raise RuntimeError(f"{image.name}: create refused: {created['message']}")
    task_id = created["data"]["task_id"]
    deadline = time.monotonic() + DEADLINE
    while True:
        async with session.get(f"{base}/v1/videos/image2video/{task_id}", headers=headers) as r:
            task = (await r.json())["data"]
        if task["task_status"] == "failed":
            raise RuntimeError(f"{image.name}: task failed: {task['task_status_msg']}")
        if task["task_status"] == "succeed":
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{image.name}: task {task_id} not done after {DEADLINE} s")
        await asyncio.sleep(POLL_INTERVAL)
    url = task["task_result"]["videos"][0]["url"]
    final = out_dir / f"{image.stem}.mp4"
    part = final.with_name(final.name + ".part")
    async with session.get(url) as r:
        r.raise_for_status()
        async with aiofiles.open(part, "wb") as f:
            async for chunk in r.content.iter_chunked(256 * 1024):
                await f.write(chunk)
    part.replace(final)
    return final


async def run_demo(out_dir: Path, echo: Callable[[str], None] = print) -> list[Path]:
    """Start an emulator with rendering on, animate every sample, return the mp4 paths."""
    await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
    config = EmulatorConfig(render=True, duration=(1.0, 2.5))
    async with Emulator(config) as emu, aiohttp.ClientSession() as session:
        env = emu.credentials
        echo(f"emulator listening at {emu.url}")
        headers = {
            "Authorization": f"Bearer {_token(env['KLING_ACCESS_KEY'], env['KLING_SECRET_KEY'])}"
        }
        jobs = [_animate(session, emu.url, headers, p, out_dir) for p in sample_paths()]
        paths = await asyncio.gather(*jobs)
    for path in paths:
        echo(f"  {path}  ({path.stat().st_size} bytes)")
    return list(paths)
