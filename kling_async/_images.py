"""Image fields: where the bytes are (path, bytes, base64, URL), what they are (format and
size read from the header, in a worker thread), and their wire form (URL or bare base64)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import os
from pathlib import Path
from typing import BinaryIO, Literal

import attrs
from PIL import Image, UnidentifiedImageError

from .errors import ValidationError
from .models import ImageInput

MAX_BYTES = 10 * 1024 * 1024
#: The model-in-path (new) API takes frames up to 50 MB.
MAX_BYTES_NEW = 50 * 1024 * 1024
#: Largest image file each wire takes.
WIRE_MAX_BYTES = {"legacy": MAX_BYTES, "new": MAX_BYTES_NEW}
_FORMATS = {"PNG": "png", "JPEG": "jpg"}


@attrs.frozen
class ImageSource:
    """One image field, located but not yet read."""

    field: str
    kind: Literal["url", "file", "bytes"]
    url: str | None = None
    path: Path | None = None
    data: bytes | None = attrs.field(default=None, repr=False)


@attrs.frozen
class ImageFacts:
    """What the header says: format, pixel size, and the byte size of the file."""

    format: str
    width: int
    height: int
    size: int


def locate(field: str, value: ImageInput) -> ImageSource:
    """Classify an image input without reading it. Strings: an http(s) URL, a ``data:`` URI or
    bare base64, else a file path."""
    if isinstance(value, bytes | bytearray | memoryview):
        return ImageSource(field, "bytes", data=bytes(value))
    if isinstance(value, os.PathLike):
        return ImageSource(field, "file", path=Path(value))
    if not isinstance(value, str):
        raise ValidationError(field, value, "expected a path, bytes, an http(s) URL or base64")
    text = value.strip()
    if not text:
        raise ValidationError(field, value, "must not be empty")
    lowered = text[:8].lower()
    if lowered.startswith(("http://", "https://")):
        return ImageSource(field, "url", url=text)
    if lowered.startswith("data:"):
        header, sep, payload = text.partition(",")
        if not sep or ";base64" not in header:
            raise ValidationError(field, text[:40], "a data: URI must be base64 (data:...;base64,)")
        return ImageSource(field, "bytes", data=_b64(field, payload))
    # The base64 alphabet has no ".", and no image of 300x300 px or more encodes shorter
    # than 64 characters: so "cat.png" or "imgs/cat" is a path, a long run of base64 is bytes.
    if "." not in text and len(text) >= 64:
        return ImageSource(field, "bytes", data=_b64(field, text))
    return ImageSource(field, "file", path=Path(text))


def _b64(field: str, text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(field, text[:40], "is not valid base64") from None


def inspect(
    source: ImageSource, *, min_side: int | None = 300, max_bytes: int = MAX_BYTES
) -> ImageFacts | None:
    """Read the header (blocking: call through ``inspect_async``). None for URLs, which are
    passed through unread. Raises ``ValidationError`` for unreadable, wrong-format, too big,
    too small or too elongated images."""
    field = source.field
    if source.kind == "url":
        return None
    try:
        if source.kind == "file":
            assert source.path is not None
            size = source.path.stat().st_size
            if not source.path.is_file():
                raise ValidationError(field, str(source.path), "is not a regular file")
            stream: BinaryIO = source.path.open("rb")
        else:
            assert source.data is not None
            size = len(source.data)
            stream = io.BytesIO(source.data)
    except FileNotFoundError:
        raise ValidationError(field, str(source.path), "no such file") from None
    except PermissionError:
        raise ValidationError(field, str(source.path), "file is not readable") from None
    except OSError as exc:
        raise ValidationError(field, str(source.path), f"cannot be read: {exc.strerror}") from None
    shown = str(source.path) if source.path is not None else f"<{size} bytes>"
    if size > max_bytes:
        limit = f"{max_bytes // (1024 * 1024)} MB"
        raise ValidationError(field, shown, f"{size} bytes exceeds the {limit} limit")
    with stream:
        try:
            with Image.open(stream) as img:
                fmt, (width, height) = img.format or "", img.size
                img.verify()  # checks chunk CRCs without decoding pixels; catches truncation
        except (
            UnidentifiedImageError,
            OSError,
            SyntaxError,
            ValueError,
            Image.DecompressionBombError,
        ):
            raise ValidationError(field, shown, "is not a readable jpg or png image") from None
    if fmt not in _FORMATS:
        raise ValidationError(field, shown, f"format {fmt} is not supported; use jpg or png")
    if min_side is not None:
        if min(width, height) < min_side:
            raise ValidationError(
                field, shown, f"is {width}x{height} px; each side must be at least {min_side} px"
            )
        if not 1 / 2.5 <= width / height <= 2.5:
            raise ValidationError(
                field, shown, f"aspect ratio {width}:{height} is outside 1:2.5 to 2.5:1"
            )
    return ImageFacts(_FORMATS[fmt], width, height, size)


async def inspect_async(
    source: ImageSource, *, min_side: int | None = 300, max_bytes: int = MAX_BYTES
) -> ImageFacts | None:
    if source.kind == "url":
        return None
    return await asyncio.to_thread(inspect, source, min_side=min_side, max_bytes=max_bytes)


def wire(source: ImageSource) -> str:
    """The field's value on the wire: the URL, or bare base64 (blocking for files)."""
    if source.kind == "url":
        assert source.url is not None
        return source.url
    data = source.data if source.data is not None else source.path.read_bytes()  # type: ignore[union-attr]
    return base64.b64encode(data).decode("ascii")
