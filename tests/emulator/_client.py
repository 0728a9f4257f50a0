"""Raw calls of the model-in-path API and the image API, and what a result file holds."""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import av
from PIL import Image

from .._helpers import API_KEY, Api

KEY = f"Bearer {API_KEY}"


IMG = "https://example.com/frame.png"
VID = "https://example.com/motion.mp4"


def items(*pairs: tuple[str, Any], prompt: str | None = "a parrot") -> list[dict[str, Any]]:
    """``contents``: a prompt item, then (type, url / element_id / voice_id) items."""
    out: list[dict[str, Any]] = [{"type": "prompt", "text": prompt}] if prompt is not None else []
    for n, (kind, value) in enumerate(pairs, start=1):
        if kind == "element":
            out.append({"type": "element", "element_id": value, "id": f"element_{n}"})
        elif kind == "voice":
            out.append({"type": "voice", "voice_id": value, "id": f"v{n}"})
        else:
            out.append({"type": kind, "url": value})
    return out


def body(contents: list[dict[str, Any]], **settings: Any) -> dict[str, Any]:
    return {"contents": contents, "settings": settings}


async def call(api: Api, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    status, answer, _ = await api.call(method, path, json=body, auth=KEY)
    return status, answer


async def wait_new(api: Api, task_id: str, limit: float = 10.0) -> dict[str, Any]:
    """The task (new shape, ``GET /tasks``) once it has ended."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        _, answer = await call(api, "GET", f"/tasks?task_ids={task_id}")
        task: dict[str, Any] = answer["data"][0]
        if task["status"] in ("succeeded", "failed"):
            return task
        await asyncio.sleep(0.05)
    raise AssertionError(f"task {task_id} did not end within {limit} s")


async def wait_image(api: Api, task_id: str, limit: float = 10.0) -> dict[str, Any]:
    """The image task (legacy shape) once it has ended."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        _, answer = await call(api, "GET", f"/v1/images/generations/{task_id}")
        task: dict[str, Any] = answer["data"]
        if task["task_status"] in ("succeed", "failed"):
            return task
        await asyncio.sleep(0.05)
    raise AssertionError(f"image task {task_id} did not end within {limit} s")


async def fetch(api: Api, url: str) -> bytes:
    async with api.session.get(url) as r:
        assert r.status == 200, (url, r.status)
        return await r.read()


def video_facts(data: bytes) -> tuple[float, bool, tuple[int, int]]:
    """(seconds, has an audio track, frame size) of an mp4, read by PyAV."""
    with av.open(io.BytesIO(data)) as container:
        assert container.streams.video, "no video track"
        audio = bool(container.streams.audio)
        frame = next(container.decode(video=0))
        assert container.duration is not None
        seconds = container.duration / 1_000_000
    if audio:
        with av.open(io.BytesIO(data)) as container:
            sound = next(container.decode(audio=0))  # the track decodes
            assert sound.samples > 0
    return seconds, audio, (frame.width, frame.height)


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG or JPEG that Pillow decodes completely."""
    with Image.open(io.BytesIO(data)) as image:
        assert image.format in ("PNG", "JPEG"), image.format
        image.load()
        return image.size
