"""A job's identity reads only regular files no larger than any wire takes: a FIFO, a socket
or a 2 GB sparse file is refused at once, before a byte of it is read."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import pytest

from kling_async import ImageToVideo, ValidationError
from kling_async.batch import job_identity

from .._helpers import png


def _sparse(path: Path) -> Path:
    path.touch()
    os.truncate(path, 2 * 1024**3)
    return path


def _socket(path: Path) -> Path:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()  # the socket file stays
    return path


@pytest.mark.parametrize(
    ("make", "rule"),
    [
        (lambda p: (os.mkfifo(p), p)[1], "is a named pipe (FIFO), not a regular file"),
        (_socket, "is a socket, not a regular file"),
        (_sparse, f"{2 * 1024**3} bytes exceeds the 50 MB limit"),
    ],
)
async def test_identity_refuses_what_is_not_a_usable_image_file_at_once(
    tmp_path: Path, make: object, rule: str
) -> None:
    path = make(tmp_path / "x.png")  # type: ignore[operator]
    job = ImageToVideo(image=path, model="kling-v2-6")
    with pytest.raises(ValidationError) as caught:
        await asyncio.wait_for(job_identity(job), timeout=2)
    assert caught.value.field == "image"
    assert caught.value.value == str(path)
    assert rule in str(caught.value)


async def test_identity_of_a_regular_file_is_its_content(tmp_path: Path) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(png(480, 320))
    b.write_bytes(png(480, 320))
    one = await job_identity(ImageToVideo(image=a, model="kling-v2-6"))
    assert one == await job_identity(ImageToVideo(image=b, model="kling-v2-6"))
    assert one == await job_identity(ImageToVideo(image=a.read_bytes(), model="kling-v2-6"))


async def test_a_cancelled_identity_stops_reading_between_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during a scan: the file is read a chunk per worker-thread call, so cancelling
    stops the reading at the next chunk, not at the end of the file."""
    path = tmp_path / "large.png"
    path.touch()
    os.truncate(path, 40 * 1024 * 1024)  # 40 chunks of 1 MB
    opened: list[float] = []
    real_open = os.open
    loop, reached = asyncio.get_running_loop(), asyncio.Event()

    def slow_open(file: object, flags: int, *args: object, **kwargs: object) -> int:
        if str(file) == str(path):
            opened.append(time.monotonic())
            if len(opened) == 3:
                loop.call_soon_threadsafe(reached.set)
            time.sleep(0.05)  # a slow disk: 40 chunks take 2 s
        return real_open(file, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", slow_open)
    task = asyncio.create_task(job_identity(ImageToVideo(image=path, model="kling-v2-6")))
    await asyncio.wait_for(reached.wait(), timeout=5)  # times out: not read in chunks
    task.cancel()
    cancelled_at = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - cancelled_at < 0.5
    await asyncio.sleep(0.3)  # a chunk in flight ends; no other starts
    assert len([t for t in opened if t > cancelled_at]) <= 1
    assert len(opened) < 10
