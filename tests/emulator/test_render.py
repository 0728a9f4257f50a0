"""Result files open in a real decoder (PyAV/FFmpeg): rendered ones show the image moving; the
default and the fallback without PyAV are the bundled sample clip; a client that leaves
mid-download costs the emulator no traceback."""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from collections.abc import Iterator
from typing import Any

import av
import pytest
from PIL import Image, ImageChops, ImageStat

from kling_async.emulator._render import CLIPS, CLIPS_DIR, NO_PYAV, have_pyav

from .._helpers import API_KEY, StartEmulator, b64, png


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


def test_bundled_clips_are_small_playable_mp4s() -> None:
    assert sorted(CLIPS) == ["16:9", "1:1", "9:16"]
    for aspect, (name, width, height) in CLIPS.items():
        data = (CLIPS_DIR / name).read_bytes()
        assert len(data) < 100_000, name
        frames, codec = _frames(data)
        assert (codec, len(frames)) == ("h264", 120), name  # 5 s at 24 fps
        assert frames[0].size == (width, height), aspect
        assert _difference(frames[0], frames[-1]) > 3  # it moves


async def _download(api: Any, **body: Any) -> tuple[bytes, str]:
    kind = body.pop("kind", "image2video")
    status, created = await api.create(kind, **body)
    assert status == 200, created
    task = await api.wait(created["data"]["task_id"], kind=kind)
    async with api.session.get(task["task_result"]["videos"][0]["url"]) as r:
        assert r.status == 200
        return await r.read(), r.headers["ETag"]


async def test_default_videos_are_the_sample_clip_of_the_tasks_shape(
    start_emulator: StartEmulator,
) -> None:
    _emu, api = await start_emulator()  # no render, no video_bytes: the default
    wide, wide_tag = await _download(api, image=b64(png(800, 450)))
    tall, _ = await _download(api, kind="text2video", prompt="a kite", aspect_ratio="9:16")
    again, again_tag = await _download(api, image=b64(png(800, 450)))
    for data, size in ((wide, (480, 270)), (tall, (270, 480))):
        assert data[4:8] == b"ftyp"
        frames, codec = _frames(data)
        assert (codec, len(frames), frames[0].size) == ("h264", 120, size)
    assert again != wide  # each video has bytes and an ETag of its own
    assert again_tag != wide_tag


@pytest.fixture
def no_pyav(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``import av`` fails, as in an install without the render extra."""
    monkeypatch.setitem(sys.modules, "av", None)
    have_pyav.cache_clear()
    yield
    have_pyav.cache_clear()


async def test_render_without_pyav_serves_the_clip_and_warns_once(
    start_emulator: StartEmulator, no_pyav: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kling_async.emulator")
    _emu, api = await start_emulator(render=True)
    first, _ = await _download(api, image=b64(png(450, 800)))
    second, _ = await _download(api, kind="text2video", prompt="sea", aspect_ratio="1:1")
    assert first[4:8] == second[4:8] == b"ftyp"
    assert [r.getMessage() for r in caplog.records] == [NO_PYAV]
    sys.modules["av"] = av  # decode with the real PyAV again
    assert _frames(first)[0][0].size == (270, 480)
    assert _frames(second)[0][0].size == (360, 360)


async def test_client_leaving_mid_download_is_no_error(
    start_emulator: StartEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emu, api = await start_emulator(video_bytes=32 << 20)  # far more than socket buffers hold
    _, created = await api.create()
    task = await api.wait(created["data"]["task_id"])
    response = await api.session.get(task["task_result"]["videos"][0]["url"])
    await response.content.readexactly(1000)
    response.close()  # drop the connection with most of the file unsent
    said = "the client disconnected"
    for _ in range(250):  # bounded: 5 s
        if any(said in r.getMessage() for r in caplog.records):
            break
        await asyncio.sleep(0.02)
    assert [r.getMessage() for r in caplog.records if said in r.getMessage()] == [
        f"download of {task['task_result']['videos'][0]['id']}: {said}"
    ]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert emu.stats()["bytes_served"] < 32 << 20
