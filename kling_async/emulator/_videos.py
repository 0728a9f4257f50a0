"""Result files: rendered mp4s (cached) or deterministic filler bytes, read by byte range."""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
from collections import OrderedDict
from collections.abc import Iterator

import attrs
from PIL import Image

from ._config import EmulatorConfig
from ._render import placeholder, render_mp4
from ._store import EmuTask

CHUNK = 256 * 1024
_BLOCK_SIZE = 1 << 20
_RENDER_CACHE = 64
_ASPECTS = {"16:9": (1280, 720), "9:16": (720, 1280), "1:1": (960, 960)}


@attrs.frozen
class VideoContent:
    """A result file: its size, its ETag and a way to read any byte range of it."""

    size: int
    etag: str
    _data: bytes | None = attrs.field(default=None, repr=False, alias="data")
    _offset: int = attrs.field(default=0, alias="offset")
    _block: bytes = attrs.field(default=b"", repr=False, alias="block")

    def chunks(self, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``start`` up to ``end`` (exclusive), in chunks of at most 256 KiB."""
        for pos in range(start, end, CHUNK):
            stop = min(end, pos + CHUNK)
            if self._data is not None:
                yield self._data[pos:stop]
            else:  # filler: the shared block, rotated by a per-video offset
                a = (pos + self._offset) % _BLOCK_SIZE
                piece = self._block[a : a + (stop - pos)]
                yield (
                    piece
                    if len(piece) == stop - pos
                    else piece + self._block[: stop - pos - len(piece)]
                )

    def read_all(self) -> bytes:
        return b"".join(self.chunks(0, self.size))


class VideoFiles:
    """Makes and keeps the bytes behind every result URL."""

    def __init__(self, config: EmulatorConfig, seed: int) -> None:
        self.config = config
        self._block = random.Random(seed).randbytes(_BLOCK_SIZE)
        self._rendered: OrderedDict[str, bytes] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    async def content(self, task: EmuTask) -> VideoContent:
        if not self.config.render:
            offset = int(task.video_id, 16) % _BLOCK_SIZE
            size = self.config.video_bytes
            return VideoContent(
                size=size, etag=f'"{task.video_id}-{size}"', offset=offset, block=self._block
            )
        data = await self._render(task)
        return VideoContent(
            size=len(data), etag=f'"{hashlib.sha256(data).hexdigest()[:32]}"', data=data
        )

    async def _render(self, task: EmuTask) -> bytes:
        lock = self._locks.setdefault(task.video_id, asyncio.Lock())
        async with lock:
            data = self._rendered.get(task.video_id)
            if data is None:
                data = await asyncio.to_thread(self._render_now, task)
                self._rendered[task.video_id] = data
                while len(self._rendered) > _RENDER_CACHE:
                    self._rendered.popitem(last=False)
            self._rendered.move_to_end(task.video_id)
        self._locks.pop(task.video_id, None)
        return data

    def _render_now(self, task: EmuTask) -> bytes:
        spec, cfg = task.spec, self.config
        if spec.image is not None and spec.image.data is not None:
            with Image.open(io.BytesIO(spec.image.data)) as img:
                img.load()
                source = img.convert("RGB")
        else:
            width, height = _ASPECTS.get(spec.aspect_ratio, _ASPECTS["16:9"])
            source = placeholder(spec.prompt or task.task_id, width, height)
        frames = round(task.video_seconds * cfg.fps)
        return render_mp4(source, spec.camera, frames, cfg.fps, cfg.render_max_side)
