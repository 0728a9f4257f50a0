"""Hostile ground beside a download and on the wire: symlinks, hard links, fifos and
directories planted at ``<dest>.part``, servers that drip a byte at a time, and cancellation
while a worker thread is writing (moved from ``test_hostile_io``).

Every server is real (aiohttp on 127.0.0.1, port 0); every loop is bounded in count and in
time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
from pathlib import Path

import pytest
from aiohttp import web

import kling_async as kling

from ..sdk.test_hostile_io import client_for, one_route, serving

# --- downloads: what stands at <dest>.part ------------------------------------------------

PAYLOAD = bytes(range(256)) * 400  # 102400 bytes, every offset distinct mod 256
ETAG = '"v1"'


def file_app(body: bytes = PAYLOAD, served: list[str] | None = None) -> web.Application:
    """A result-file server that honours Range + If-Range against one ETag."""

    async def handler(request: web.Request) -> web.Response:
        asked = request.headers.get("Range", "")
        if served is not None:
            served.append(asked)
        if asked.startswith("bytes=") and request.headers.get("If-Range") == ETAG:
            start = int(asked.removeprefix("bytes=").rstrip("-"))
            if start >= len(body):
                return web.Response(status=416)
            return web.Response(
                status=206,
                body=body[start:],
                headers={
                    "ETag": ETAG,
                    "Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}",
                },
            )
        return web.Response(body=body, headers={"ETag": ETAG})

    return one_route(handler)


def plant(kind: str, at: Path, outside: Path) -> None:
    if kind == "symlink":
        at.symlink_to(outside)
    elif kind == "hardlink":
        os.link(outside, at)
    else:
        raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["symlink", "hardlink"])
@pytest.mark.parametrize("resume_note", [False, True])
async def test_planted_links_at_part_paths_are_never_followed(
    tmp_path: Path, kind: str, resume_note: bool
) -> None:
    """A link planted at ``<dest>.part`` (and at the ``.part.json`` note) pointing outside
    the output folder: the outside files stay byte for byte as they were, the download lands
    whole under ``dest``. With a planted note carrying the server's ETag, the old code would
    even have resumed *into* the outside file."""
    outside = tmp_path / "outside"
    outside.mkdir()
    precious = outside / "precious.bin"
    precious.write_bytes(b"do not touch " * 10)
    note = outside / "note.json"
    note.write_text(json.dumps({"etag": ETAG}) if resume_note else "keep me")
    out = tmp_path / "out"
    out.mkdir()
    dest = out / "v.mp4"
    plant(kind, out / "v.mp4.part", precious)
    plant(kind, out / "v.mp4.part.json", note)
    before = (precious.read_bytes(), note.read_bytes())
    served: list[str] = []
    async with serving(file_app(served=served)) as base, client_for(base) as client:
        path = await asyncio.wait_for(client.download(base + "/f.mp4", dest), 5)
    assert path == dest
    assert (precious.read_bytes(), note.read_bytes()) == before
    assert not dest.is_symlink()
    assert dest.read_bytes() == PAYLOAD
    assert sorted(p.name for p in out.iterdir()) == ["v.mp4"]
    assert served == [""]  # a fresh start: nothing planted was resumed


async def test_a_fifo_at_the_part_path_is_removed_not_opened(tmp_path: Path) -> None:
    part = tmp_path / "v.mp4.part"
    os.mkfifo(part)
    try:
        async with serving(file_app()) as base, client_for(base) as client:
            await asyncio.wait_for(client.download(base + "/f.mp4", tmp_path / "v.mp4"), 3)
    finally:
        if part.exists() and not part.is_file():  # unblock a writer stuck opening the fifo
            with contextlib.suppress(OSError):
                os.close(os.open(part, os.O_RDONLY | os.O_NONBLOCK))
    assert (tmp_path / "v.mp4").read_bytes() == PAYLOAD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


async def test_a_directory_at_the_part_path_is_named_not_removed(tmp_path: Path) -> None:
    part = tmp_path / "v.mp4.part"
    part.mkdir()
    (part / "keep").write_bytes(b"x")
    async with serving(file_app()) as base, client_for(base) as client:
        with pytest.raises(kling.DownloadError, match=r"v\.mp4\.part") as caught:
            await asyncio.wait_for(client.download(base + "/f.mp4", tmp_path / "v.mp4"), 3)
    assert "directory" in str(caught.value)
    assert (part / "keep").read_bytes() == b"x"
    assert not (tmp_path / "v.mp4").exists()


async def test_a_regular_part_file_still_resumes(tmp_path: Path) -> None:
    """The hardening keeps resuming: a plain ``.part`` with its note is continued by Range."""
    dest = tmp_path / "v.mp4"
    (tmp_path / "v.mp4.part").write_bytes(PAYLOAD[:1000])
    (tmp_path / "v.mp4.part.json").write_text(json.dumps({"etag": ETAG}))
    served: list[str] = []
    async with serving(file_app(served=served)) as base, client_for(base) as client:
        await asyncio.wait_for(client.download(base + "/f.mp4", dest), 5)
    assert served == ["bytes=1000-"]
    assert dest.read_bytes() == PAYLOAD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


# --- downloads: servers that drip -------------------------------------------------------


def drip_app(every: float, size: int = 1000) -> web.Application:
    """Announces ``size`` bytes, then sends one byte every ``every`` seconds (bounded)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(size), "ETag": ETAG})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            for _ in range(min(size, 200)):
                await response.write(b"x")
                await asyncio.sleep(every)
        return response

    return one_route(handler)


async def test_a_dripping_server_is_cut_off_by_the_throughput_floor(tmp_path: Path) -> None:
    """One byte every 0.1 s never trips the 2 s read timeout; the floor of 100 bytes/s over
    0.5 s windows ends each attempt, and the attempts end the download."""
    timeouts = kling.Timeouts(download_read=2, download_min_rate=100, download_rate_window=0.5)
    start = time.monotonic()
    async with serving(drip_app(0.1)) as base, client_for(base, timeouts=timeouts) as client:
        with pytest.raises(kling.DownloadError, match="too slow") as caught:
            await asyncio.wait_for(client.download(base + "/f.mp4", tmp_path / "v.mp4"), 4)
    assert time.monotonic() - start < 3
    assert "after 2 attempts" in str(caught.value)
    assert "bytes in" in str(caught.value)
    assert not (tmp_path / "v.mp4").exists()


async def test_download_total_bounds_every_attempt_together(tmp_path: Path) -> None:
    """A server fast enough for the floor but never done: ``download_total`` ends it, with
    the bytes kept in the .part for a later resume."""
    timeouts = kling.Timeouts(download_total=0.6, download_min_rate=None)
    retry = kling.RetryPolicy(attempts=50, initial_backoff=0.01, max_backoff=0.01, jitter=0)
    start = time.monotonic()
    async with (
        serving(drip_app(0.02)) as base,
        client_for(base, timeouts=timeouts, retry=retry) as client,
    ):
        with pytest.raises(kling.DownloadError, match="download_total") as caught:
            await asyncio.wait_for(client.download(base + "/f.mp4", tmp_path / "v.mp4"), 4)
    assert time.monotonic() - start < 2
    assert caught.value.resumable
    assert (tmp_path / "v.mp4.part").stat().st_size > 0
    assert not (tmp_path / "v.mp4").exists()


def test_download_limits_are_checked() -> None:
    with pytest.raises(kling.ConfigurationError, match="download_rate_window"):
        kling.Timeouts(download_rate_window=0)
    with pytest.raises(kling.ConfigurationError, match="download_total"):
        kling.Timeouts(download_total=-1)
    defaults = kling.Timeouts()
    assert (defaults.download_total, defaults.download_min_rate) == (3600.0, 1024.0)
    assert defaults.download_rate_window == 30.0


# --- downloads: cancellation while the worker thread writes -------------------------------

BLOB = os.urandom(1 << 20)  # one MiB, served again and again
BIG = 48  # MiB served: several CHUNK batches
HOLD_LAST = 2.0  # seconds before the last MiB is sent


def big_app() -> web.Application:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(BIG << 20)})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            for i in range(BIG):
                if i == BIG - 1:
                    # the last MiB comes late: on a quiet machine the other 47 take ~70 ms,
                    # less than the tests' latest cancel (0.1 s), which then found it done
                    await asyncio.sleep(HOLD_LAST)
                await response.write(BLOB)
        return response

    return one_route(handler)


def is_prefix(path: Path) -> bool:
    data = path.read_bytes() if path.exists() else b""
    whole, rest = divmod(len(data), len(BLOB))
    return data == BLOB * whole + BLOB[:rest]


async def test_cancelling_mid_transfer_is_clean(tmp_path: Path) -> None:
    """Cancelled at many points of a fast, large transfer: only CancelledError comes out,
    the .part is a prefix of the body, and nothing writes to it once the task has ended."""
    delays = [0.0, 0.005, 0.01, 0.03, 0.06, 0.1]
    async with serving(big_app()) as base, client_for(base) as client:
        for i, delay in enumerate(delays):
            dest = tmp_path / f"v{i}.mp4"
            task = asyncio.create_task(client.download(base + "/f.mp4", dest))
            await asyncio.sleep(delay)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, 3)
            assert task.cancelled()
            part = tmp_path / f"v{i}.mp4.part"
            size = part.stat().st_size if part.exists() else 0
            await asyncio.sleep(0.2)
            assert (part.stat().st_size if part.exists() else 0) == size
            assert is_prefix(part)
            assert not dest.exists()


async def test_cancel_waits_for_the_write_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow disk (every writev takes 0.15 s): the task is cancelled while the worker
    thread is inside a write and the loop waits for it. The cancellation must wait for that
    write; no write may start or run after the task has ended (the descriptor is closed then,
    and its number may already belong to another file). What was read meanwhile (the batch
    in hand) is written after it: the ``.part`` is a longer prefix for a resume."""
    real = os.writev
    in_write = threading.Event()
    calls: list[tuple[float, float]] = []  # (started, finished) per writev
    wrote: list[int] = []  # bytes per writev

    def slow_writev(fd: int, buffers: list[memoryview]) -> int:
        started = time.monotonic()
        in_write.set()
        time.sleep(0.15)
        try:
            done = real(fd, buffers)
            wrote.append(done)
            return done
        finally:
            calls.append((started, time.monotonic()))

    monkeypatch.setattr(os, "writev", slow_writev)
    async with serving(big_app()) as base, client_for(base) as client:
        for i, after in enumerate([0.08, 0.12]):
            in_write.clear()
            before = len(wrote)
            dest = tmp_path / f"v{i}.mp4"
            task = asyncio.create_task(client.download(base + "/f.mp4", dest))
            for _ in range(300):  # until the first batch is in the thread (3 s at most)
                if in_write.is_set():
                    break
                await asyncio.sleep(0.01)
            assert in_write.is_set()
            await asyncio.sleep(after)  # the next batch is being read: the write is in flight
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, 3)
            ended = time.monotonic()
            size = (tmp_path / f"v{i}.mp4.part").stat().st_size
            await asyncio.sleep(0.3)  # longer than one write: a stray one would show now
            assert all(finished <= ended for _, finished in calls), "a write outlived the task"
            assert (tmp_path / f"v{i}.mp4.part").stat().st_size == size
            # the batch in flight (the first went once it held a MiB), then the batch in hand,
            # were written whole (how much the loop read by the cancel depends on the
            # machine's load: 8 MiB on a quiet one, 5-7 MiB beside a busy process)
            mine = wrote[before:]
            assert len(mine) >= 2
            assert mine[0] >= 1 << 20
            assert size == sum(mine)
            assert is_prefix(tmp_path / f"v{i}.mp4.part")
