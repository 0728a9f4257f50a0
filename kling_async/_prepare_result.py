"""What ``prepare_image`` gives back: the bytes to send and what was done to get them."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any, Literal

import attrs

Mime = Literal["image/jpeg", "image/png"]

#: EXIF orientation (1..8) → the words for what turning it upright did.
_TURNS = {
    2: "mirrored",
    3: "turned 180°",
    4: "flipped",
    5: "turned 90° and mirrored",
    6: "turned 90°",
    7: "turned 270° and mirrored",
    8: "turned 270°",
}


#: The sign in ``4032×3024``, spelt by name so that no linter takes it for an x.  # noqa: RUF003
_BY = "\N{MULTIPLICATION SIGN}"


_NOT_RECORDED = ("data", "from_cache", "path")  # the bytes, and what depends on where


def _megabytes(size: int) -> str:
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / (1024 * 1024):.1f} MB"


@attrs.frozen
class PreparedImage:
    """An image ready for the API: ``data`` is a JPEG or PNG within the wire's limits.

    ``source_*`` describe the file as it was (its format as Pillow names it, ``HEIC`` for
    Apple's photos, its stored pixel size before any EXIF turn, its byte size and sha256).
    The flags say what was done; none set means ``data`` is the source's own bytes.
    ``from_cache`` is True when the bytes came from a ``PreparedCache`` without decoding.
    ``path`` is a file holding exactly ``data``: the source itself when it passed through,
    else the cache's copy (None for other bytes prepared without a cache). A batch can keep
    the path instead of the bytes, and read them when it sends.

    Send it as ``ImageToVideo(image=prepared.data, ...)``.
    """

    data: bytes = attrs.field(repr=False)
    mime: Mime
    width: int
    height: int
    source_name: str
    source_format: str
    source_width: int
    source_height: int
    source_bytes: int
    source_sha256: str
    #: EXIF orientation of the source (1: upright as stored); anything else was turned upright.
    orientation: int = 1
    #: The colour model or the format changed (e.g. HEIC → JPEG, CMYK → RGB, alpha flattened).
    converted: bool = False
    downscaled: bool = False
    padded: bool = False
    cropped: bool = False
    upscaled: bool = False
    #: The JPEG quality ``data`` was encoded at; None when not encoded as JPEG here.
    quality: int | None = None
    from_cache: bool = attrs.field(default=False, eq=False)
    path: Path | None = attrs.field(default=None, eq=False)

    @property
    def turned(self) -> bool:
        return self.orientation != 1

    @property
    def passed_through(self) -> bool:
        """``data`` is the source's bytes, unchanged."""
        return self.quality is None and not (
            self.turned
            or self.converted
            or self.downscaled
            or self.padded
            or self.cropped
            or self.upscaled
        )

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def base64(self) -> str:
        """``data`` as the API's wire form (bare base64, no ``data:`` prefix)."""
        return base64.b64encode(self.data).decode("ascii")

    def describe(self) -> str:
        """One line, e.g. ``IMG_1234.HEIC: HEIC 4032×3024 → JPEG 3024×4032, 2.1 MB, turned 90°``."""  # noqa: RUF002
        before = f"{self.source_format} {self.source_width}{_BY}{self.source_height}"
        if self.passed_through:
            return f"{self.source_name}: {before}, {_megabytes(self.source_bytes)}, sent as it is"
        fmt = "JPEG" if self.mime == "image/jpeg" else "PNG"
        done = [f"{_megabytes(len(self.data))}"]
        if self.turned:
            done.append(_TURNS.get(self.orientation, f"orientation {self.orientation} undone"))
        for flag in ("converted", "downscaled", "padded", "cropped", "upscaled"):
            if getattr(self, flag):
                done.append(flag)
        if self.quality is not None and not self.converted:
            done.append(f"re-encoded at quality {self.quality}")
        after = f"{fmt} {self.width}{_BY}{self.height}"
        return f"{self.source_name}: {before} → {after}, {', '.join(done)}"

    def to_record(self) -> dict[str, Any]:
        """Every field but the bytes, plus their sha256 and size (what the cache stores)."""
        record = attrs.asdict(self, filter=lambda a, _v: a.name not in _NOT_RECORDED)
        record["sha256"] = self.sha256
        record["size"] = len(self.data)
        return record
