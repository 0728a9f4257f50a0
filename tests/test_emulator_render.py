"""Rendered videos open in a real decoder (PyAV/FFmpeg) and show the image moving."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import av
from PIL import Image, ImageChops, ImageStat

from ._helpers import API_KEY, StartEmulator, b64, png


def _frames(data: bytes) -> tuple[list[Image.Image], str]:
    with av.open(io.BytesIO(data)) as container:
        codec = container.streams.video[0].codec_context.name
        return [f.to_image() for f in container.decode(video=0)], codec


def _difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


async def _render(start_emulator: StartEmulator, **body: Any) -> bytes:
    _emu, api = await start_emulator(render=True)
    kind = body.pop("kind", "image2video")
    status, created = await api.create(kind, **body)
    assert status == 200, created
    task = await api.wait(created["data"]["task_id"], kind=kind)
    async with api.session.get(task["task_result"]["videos"][0]["url"]) as r:
        assert r.status == 200
        return await r.read()


async def test_rendered_image2video_follows_the_image_and_moves(
    start_emulator: StartEmulator,
) -> None:
    source = png(800, 450, (200, 80, 40))
    data = await _render(start_emulator, model_name="kling-v3", mode="pro", image=b64(source))
    frames, codec = _frames(data)
    assert codec == "h264"
    assert len(frames) == 122  # 5 s at 24 fps, plus the two the task's "5.1" promises
    assert frames[0].size == (640, 360)
    first, last = frames[0].convert("RGB"), frames[-1].convert("RGB")
    assert _difference(first, last) > 3  # the camera moved (a slow push in)
    assert _difference(frames[60], frames[61]) < _difference(first, last)  # and smoothly
    # the picture is the input's: its dominant colour survives encoding
    reference = Image.open(io.BytesIO(source)).convert("RGB").resize((640, 360))
    corner = (0, 0, 100, 60)
    assert _difference(first.crop(corner), reference.crop(corner)) < 12


async def test_rendered_text2video_has_the_requested_aspect(start_emulator: StartEmulator) -> None:
    data = await _render(
        start_emulator, kind="text2video", prompt="sea", aspect_ratio="9:16", duration="10"
    )
    frames, _ = _frames(data)
    assert frames[0].size == (360, 640)
    assert len(frames) == 242


async def test_rendered_new_wire_task_uses_its_first_frame(start_emulator: StartEmulator) -> None:
    source = png(800, 450, (30, 200, 60))
    emu, api = await start_emulator(render=True)
    body = {
        "contents": [
            {"type": "prompt", "text": "grass in the wind"},
            {"type": "first_frame", "url": b64(source)},
        ],
        "settings": {"resolution": "720p", "duration": 3},
    }
    status, created, _ = await api.call(
        "POST", "/image-to-video/kling-3.0-turbo", json=body, auth=f"Bearer {API_KEY}"
    )
    assert (status, created["code"]) == (200, 0), created
    task_id = created["data"]["id"]
    url = None
    for _ in range(200):  # bounded: 200 polls of 0.05 s
        _, answer, _ = await api.call("GET", f"/tasks?task_ids={task_id}", auth=f"Bearer {API_KEY}")
        task = answer["data"][0]
        if task["status"] == "succeeded":
            url = task["outputs"][0]["url"]
            break
        await asyncio.sleep(0.05)
    assert url is not None, "the task did not succeed in time"
    async with api.session.get(url) as r:
        assert r.status == 200
        frames, codec = _frames(await r.read())
    assert codec == "h264"
    assert len(frames) == 74  # 3 s at 24 fps, plus two
    reference = Image.open(io.BytesIO(source)).convert("RGB").resize((640, 360))
    corner = (0, 0, 100, 60)
    assert _difference(frames[0].convert("RGB").crop(corner), reference.crop(corner)) < 12
    assert emu.stats()["downloads"] == 1
