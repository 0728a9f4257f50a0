"""``prepare_image``: any photo a folder may hold, made into what the API takes.

>>> prepared = await kling.prepare_image_async("IMG_1234.HEIC")
>>> prepared.describe()
'IMG_1234.HEIC: HEIC 4032×3024 → JPEG 3024×4032, 2.1 MB, turned 90°, converted'
>>> await client.image_to_video.create(image=prepared.data, prompt="...")

Two forms, one behaviour: ``prepare_image_async`` is the one to use in async code (reading,
hashing and decoding run in worker threads; each chunk read is a point where it can be
cancelled); ``prepare_image`` is the same work, blocking, for scripts and threads — never call
it on a running event loop.

What is sent (docs/images.md says more):

- JPEG or PNG only. A plain 8-bit RGB JPEG or PNG that is upright and within every limit is
  sent as it is, its bytes unchanged. Everything else is decoded by Pillow (HEIC/HEIF through
  pillow-heif): the first frame of a GIF, APNG, WebP or multi-page TIFF; EXIF orientation
  applied; CMYK, 16-bit, palette, greyscale and alpha (flattened on white) made RGB, colour
  profiles converted to sRGB; then encoded as PNG when the source was an 8-bit opaque PNG and
  it fits, else as JPEG at quality 95, stepping down to 50 and then shrinking the pixels until
  it fits.
- Byte limit: the wire's — 10 MB on the legacy API, 50 MB on the new one (``max_bytes``
  overrides it).
- Pixel limit: Kling documents none above the 300 px minimum; this sends at most
  ``MAX_SIDE`` = 4096 px on the long side (4K, more than any Kling output resolution), so
  larger images are downscaled (``max_side`` overrides it, from 750 up).
- Ratio: outside 1:2.5 to 2.5:1, ``fit`` decides: ``"refuse"`` (a ``ValidationError``),
  ``"pad"`` (black bars to the nearest allowed ratio) or ``"crop"`` (the middle kept).
- Under 300 px on the short side: refused, or with ``upscale=True`` enlarged to 300.
- Refused with a ``ValidationError`` naming the file: anything that is not a regular file
  (checked before opening; the open is ``O_NONBLOCK``, so not even a FIFO swapped in since
  can make it wait), more than
  ``MAX_SOURCE_BYTES`` (200 MB), an unreadable or corrupt image, and more pixels than Pillow's
  decompression-bomb limit (``2 * Image.MAX_IMAGE_PIXELS``, 179 MP by default).

Deterministic: the same source and options give the same bytes with the same Pillow. With a
``PreparedCache`` they are the same bytes across Pillow versions too, and a rerun decodes
nothing.
"""  # noqa: RUF002 (the multiplication sign of describe())

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Final, Protocol, TypedDict, Unpack

import attrs

from ._catalog import Wire
from ._images import WIRE_MAX_BYTES, file_kind
from ._prepare_cache import PreparedCache, cache_key
from ._prepare_pixels import Fit, Limits, Source, prepare_pixels
from ._prepare_result import PreparedImage
from .errors import ValidationError

__all__ = [
    "MAX_BYTES",
    "MAX_SIDE",
    "MAX_SOURCE_BYTES",
    "PrepareOptions",
    "PreparedCache",
    "PreparedImage",
    "SourceInput",
    "prepare_image",
    "prepare_image_async",
]

#: The bytes an image may have, by wire (the one table, ``_images.WIRE_MAX_BYTES``).
MAX_BYTES: Final[Mapping[str, int]] = MappingProxyType(dict(WIRE_MAX_BYTES))
MAX_SIDE: Final = 4096
#: A source bigger than this is refused before a byte of it is read.
MAX_SOURCE_BYTES: Final = 200 * 1024 * 1024
_CHUNK = 4 * 1024 * 1024
_FITS = ("refuse", "pad", "crop")
_O_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)

SourceInput = str | os.PathLike[str] | bytes | bytearray | memoryview


class PrepareOptions(TypedDict, total=False):
    """The keyword options of ``prepare_image`` and ``prepare_image_async``, every one
    optional; ``_settings`` applies their defaults (listed in ``prepare_image``'s docstring)."""

    wire: Wire
    fit: Fit
    upscale: bool
    max_side: int
    max_bytes: int | None
    cache: PreparedCache | None
    field: str


def _settings(function: str, options: PrepareOptions) -> tuple[Limits, PreparedCache | None, str]:
    """The options with their defaults, checked: the limits, the cache, the field to name."""
    unknown = sorted(options.keys() - PrepareOptions.__optional_keys__)
    if unknown:
        raise TypeError(f"{function}() got an unexpected keyword argument {unknown[0]!r}")
    wire = options.get("wire", "legacy")
    fit = options.get("fit", "refuse")
    max_side = options.get("max_side", MAX_SIDE)
    max_bytes = options.get("max_bytes")
    if wire not in MAX_BYTES:
        raise ValidationError("wire", wire, "one of 'legacy', 'new'")
    if fit not in _FITS:
        raise ValidationError("fit", fit, "one of 'refuse', 'pad', 'crop'")
    if isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 750:
        raise ValidationError("max_side", max_side, "a whole number of pixels, 750 or more")
    cap = MAX_BYTES[wire]
    if max_bytes is not None and (
        isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or not 0 < max_bytes <= cap
    ):
        raise ValidationError("max_bytes", max_bytes, f"from 1 to the wire's {cap} bytes")
    limits = Limits(max_bytes or cap, max_side, fit, bool(options.get("upscale", False)))
    return limits, options.get("cache"), options.get("field", "image")


class _Hasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...
    def hexdigest(self) -> str: ...


@attrs.define
class _Reader:
    """The source read a chunk at a time (each chunk one worker-thread call in the async form,
    so cancelling between chunks is prompt and leaves no descriptor open), hashed as it goes."""

    field: str
    shown: str
    name: str
    path: Path | None
    given: bytes | None = None
    identity: tuple[int, int] = (0, 0)
    offset: int = 0
    chunks: list[bytes] = attrs.field(factory=list)
    hasher: _Hasher = attrs.field(factory=hashlib.sha256)

    @classmethod
    def start(cls, source: SourceInput, field: str) -> _Reader:
        """Check the source without reading it: a regular file, not too big (blocking)."""
        if isinstance(source, bytes | bytearray | memoryview):
            data = bytes(source)
            reader = cls(field, f"<{len(data)} bytes>", "<bytes>", None, given=data)
            reader.refuse_size(len(data))
            return reader
        if not isinstance(source, str | os.PathLike):
            raise ValidationError(field, source, "expected a file path or the image's bytes")
        if isinstance(source, str) and source[:8].lower().startswith(("http://", "https://")):
            raise ValidationError(field, source, "a URL is sent as it is, not prepared")
        path = Path(source)
        reader = cls(field, str(path), path.name, path)
        try:
            found = reader.regular(os.stat(path))
        except OSError as exc:
            raise reader.os_error(exc) from None
        reader.identity = (found.st_dev, found.st_ino)
        reader.refuse_size(found.st_size)
        return reader

    def refuse(self, rule: str) -> ValidationError:
        return ValidationError(self.field, self.shown, rule)

    def refuse_size(self, size: int) -> None:
        if size > MAX_SOURCE_BYTES:
            raise self.refuse(f"{size} bytes is over the {MAX_SOURCE_BYTES >> 20} MB considered")

    def os_error(self, exc: OSError) -> ValidationError:
        if isinstance(exc, FileNotFoundError):
            return self.refuse("no such file")
        if isinstance(exc, PermissionError):
            return self.refuse("is not readable (permission denied)")
        return self.refuse(f"cannot be read: {exc.strerror or exc}")

    def regular(self, found: os.stat_result) -> os.stat_result:
        kind = file_kind(found.st_mode)
        if kind is not None:
            raise self.refuse(f"is {kind}, not a regular file")
        return found

    def read_chunk(self) -> bool:
        """Read and hash the next chunk (blocking); False once the whole source is in."""
        if self.given is not None:  # hashed in place, never copied
            chunk: bytes | memoryview = memoryview(self.given)[self.offset : self.offset + _CHUNK]
        else:
            fd = self.open()
            try:
                chunk = os.pread(fd, _CHUNK, self.offset)
            except OSError as exc:
                raise self.os_error(exc) from None
            finally:
                os.close(fd)
            self.chunks.append(chunk)
        if not chunk:
            return False
        self.offset += len(chunk)
        self.hasher.update(chunk)
        self.refuse_size(self.offset)
        return True

    def open(self) -> int:
        """A descriptor on the path: ``O_NONBLOCK``, so even a FIFO swapped in since the check
        cannot block the open; it must still be the same regular file."""
        assert self.path is not None
        try:
            fd = os.open(self.path, _O_FLAGS)
        except OSError as exc:
            raise self.os_error(exc) from None
        try:
            found = self.regular(os.fstat(fd))
            if (found.st_dev, found.st_ino) != self.identity:
                raise self.refuse("was replaced by another file while being read")
        except BaseException:
            os.close(fd)
            raise
        return fd

    def source(self) -> Source:
        data = self.given if self.given is not None else b"".join(self.chunks)
        self.chunks.clear()
        digest = self.hasher.hexdigest()
        return Source(self.field, self.shown, self.name, data, digest, self.path)


def _options(limits: Limits) -> dict[str, object]:
    return attrs.asdict(limits)


def _prepared(src: Source, limits: Limits, cache: PreparedCache | None) -> PreparedImage:
    """From the cache when there; else prepared, then stored (blocking)."""
    if cache is None:
        return prepare_pixels(src, limits)
    key = cache_key(src.sha256, _options(limits))
    found = cache.load(key, src.data)
    if found is not None:
        return attrs.evolve(found, source_name=src.name, path=found.path or src.path)
    prepared = prepare_pixels(src, limits)
    stored = cache.save(key, prepared)
    return prepared if stored is None else attrs.evolve(prepared, path=stored)


def prepare_image(source: SourceInput, **options: Unpack[PrepareOptions]) -> PreparedImage:
    """``source`` (a path or the image's bytes) as a JPEG or PNG the ``wire`` takes.

    Blocking: decodes in the calling thread. In async code use ``prepare_image_async``.
    Raises ``ValidationError(field, source, rule)`` for what cannot be sent and why; see the
    module's docstring for every rule.

    The options (``PrepareOptions``), keywords, each with its default:

    - ``wire="legacy"``: ``"legacy"`` (10 MB) or ``"new"`` (50 MB), the byte limit;
    - ``fit="refuse"``: ``"refuse"``, ``"pad"`` or ``"crop"``, for a ratio beyond 2.5:1;
    - ``upscale=False``: enlarge an image under 300 px instead of refusing it;
    - ``max_side=MAX_SIDE`` (4096): the longest side sent, in pixels (750 or more);
    - ``max_bytes=None``: a lower byte limit than the wire's;
    - ``cache=None``: a ``PreparedCache`` that keeps the prepared bytes across runs;
    - ``field="image"``: the field a ``ValidationError`` names (``"image_tail"`` for an end
      frame).
    """
    limits, cache, field = _settings("prepare_image", options)
    reader = _Reader.start(source, field)
    while reader.read_chunk():
        pass
    return _prepared(reader.source(), limits, cache)


async def prepare_image_async(
    source: SourceInput, **options: Unpack[PrepareOptions]
) -> PreparedImage:
    """``prepare_image`` without blocking the event loop (the same source and options, with
    the same defaults): the source is read and hashed a chunk at a time in worker threads
    (cancellable between chunks), then looked up in ``cache`` and, if missing, decoded and
    encoded in a worker thread. A cancellation while decoding stops the wait at once; the
    thread finishes its image and the result is dropped.
    """
    limits, cache, field = _settings("prepare_image_async", options)
    reader = await asyncio.to_thread(_Reader.start, source, field)
    while await asyncio.to_thread(reader.read_chunk):
        pass
    src = reader.source()
    return await asyncio.to_thread(_prepared, src, limits, cache)
