"""Image fields: where the bytes are (path, bytes, base64, URL), what they are (format and
size read from the header, in a worker thread), and their wire form (URL or bare base64)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import os
import stat
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
#: The most any wire takes: a larger file is refused before a byte of it is read.
LARGEST_BYTES = max(WIRE_MAX_BYTES.values())
_FORMATS = {"PNG": "png", "JPEG": "jpg"}
#: Opening never blocks (a FIFO swapped in after the check opens at once, and is refused).
_O_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def file_kind(mode: int) -> str | None:
    """What a file that is not regular is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _os_refusal(field: str, path: Path, exc: OSError) -> ValidationError:
    if isinstance(exc, FileNotFoundError):
        return ValidationError(field, str(path), "no such file")
    if isinstance(exc, PermissionError):
        return ValidationError(field, str(path), "file is not readable")
    return ValidationError(field, str(path), f"cannot be read: {exc.strerror or exc}")


def checked_file(field: str, path: Path, max_bytes: int = LARGEST_BYTES) -> os.stat_result:
    """``path``'s status, when it is a regular file of at most ``max_bytes`` (blocking, but
    never opens the file). Raises ``ValidationError`` naming the field, the path and why."""
    try:
        found = os.stat(path)
    except OSError as exc:
        raise _os_refusal(field, path, exc) from None
    kind = file_kind(found.st_mode)
    if kind is not None:
        raise ValidationError(field, str(path), f"is {kind}, not a regular file")
    if found.st_size > max_bytes:
        limit = f"{max_bytes // (1024 * 1024)} MB"
        raise ValidationError(field, str(path), f"{found.st_size} bytes exceeds the {limit} limit")
    return found


def open_checked(field: str, path: Path, found: os.stat_result) -> BinaryIO:
    """The file ``checked_file`` found, opened without blocking; it must still be the same
    regular file (blocking: a worker thread's call)."""
    try:
        fd = os.open(path, _O_FLAGS)
    except OSError as exc:
        raise _os_refusal(field, path, exc) from None
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (found.st_dev, found.st_ino) or file_kind(now.st_mode):
            raise ValidationError(field, str(path), "was replaced by another file while read")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


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
    if source.kind == "file":
        assert source.path is not None
        found = checked_file(field, source.path, max_bytes)  # type and size, before opening
        size = found.st_size
        stream: BinaryIO = open_checked(field, source.path, found)
    else:
        assert source.data is not None
        size = len(source.data)
        stream = io.BytesIO(source.data)
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
    data = source.data
    if data is None:
        assert source.path is not None
        found = checked_file(source.field, source.path)
        with open_checked(source.field, source.path, found) as f:
            data = f.read()
    return base64.b64encode(data).decode("ascii")
