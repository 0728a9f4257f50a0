"""Reading the images a request carries: URL or bare base64, format by content, dimensions."""

from __future__ import annotations

import base64
import binascii
import io

import attrs
from PIL import Image, UnidentifiedImageError

from ._errors import invalid

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_IMAGE_BYTES_NEW = 50 * 1024 * 1024
MIN_SIDE = 300
MAX_ASPECT = 2.5
_FORMATS = {"JPEG": "jpg", "PNG": "png"}


@attrs.frozen
class ImageInfo:
    """An image field as received: its bytes and size, or only its URL (not fetched)."""

    url: str | None
    data: bytes | None = attrs.field(default=None, repr=False)
    width: int = 0
    height: int = 0
    format: str = ""

    @property
    def known(self) -> bool:
        return self.data is not None


def read_image(
    field: str,
    value: object,
    *,
    check_dimensions: bool = True,
    max_bytes: int = MAX_IMAGE_BYTES,
) -> ImageInfo:
    """Decode and check one image field; raise a 1201 rejection naming the field and rule.

    URLs are accepted as they are: the emulator never fetches from the network. The legacy
    wire takes images up to 10 MB, the new wire up to ``MAX_IMAGE_BYTES_NEW`` (50 MB).
    """
    if not isinstance(value, str) or not value:
        raise invalid(f"{field}: expected a non-empty string (URL or base64), got {value!r:.40}")
    if value.startswith(("http://", "https://")):
        return ImageInfo(url=value)
    if value.startswith("data:"):
        raise invalid(
            f"{field}: base64 must be sent bare; a 'data:' prefix ({value[:30]!r}...) "
            "is not accepted"
        )
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"{field}: not an http(s) URL and not valid base64") from None
    if len(data) > max_bytes:
        raise invalid(f"{field}: {len(data)} bytes exceeds the {max_bytes >> 20} MB limit")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (width, height) = img.format or "", img.size
    except (UnidentifiedImageError, OSError, ValueError):
        raise invalid(f"{field}: content is not a readable image (jpg, jpeg or png)") from None
    if fmt not in _FORMATS:
        raise invalid(f"{field}: format {fmt} is not supported; use jpg, jpeg or png")
    if check_dimensions:
        if min(width, height) < MIN_SIDE:
            raise invalid(f"{field}: {width}x{height} px; each side must be at least {MIN_SIDE} px")
        ratio = width / height
        if not 1 / MAX_ASPECT <= ratio <= MAX_ASPECT:
            raise invalid(
                f"{field}: aspect ratio {width}:{height} ({ratio:.2f}) is outside 1:2.5 to 2.5:1"
            )
    return ImageInfo(url=None, data=data, width=width, height=height, format=_FORMATS[fmt])
