"""Result files, read by byte range: one of three kinds, chosen by the config.

- ``render=True`` (and PyAV installed): an mp4 rendered from the task's image (cached), with a
  tone track when the task's result has audio;
- ``video_bytes=None`` (the default), or ``render=True`` without PyAV: the bundled sample clip
  of the task's aspect ratio, tagged with the video's id (a playable mp4, ~25 KB); when the
  result has audio, the clip with a tone track (also bundled). With PyAV installed, omni-video
  and motion-control results are the clip repeated or cut to the task's duration (copied
  packets, no encoding); without it they are the 5 s clip;
- ``video_bytes=N``: N deterministic filler bytes (not a video: for download benchmarks).

Image tasks' results are PNGs of the asked aspect ratio (long side 1024 px at 1k, 2048 at 2k).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import random
import struct
from collections import OrderedDict
from collections.abc import Callable, Iterator

import attrs
from PIL import Image

from ._config import EmulatorConfig
from ._render import (
    AUDIO_CLIPS,
    CLIP_SECONDS,
    CLIPS,
    CLIPS_DIR,
    NO_PYAV,
    have_pyav,
    loop_clip,
    placeholder,
    render_mp4,
    render_png,
)
from ._store import EmuTask

log = logging.getLogger("kling_async.emulator")

CHUNK = 256 * 1024
_BLOCK_SIZE = 1 << 20
_RENDER_CACHE = 64
_ASPECTS = {"16:9": (1280, 720), "9:16": (720, 1280), "1:1": (960, 960)}
_IMAGE_SIDE = {"1k": 1024, "2k": 2048}
#: Kinds whose results last as long as asked (when PyAV can make them so).
_EXACT_KINDS = ("omni_video", "motion_control")


def image_size(aspect: str, resolution: str | None) -> tuple[int, int]:
    """Pixels of a generated image: the aspect ratio, long side by resolution."""
    width, _, height = aspect.partition(":")
    w, h = int(width), int(height)
    side = _IMAGE_SIDE.get(resolution or "1k", 1024)
    return (side, round(side * h / w)) if w >= h else (round(side * w / h), side)


@attrs.frozen
class ResultContent:
    """A result file: its size, its ETag and a way to read any byte range of it."""

    size: int
    etag: str
    media: str = "mp4"
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


VideoContent = ResultContent  # the name before image results


class VideoFiles:
    """Makes and keeps the bytes behind every result URL."""

    def __init__(self, config: EmulatorConfig, seed: int) -> None:
        self.config = config
        self._seed = seed
        self._block = b""  # the filler's shared random block, made on first use
        self._rendered: OrderedDict[str, bytes] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self._clips: dict[str, bytes] = {}
        self._made: OrderedDict[tuple[str, ...], bytes] = OrderedDict()  # looped clips, PNGs
        self._pyav: bool | None = None

    async def image(self, task: EmuTask, index: int) -> ResultContent:
        """The ``index``-th image of an image task (a PNG, made once and kept a while)."""
        spec = task.spec
        width, height = image_size(spec.aspect_ratio, spec.mode)
        label = f"kling_async emulator image {index + 1} of {spec.count}"
        data = await self._made_once(
            ("png", task.video_id, str(index)),
            lambda: render_png(spec.prompt or task.task_id, width, height, label),
        )
        etag = f'"{task.video_id}-{index}-png"'
        return ResultContent(size=len(data), etag=etag, media="png", data=data)

    async def _made_once(self, key: tuple[str, ...], make: Callable[[], bytes]) -> bytes:
        data = self._made.get(key)
        if data is None:
            data = await asyncio.to_thread(make)
            self._made[key] = data
            while len(self._made) > _RENDER_CACHE:
                self._made.popitem(last=False)
        self._made.move_to_end(key)
        return data

    async def content(self, task: EmuTask) -> ResultContent:
        if self.config.render and await self._can_render():
            data = await self._render(task)
            return ResultContent(
                size=len(data), etag=f'"{hashlib.sha256(data).hexdigest()[:32]}"', data=data
            )
        size = self.config.video_bytes
        if size is None or self.config.render:
            return await self._clip(task)
        if not self._block:
            self._block = random.Random(self._seed).randbytes(_BLOCK_SIZE)
        offset = int(task.video_id, 16) % _BLOCK_SIZE
        return ResultContent(
            size=size, etag=f'"{task.video_id}-{size}"', offset=offset, block=self._block
        )

    async def _can_render(self) -> bool:
        if self._pyav is None:
            found = await asyncio.to_thread(have_pyav)  # the first import is slow
            if self._pyav is None and not found:  # said once, by the first to find out
                log.warning(NO_PYAV)
            self._pyav = found
        return self._pyav

    async def _bundled(self, name: str) -> bytes:
        clip = self._clips.get(name)
        if clip is None:
            clip = await asyncio.to_thread((CLIPS_DIR / name).read_bytes)
            self._clips[name] = clip
        return clip

    async def _clip(self, task: EmuTask) -> ResultContent:
        aspect = clip_aspect(task)
        audio = task.spec.audio
        seconds = int(task.spec.duration) if task.spec.kind in _EXACT_KINDS else CLIP_SECONDS
        if seconds != CLIP_SECONDS and await asyncio.to_thread(have_pyav):
            plain = await self._bundled(CLIPS[aspect][0])
            clip = await self._made_once(
                ("clip", aspect, str(seconds), str(audio)),
                lambda: loop_clip(plain, seconds, audio=audio),
            )
            aspect = f"{aspect}-{seconds}s"
        else:
            clip = await self._bundled(AUDIO_CLIPS[aspect] if audio else CLIPS[aspect][0])
        aspect += "-audio" if audio else ""
        # a trailing 'free' box (players skip it) makes each video's bytes its own
        note = f"kling_async emulator sample clip; video {task.video_id}".encode()
        data = clip + struct.pack(">I", 8 + len(note)) + b"free" + note
        return ResultContent(size=len(data), etag=f'"{task.video_id}-clip-{aspect}"', data=data)

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
        return render_mp4(
            source, spec.camera, frames, cfg.fps, cfg.render_max_side, audio=spec.audio
        )


def clip_aspect(task: EmuTask) -> str:
    """The sample clip closest to the task's picture: its image's shape, else its aspect ratio."""
    image = task.spec.image
    if image is not None and image.width > 0 and image.height > 0:
        ratio = image.width / image.height
        return "16:9" if ratio > 1.25 else "9:16" if ratio < 0.8 else "1:1"
    return task.spec.aspect_ratio if task.spec.aspect_ratio in CLIPS else "16:9"
