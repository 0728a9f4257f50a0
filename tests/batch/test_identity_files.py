"""A job's identity reads only regular files no larger than any wire takes: a FIFO, a socket
or a 2 GB sparse file is refused at once, before a byte of it is read."""

from __future__ import annotations

import asyncio
import os
import socket
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
