"""Result files: Content-Length, ETag, Range, HEAD, expiry, counters."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .._helpers import Api, StartEmulator


async def _video_url(api: Api, **body: Any) -> tuple[str, str]:
    _, created = await api.create(**body)
    task = await api.wait(created["data"]["task_id"])
    video = task["task_result"]["videos"][0]
    return video["url"], video["id"]


async def test_full_download_with_length_and_etag(start_emulator: StartEmulator) -> None:
    emu, api = await start_emulator(video_bytes=3 * 1024 * 1024 + 17)
    url, video_id = await _video_url(api)
    async with api.session.get(url) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "video/mp4"
        assert r.headers["Accept-Ranges"] == "bytes"
        assert r.content_length == 3 * 1024 * 1024 + 17
        etag = r.headers["ETag"]
        body = await r.read()
    assert body == await emu.file_bytes(video_id)
    other_url, _other_id = await _video_url(api, prompt="another")
    async with api.session.get(other_url) as r:
        assert r.headers["ETag"] != etag
        assert await r.read() != body  # every video has bytes of its own
    stats = emu.stats()
    assert (stats["downloads"], stats["bytes_served"]) == (2, 2 * len(body))


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=100-199", 100, 200),
        ("bytes=1000-", 1000, 4096),
        ("bytes=-50", 4046, 4096),
        ("bytes=4000-9999", 4000, 4096),
    ],
)
async def test_range_requests(
    start_emulator: StartEmulator, header: str, start: int, end: int
) -> None:
    emu, api = await start_emulator(video_bytes=4096)
    url, video_id = await _video_url(api)
    full = await emu.file_bytes(video_id)
    async with api.session.get(url, headers={"Range": header}) as r:
        assert r.status == 206
        assert r.headers["Content-Range"] == f"bytes {start}-{end - 1}/4096"
        assert r.content_length == end - start
        assert await r.read() == full[start:end]


@pytest.mark.parametrize("header", ["bytes=5000-", "bytes=10-5", "items=1-2", "bytes=-0"])
async def test_unsatisfiable_ranges_answer_416(emu_api: tuple[Any, Api], header: str) -> None:
    emu, api = emu_api
    emu.config.video_bytes = 4096
    url, _ = await _video_url(api)
    async with api.session.get(url, headers={"Range": header}) as r:
        assert r.status == 416
        assert r.headers["Content-Range"] == "bytes */4096"


async def test_head_and_watermark_url(emu_api: tuple[Any, Api]) -> None:
    emu, api = emu_api
    emu.config.video_bytes = 4096
    _, created = await api.create()
    task = await api.wait(created["data"]["task_id"])
    video = task["task_result"]["videos"][0]
    async with api.session.head(video["url"]) as r:
        assert r.status == 200
        assert r.content_length == emu.config.video_bytes
        assert await r.read() == b""
    async with api.session.get(video["watermark_url"]) as r:
        assert r.status == 200
        assert len(await r.read()) == emu.config.video_bytes
    assert emu.stats()["downloads"] == 1


async def test_urls_expire_and_unknown_files_are_404(start_emulator: StartEmulator) -> None:
    emu, api = await start_emulator(url_lifetime=0.3)
    url, _ = await _video_url(api)
    async with api.session.get(url) as r:
        assert r.status == 200
    await asyncio.sleep(0.35)
    async with api.session.get(url) as r:
        assert r.status == 404
        assert "expired" in await r.text()
    async with api.session.get(emu.url + "/__files__/0123456789abcdef.mp4") as r:
        assert r.status == 404


async def test_no_file_before_the_task_succeeds(start_emulator: StartEmulator) -> None:
    emu, api = await start_emulator(duration=(1.0, 1.0))
    _, created = await api.create()
    video_id = emu.state.store.tasks[created["data"]["task_id"]].video_id
    async with api.session.get(f"{emu.url}/__files__/{video_id}.mp4") as r:
        assert r.status == 404
