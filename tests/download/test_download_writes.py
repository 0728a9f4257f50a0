"""The download's disk side: batched writes that survive short writes from the kernel, the
few worker-thread hand-offs per download, the finishing call (write, sync, close, rename) and
what a cancellation or a swapped ``.part`` does to it, restarts, and the reused buffers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import kling_async as kling
from kling_async.download import BATCH, CHUNK

# private: the buffer pool and the short-write loop have no public seam
from kling_async.download._files import writev_all
from kling_async.download._writer import POOL, POOL_KEEP

from ..sdk.test_hostile_io import client_for, one_route, serving
from .test_download_hostile import ETAG

MiB = 1024 * 1024


def test_writev_all_finishes_after_short_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.writev
    calls = []

    def stingy(fd: int, buffers: list[memoryview]) -> int:
        calls.append(len(buffers))
        first = bytes(buffers[0])[:3]  # the kernel takes at most 3 bytes each time
        return real(fd, [first])

    monkeypatch.setattr(os, "writev", stingy)
    path = tmp_path / "f"
    pieces = [b"hello ", b"", b"world", b"!" * 10]
    with path.open("wb") as f:
        writev_all(f.fileno(), pieces)
    assert path.read_bytes() == b"".join(pieces)
    assert len(calls) == 8  # 6 + 5 + 10 bytes, at most 3 at a time from one piece


# --- a file server: whole bodies, ranges behind If-Range, pieces of a chosen size -----------


def body_app(
    body: bytes,
    *,
    piece: int = 256 * 1024,
    ranges: bool = True,
    served: list[str] | None = None,
    cut_first: int | None = None,
) -> web.Application:
    """Serves ``body`` in writes of ``piece`` bytes with an ETag; honours ``Range`` behind a
    matching ``If-Range`` unless ``ranges`` is off (then always the whole body, 200). With
    ``cut_first``, the first request gets that many bytes and a dropped connection."""
    requests = [0]

    async def handler(request: web.Request) -> web.StreamResponse:
        requests[0] += 1
        asked = request.headers.get("Range", "")
        if served is not None:
            served.append(asked)
        start, status, headers = 0, 200, {"ETag": ETAG}
        if ranges and asked.startswith("bytes=") and request.headers.get("If-Range") == ETAG:
            start, status = int(asked.removeprefix("bytes=").rstrip("-")), 206
            headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
        headers["Content-Length"] = str(len(body) - start)
        response = web.StreamResponse(status=status, headers=headers)
        await response.prepare(request)
        if cut_first is not None and requests[0] == 1:
            await response.write(body[start : start + cut_first])
            await asyncio.sleep(0.05)  # let the bytes reach the client before the cut
            assert request.transport is not None
            request.transport.close()
            return response
        with contextlib.suppress(ConnectionError):
            for at in range(start, len(body), piece):
                await response.write(body[at : at + piece])
        return response

    return one_route(handler)


@contextlib.asynccontextmanager
async def client_of(app: web.Application, **options: Any) -> AsyncIterator[tuple[Any, str]]:
    async with serving(app) as base, client_for(base, **options) as client:
        yield client, base + "/f.mp4"


@contextlib.contextmanager
def counting_hand_offs(loop: asyncio.AbstractEventLoop) -> Any:
    """Every callable handed to an executor on ``loop`` (to_thread goes there too)."""
    handed: Counter[str] = Counter()
    real = loop.run_in_executor

    def counting(executor: Any, fn: Callable[..., Any], *args: Any) -> Any:
        handed[getattr(fn, "__name__", repr(fn))] += 1
        return real(executor, fn, *args)

    loop.run_in_executor = counting  # type: ignore[method-assign]
    try:
        yield handed
    finally:
        del loop.run_in_executor  # back to the class's method


# --- hand-offs ----------------------------------------------------------------------------


async def test_a_small_body_costs_two_hand_offs(tmp_path: Path) -> None:
    """Prepare (folder, .part, note) and finish (write, fsync, close, rename, note): two
    worker calls for a body that fits in one batch; nothing on aiofiles."""
    body = os.urandom(300_000)
    async with client_of(body_app(body)) as (client, url):
        await client.download(url, tmp_path / "warm.mp4")  # the connection, made once
        with counting_hand_offs(asyncio.get_running_loop()) as handed:
            await client.download(url, tmp_path / "v.mp4")
    assert handed == {"prepare_now": 1, "finish_now": 1}
    assert (tmp_path / "v.mp4").read_bytes() == body
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4", "warm.mp4"]


async def test_a_5_mib_body_writes_while_reading_with_few_hand_offs(tmp_path: Path) -> None:
    """The first MiB goes to the worker while the rest is read: at least one batch before the
    finishing call, never more than one per MiB."""
    body = os.urandom(5 * MiB)
    async with client_of(body_app(body)) as (client, url):
        await client.download(url, tmp_path / "warm.mp4")
        with counting_hand_offs(asyncio.get_running_loop()) as handed:
            await client.download(url, tmp_path / "v.mp4")
    assert handed["prepare_now"] == handed["finish_now"] == 1
    assert 1 <= handed["write_now"] <= 5
    assert set(handed) == {"prepare_now", "write_now", "finish_now"}
    assert (tmp_path / "v.mp4").read_bytes() == body


async def test_a_resume_costs_the_same_two_hand_offs(tmp_path: Path) -> None:
    body = os.urandom(200_000)
    dest = tmp_path / "v.mp4"
    (tmp_path / "v.mp4.part").write_bytes(body[:70_000])
    (tmp_path / "v.mp4.part.json").write_text(json.dumps({"etag": ETAG}))
    served: list[str] = []
    async with client_of(body_app(body, served=served)) as (client, url):
        with counting_hand_offs(asyncio.get_running_loop()) as handed:
            await client.download(url, dest)
    assert served == ["bytes=70000-"]
    assert handed == {"prepare_now": 1, "finish_now": 1}
    assert dest.read_bytes() == body
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


# --- batches ------------------------------------------------------------------------------


async def test_a_slow_disk_grows_batches_to_chunk_and_bytes_stay_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every writev takes 100 ms: the loop reads on into the other buffer, up to CHUNK, then
    waits. Pieces of an odd size straddle every buffer's end; the file is the body, byte for
    byte, and no write is larger than a full batch."""
    real = os.writev
    sizes: list[int] = []

    def slow_writev(fd: int, buffers: list[memoryview]) -> int:
        sizes.append(sum(len(b) for b in buffers))
        time.sleep(0.1)
        return real(fd, buffers)

    monkeypatch.setattr(os, "writev", slow_writev)
    body = os.urandom(3 * CHUNK + 12345)
    async with client_of(body_app(body, piece=100_003)) as (client, url):
        await asyncio.wait_for(client.download(url, tmp_path / "v.mp4"), 20)
    assert (tmp_path / "v.mp4").read_bytes() == body
    # batches grew past BATCH while the worker wrote (to a full CHUNK on a quiet machine; a
    # loaded one, whose loop reads slower than the disk writes, got to 7 of 8 MiB at 30 ms)
    assert BATCH < max(sizes) <= CHUNK
    assert sizes[0] < 2 * BATCH  # the first went as soon as it held BATCH


async def test_an_empty_body_lands_as_an_empty_file(tmp_path: Path) -> None:
    async with client_of(body_app(b"")) as (client, url):
        path = await client.download(url, tmp_path / "v.mp4")
    assert path.read_bytes() == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


@pytest.mark.parametrize("size", [50_000, 3 * MiB])
async def test_a_server_that_ignores_the_range_restarts_the_file(tmp_path: Path, size: int) -> None:
    """A resumable .part (with its note), but the server sends the whole file again (200):
    the .part is cut back to zero first, in the finishing call (one batch) or the first
    batch's call, so the result is the body, never the old prefix plus the body."""
    body = os.urandom(size)
    dest = tmp_path / "v.mp4"
    (tmp_path / "v.mp4.part").write_bytes(b"O" * (size + 1000))  # longer than the body
    (tmp_path / "v.mp4.part.json").write_text(json.dumps({"etag": ETAG}))
    served: list[str] = []
    async with client_of(body_app(body, ranges=False, served=served)) as (client, url):
        await client.download(url, dest)
    assert served == [f"bytes={size + 1000}-"]
    assert dest.read_bytes() == body
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


async def test_buffers_go_back_to_the_pool_once_each(tmp_path: Path) -> None:
    body = os.urandom(3 * MiB)
    async with client_of(body_app(body)) as (client, url):
        for i in range(3):
            await asyncio.gather(*(client.download(url, tmp_path / f"{i}-{j}") for j in range(6)))
    pool = POOL
    assert len(pool) <= POOL_KEEP
    assert len({id(b) for b in pool}) == len(pool)  # never the same buffer twice
    assert all(not b.closed for b in pool)
    assert all((tmp_path / f"{i}-{j}").read_bytes() == body for i in range(3) for j in range(6))


# --- the finishing call -------------------------------------------------------------------


@contextlib.contextmanager
def slow_fsync(seconds: float, then: Callable[[], None] | None = None) -> Any:
    """os.fsync takes ``seconds`` (after calling ``then``); yields an event set on entry."""
    real = os.fsync
    entered = threading.Event()

    def fsync(fd: int) -> None:
        entered.set()
        if then is not None:
            then()
        time.sleep(seconds)
        real(fd)

    os.fsync = fsync
    try:
        yield entered
    finally:
        os.fsync = real


async def wait_for_event(event: threading.Event, seconds: float = 5) -> None:
    for _ in range(int(seconds / 0.005)):
        if event.is_set():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("never happened")


async def test_cancelled_during_the_finishing_call_nothing_lands(tmp_path: Path) -> None:
    """Cancelled while the worker syncs the file: the cancellation waits for that call, which
    stops short of the rename; the .part holds the whole body and nothing touches it after."""
    body = os.urandom(2 * MiB)
    dest = tmp_path / "v.mp4"
    async with client_of(body_app(body)) as (client, url):
        with slow_fsync(0.3) as syncing:
            task = asyncio.create_task(client.download(url, dest))
            await wait_for_event(syncing)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, 3)
            ended = (tmp_path / "v.mp4.part").read_bytes()
            await asyncio.sleep(0.4)
    assert not dest.exists()
    assert ended == (tmp_path / "v.mp4.part").read_bytes() == body
    # a later call finds the whole .part and its note: a Range from its end completes it
    async with client_of(body_app(body)) as (client, url):
        assert (await client.download(url, dest)).read_bytes() == body
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


def precious_and_out(tmp_path: Path) -> tuple[Path, Path]:
    """A file outside the output folder that nothing may touch ("keep"), and the folder."""
    outside = tmp_path / "outside"
    outside.mkdir()
    precious = outside / "precious.bin"
    precious.write_bytes(b"keep")
    out = tmp_path / "out"
    out.mkdir()
    return precious, out


async def test_a_part_swapped_before_the_rename_is_never_moved_into_place(
    tmp_path: Path,
) -> None:
    """While the worker syncs, someone swaps a symlink in at <dest>.part: the finishing call
    sees the name no longer holds the file it wrote and refuses; the link is removed, its
    target untouched, nothing stands under dest."""
    precious, out = precious_and_out(tmp_path)
    part = out / "v.mp4.part"

    def swap() -> None:
        part.unlink()
        part.symlink_to(precious)

    async with client_of(body_app(os.urandom(100_000))) as (client, url):
        with slow_fsync(0, then=swap), pytest.raises(kling.DownloadError, match="replaced"):
            await client.download(url, out / "v.mp4")
    assert precious.read_bytes() == b"keep"
    assert list(out.iterdir()) == []


async def test_a_rename_that_fails_keeps_the_finished_part(tmp_path: Path) -> None:
    body = os.urandom(100_000)
    dest = tmp_path / "v.mp4"
    dest.mkdir()
    (dest / "x").write_bytes(b"x")  # a non-empty directory: the rename fails
    async with client_of(body_app(body)) as (client, url):
        with pytest.raises(kling.DownloadError, match="cannot move the finished file") as caught:
            await client.download(url, dest)
    assert not caught.value.resumable
    assert (tmp_path / "v.mp4.part").read_bytes() == body
    assert (dest / "x").read_bytes() == b"x"


# --- fresh downloads (the batch engine's, for a task it has just created) ------------------


async def test_a_fresh_small_body_costs_one_hand_off(tmp_path: Path) -> None:
    """No look for a partial file before the request: the finishing call creates the .part,
    writes, syncs and renames it. One worker call for the whole file."""
    body = os.urandom(300_000)
    served: list[str] = []
    async with client_of(body_app(body, served=served)) as (client, url):
        await client.download(url, tmp_path / "warm.mp4")
        with counting_hand_offs(asyncio.get_running_loop()) as handed:
            await client.download(url, tmp_path / "v.mp4", fresh=True)
    assert handed == {"finish_now": 1}
    assert served == ["", ""]  # no Range asked
    assert (tmp_path / "v.mp4").read_bytes() == body
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4", "warm.mp4"]


async def test_a_fresh_5_mib_body_makes_its_part_in_the_first_write(tmp_path: Path) -> None:
    body = os.urandom(5 * MiB)
    async with client_of(body_app(body)) as (client, url):
        await client.download(url, tmp_path / "warm.mp4")
        with counting_hand_offs(asyncio.get_running_loop()) as handed:
            await client.download(url, tmp_path / "v.mp4", fresh=True)
    assert set(handed) == {"write_now", "finish_now"}
    assert handed["finish_now"] == 1
    assert 1 <= handed["write_now"] <= 5
    assert (tmp_path / "v.mp4").read_bytes() == body
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4", "warm.mp4"]


@pytest.mark.parametrize("size", [100_000, 3 * MiB])
async def test_a_fresh_download_replaces_a_planted_part_and_note_without_following(
    tmp_path: Path, size: int
) -> None:
    """Told fresh, yet a symlink stands at the .part name and a stale note beside it: the
    link is replaced (never followed: its target keeps its bytes), the note goes, the body
    lands whole (the first write makes the .part for 3 MiB, the finishing call for 100 kB)."""
    precious, out = precious_and_out(tmp_path)
    (out / "v.mp4.part").symlink_to(precious)
    (out / "v.mp4.part.json").write_text(json.dumps({"etag": ETAG}))
    body = os.urandom(size)
    served: list[str] = []
    async with client_of(body_app(body, served=served)) as (client, url):
        await client.download(url, out / "v.mp4", fresh=True)
    assert served == [""]
    assert precious.read_bytes() == b"keep"
    assert (out / "v.mp4").read_bytes() == body
    assert sorted(p.name for p in out.iterdir()) == ["v.mp4"]


async def test_a_fresh_download_makes_its_missing_folder(tmp_path: Path) -> None:
    body = os.urandom(10_000)
    dest = tmp_path / "a" / "b" / "v.mp4"
    async with client_of(body_app(body)) as (client, url):
        await client.download(url, dest, fresh=True)
    assert dest.read_bytes() == body
    assert sorted(p.name for p in dest.parent.iterdir()) == ["v.mp4"]


@pytest.mark.parametrize("size", [200_000, 3 * MiB])
async def test_a_fresh_download_cut_off_resumes_in_its_next_attempt(
    tmp_path: Path, size: int
) -> None:
    """Only the first attempt is fresh: the bytes it got are kept in a .part with its note,
    and the retry asks for the rest with a Range (fetching the whole again would mean the
    retry had trusted 'fresh' too)."""
    body = os.urandom(size)
    cut = size // 2
    served: list[str] = []
    async with client_of(body_app(body, served=served, cut_first=cut)) as (client, url):
        await client.download(url, tmp_path / "v.mp4", fresh=True)
    assert (tmp_path / "v.mp4").read_bytes() == body
    assert len(served) == 2
    assert served[0] == ""
    resumed_at = int(served[1].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= cut  # what the first attempt read (a loaded loop may read less)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


async def test_a_fresh_download_cancelled_in_its_first_write_leaks_no_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first write creates the .part in the worker; cancelled while the finishing step
    waits for that call, the download waits on and closes the descriptor the call made (the
    writer learns of it only from the call's result)."""
    real = os.writev
    entered = threading.Event()

    def slow_writev(fd: int, buffers: list[memoryview]) -> int:
        entered.set()
        time.sleep(0.3)
        return real(fd, buffers)

    monkeypatch.setattr(os, "writev", slow_writev)
    body = os.urandom(MiB + MiB // 2)  # one batch goes; the rest is read while it is written
    async with client_of(body_app(body)) as (client, url):
        await client.download(url, tmp_path / "warm.mp4")  # the connection, made once
        entered.clear()
        task = asyncio.create_task(client.download(url, tmp_path / "v.mp4", fresh=True))
        await wait_for_event(entered)
        await asyncio.sleep(0.1)  # the body is read: the finishing step waits for the write
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        await asyncio.sleep(0.4)  # any write still in flight (there should be none) ends
        held = []
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(FileNotFoundError):  # the listing's own descriptor
                held.append(os.readlink(f"/proc/self/fd/{fd}"))
    assert not [target for target in held if "v.mp4" in target]
    assert not (tmp_path / "v.mp4").exists()
    part = (tmp_path / "v.mp4.part").read_bytes()
    assert len(part) > 0
    assert body.startswith(part)
