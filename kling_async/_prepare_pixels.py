"""The pixel work of ``prepare_image`` (blocking: run in a worker thread). Opens the first frame,
turns it upright, makes it 8-bit RGB, fixes its ratio and size, and encodes it within the wire's
byte limit. Every step is deterministic: the same bytes and limits give the same output."""

from __future__ import annotations

import functools
import io
import math
import struct
import threading
from pathlib import Path
from typing import Literal

import attrs
from PIL import Image, ImageOps, UnidentifiedImageError

from ._prepare_result import Mime, PreparedImage
from .errors import ValidationError

Fit = Literal["refuse", "pad", "crop"]

MIN_SIDE = 300
#: The widest ratio the API takes, 2.5:1 (and 1:2.5), as integers: w * 2 <= h * 5.
_RATIO_NUM, _RATIO_DEN = 5, 2
#: JPEG qualities tried in turn until the bytes fit; then the pixels shrink and the ladder reruns.
QUALITIES = (95, 90, 85, 80, 75, 70, 60, 50)
_SHRINK_ROUNDS = 4
#: The pixel count decoded at most when Pillow's own guard is switched off
#: (``Image.MAX_IMAGE_PIXELS = None``); otherwise Pillow's hard limit, twice that value.
_HARD_PIXELS = 1 << 30
#: ISO-BMFF major brands of HEIF/HEIC files (``ftyp`` box): what makes pillow-heif be loaded.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"})
_HEIF_BRANDS = _HEIC_BRANDS | {b"mif1", b"msf1", b"mif2"}
_ORIENTATION = 0x0112
_FORMATS: dict[str, Mime] = {"JPEG": "image/jpeg", "PNG": "image/png"}
_PAD_COLOUR = (0, 0, 0)  # letterbox bars
_heif_lock = threading.Lock()


@attrs.frozen
class Source:
    """The source's bytes, and how errors and ``describe()`` name it."""

    field: str
    shown: str  # what a ValidationError names: the path, or "<N bytes>"
    name: str  # the file name for describe()
    data: bytes = attrs.field(repr=False)
    sha256: str
    path: Path | None = None  # the file read, if it was one


@attrs.frozen
class Limits:
    max_bytes: int
    max_side: int
    fit: Fit
    upscale: bool


@functools.cache
def _register_heif() -> None:
    """Teach Pillow HEIC/HEIF once, the first time such a file turns up."""
    with _heif_lock:
        import pillow_heif

        pillow_heif.register_heif_opener()


def _is_heif(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


def _refuse(src: Source, rule: str) -> ValidationError:
    return ValidationError(src.field, src.shown, rule)


def _open(src: Source) -> Image.Image:
    if _is_heif(src.data):
        try:
            _register_heif()
        except ImportError:  # a dependency, but a trimmed install may lack its binary wheel
            raise _refuse(src, "is HEIC/HEIF; pillow-heif, which reads it, is missing") from None
    try:
        img = Image.open(io.BytesIO(src.data))
    except Image.DecompressionBombError as exc:
        raise _refuse(src, f"refused as a possible decompression bomb ({exc})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise _refuse(
            src, "is not a readable image (corrupt, cut short, or a format Pillow cannot read)"
        ) from None
    width, height = img.size
    limit = 2 * Image.MAX_IMAGE_PIXELS if Image.MAX_IMAGE_PIXELS else _HARD_PIXELS
    if width * height > limit:
        img.close()
        raise _refuse(
            src,
            f"is {width}x{height} px, over the {limit // 1_000_000} MP decoded at most "
            "(a possible decompression bomb; Pillow's Image.MAX_IMAGE_PIXELS)",
        )
    return img


def source_format(img: Image.Image, data: bytes) -> str:
    if img.format == "HEIF" and data[8:12] in _HEIC_BRANDS:
        return "HEIC"
    return img.format or "unknown"


def _orientation(img: Image.Image) -> tuple[int, bool]:
    """The EXIF orientation (1..8), and whether the decoder already applied it (libheif turns
    HEIF images upright itself; pillow-heif keeps the original tag in ``info``)."""
    applied = img.info.get("original_orientation")
    value = applied or img.getexif().get(_ORIENTATION, 1)
    return (value if isinstance(value, int) and 1 <= value <= 8 else 1), applied is not None


def _animated(img: Image.Image) -> bool:
    animated = getattr(img, "is_animated", None)  # stops at the second frame
    if animated is not None:
        return bool(animated)
    return int(getattr(img, "n_frames", 1)) > 1


def _ratio_ok(width: int, height: int) -> bool:
    return width * _RATIO_DEN <= height * _RATIO_NUM and height * _RATIO_DEN <= width * _RATIO_NUM


def _scaled(width: int, height: int, scale: float, limits: Limits) -> tuple[int, int]:
    """``(width, height)`` times ``scale``, kept within the ratio, the minimum and the cap."""
    w = min(limits.max_side, max(1, round(width * scale)))
    h = min(limits.max_side, max(1, round(height * scale)))
    if w * _RATIO_DEN > h * _RATIO_NUM:
        h = -(-w * _RATIO_DEN // _RATIO_NUM)
    elif h * _RATIO_DEN > w * _RATIO_NUM:
        w = -(-h * _RATIO_DEN // _RATIO_NUM)
    return w, h


@attrs.frozen
class SizePlan:
    """The upright image's geometry: the box it fills (after ratio fixing) and the final size."""

    canvas: tuple[int, int]  # after pad/crop, at full resolution
    final: tuple[int, int]  # what is sent
    padded: bool
    cropped: bool
    upscaled: bool
    downscaled: bool


def plan_size(src: Source, width: int, height: int, limits: Limits) -> SizePlan:
    padded = cropped = False
    upright = f"{width}x{height} px"
    if not _ratio_ok(width, height):
        wide = width > height
        if limits.fit == "refuse":
            raise _refuse(
                src,
                f"aspect ratio {width}:{height} ({width / height:.2f}) is outside 1:2.5 to 2.5:1;"
                " fit='pad' letterboxes it, fit='crop' cuts its middle",
            )
        if limits.fit == "pad":
            padded = True
            if wide:
                height = -(-width * _RATIO_DEN // _RATIO_NUM)
            else:
                width = -(-height * _RATIO_DEN // _RATIO_NUM)
        else:
            cropped = True
            if wide:
                width = height * _RATIO_NUM // _RATIO_DEN
            else:
                height = width * _RATIO_NUM // _RATIO_DEN
    short, long = min(width, height), max(width, height)
    scale = 1.0
    if short < MIN_SIDE:
        if not limits.upscale:
            raise _refuse(
                src,
                f"is {upright}"
                + (f" ({width}x{height} once cropped)" if cropped else "")
                + f"; each side must be at least {MIN_SIDE} px (upscale=True enlarges it)",
            )
        scale = MIN_SIDE / short
    elif long > limits.max_side:
        scale = limits.max_side / long
    final = _scaled(width, height, scale, limits) if scale != 1.0 else (width, height)
    return SizePlan((width, height), final, padded, cropped, scale > 1, scale < 1)


def _png_depth(data: bytes) -> tuple[int, int]:
    """A PNG's bit depth and colour type, from its IHDR chunk (Pillow reads 16-bit RGB as RGB)."""
    return data[24], data[25]


def passes_through(img: Image.Image, src: Source, limits: Limits) -> bool:
    """A plain 8-bit RGB JPEG or PNG, upright, one frame, within every limit: sent as it is."""
    if img.mode != "RGB" or _orientation(img)[0] != 1 or _animated(img):
        return False
    if img.format == "PNG":
        if _png_depth(src.data) != (8, 2) or "transparency" in img.info:
            return False
    elif img.format != "JPEG":
        return False
    width, height = img.size
    return (
        len(src.data) <= limits.max_bytes
        and min(width, height) >= MIN_SIDE
        and max(width, height) <= limits.max_side
        and _ratio_ok(width, height)
    )


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info


def _to_srgb(img: Image.Image, icc: object) -> Image.Image | None:
    """``img`` (RGB or CMYK) turned from its embedded colour profile into sRGB (a Display P3
    phone photo, a CMYK print file); None when it has no profile, an sRGB one, or one that
    cannot be used."""
    if not isinstance(icc, bytes) or not icc:
        return None
    try:
        from PIL import ImageCms
    except ImportError:  # Pillow built without littlecms
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if img.mode == "RGB" and "srgb" in ImageCms.getProfileDescription(profile).lower():
            return None
        srgb = ImageCms.createProfile("sRGB")
        return ImageCms.profileToProfile(img, profile, srgb, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


def _rgb(img: Image.Image, icc: object) -> tuple[Image.Image, bool]:
    """8-bit RGB: alpha flattened on white, 16-bit scaled down, CMYK and wide-gamut colours
    into sRGB. Also says whether the colours were converted."""
    if img.mode in ("RGB", "CMYK"):
        srgb = _to_srgb(img, icc)
        if srgb is not None:
            return srgb, True
        return (img, False) if img.mode == "RGB" else (img.convert("RGB"), True)
    if img.mode.startswith(("I", "F")):
        wide = img.convert("I")
        high = wide.getextrema()[1]
        if isinstance(high, int | float) and high > 255:  # 16-bit: 0..65535 onto 0..255
            wide = wide.point(lambda v: v * (255 / 65535))
        return wide.convert("L").convert("RGB"), True
    if _has_alpha(img):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB"), True
    return img.convert("RGB"), True


def _jpeg(img: Image.Image, quality: int, icc: bytes | None) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, icc_profile=icc)
    return buf.getvalue()


def _encode(
    img: Image.Image, as_png: bool, icc: bytes | None, src: Source, limits: Limits
) -> tuple[bytes, Mime, int | None, Image.Image]:
    """The smallest-effort encoding that fits: PNG when kept and small enough, else JPEG at
    falling quality, then fewer pixels. ``icc`` is the colour profile to embed (the source's,
    when its colours were kept; no metadata else). Returns the bytes, their type, the JPEG
    quality and the image encoded (smaller than given if it had to shrink)."""
    if as_png:
        buf = io.BytesIO()
        img.save(buf, "PNG", icc_profile=icc)
        if buf.tell() <= limits.max_bytes:
            return buf.getvalue(), "image/png", None, img
    for _ in range(_SHRINK_ROUNDS):
        for quality in QUALITIES:
            data = _jpeg(img, quality, icc)
            if len(data) <= limits.max_bytes:
                return data, "image/jpeg", quality, img
        factor = math.sqrt(limits.max_bytes / len(data)) * 0.9
        size = _scaled(img.width, img.height, factor, limits)
        if min(size) < MIN_SIDE:
            break
        img = img.resize(size, Image.Resampling.LANCZOS)
    raise _refuse(
        src, f"cannot be made to fit {limits.max_bytes >> 20} MB at {MIN_SIDE} px or more"
    )


#: Exceptions Pillow's decoders raise for damaged data (besides ``ValidationError``, ours).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)


def prepare_pixels(src: Source, limits: Limits) -> PreparedImage:
    """The prepared image (blocking). Raises ``ValidationError`` naming the source."""
    with _open(src) as img:
        try:
            return _prepare_open(img, src, limits)
        except ValidationError:
            raise
        except Image.DecompressionBombError as exc:
            raise _refuse(src, f"refused as a possible decompression bomb ({exc})") from None
        except _DECODE_ERRORS as exc:
            raise _refuse(src, f"cannot be decoded, corrupt or cut short ({exc})") from None


def _prepare_open(img: Image.Image, src: Source, limits: Limits) -> PreparedImage:
    orientation, applied = _orientation(img)
    sideways = orientation in (5, 6, 7, 8)
    # as stored: a HEIF decoder hands over the image already upright
    stored = (img.height, img.width) if applied and sideways else img.size
    as_is = PreparedImage(
        src.data,
        "image/jpeg" if img.format == "JPEG" else "image/png",
        img.width,
        img.height,
        source_name=src.name,
        source_format=source_format(img, src.data),
        source_width=stored[0],
        source_height=stored[1],
        source_bytes=len(src.data),
        source_sha256=src.sha256,
        path=src.path,
    )
    if passes_through(img, src, limits):
        if img.format == "JPEG":  # decoding at 1/8 scale still reads every byte: cheap
            img.draft(img.mode, (math.ceil(img.width / 8), math.ceil(img.height / 8)))
        img.load()  # a file cut short (a copy interrupted) is refused, not sent
        return as_is
    plan = plan_size(src, *((stored[1], stored[0]) if sideways else stored), limits)
    scale = plan.final[0] / plan.canvas[0]
    if img.format == "JPEG" and scale < 1:
        # decode at 1/2, 1/4 or 1/8 of the size where that still leaves enough pixels
        img.draft(img.mode, (math.ceil(img.width * scale), math.ceil(img.height * scale)))
    icc = img.info.get("icc_profile")
    # turned upright (a copy); as it is when it already is (no copy of a 64-MP image)
    frame = ImageOps.exif_transpose(img) if orientation != 1 and not applied else img
    frame.load()
    # an opaque 8-bit PNG stays PNG, unless its size (per pixel sent) says it will not fit:
    # encoding a PNG only to throw it away costs seconds on a big screenshot or scan
    final_pixels, source_pixels = plan.final[0] * plan.final[1], stored[0] * stored[1]
    as_png = (
        img.format == "PNG"
        and _png_depth(src.data)[0] == 8
        and frame.mode in ("RGB", "L")
        and "transparency" not in frame.info
        and len(src.data) * final_pixels <= 2 * limits.max_bytes * source_pixels
    )
    rgb, recoloured = _rgb(frame, icc)
    kept = icc if isinstance(icc, bytes) and not recoloured else None  # still true of the pixels
    data, mime, quality, sent = _encode(_geometry(rgb, plan), as_png, kept, src, limits)
    return attrs.evolve(
        as_is,
        path=None,
        data=data,
        mime=mime,
        width=sent.width,
        height=sent.height,
        orientation=orientation,
        converted=recoloured or _animated(img) or _FORMATS.get(img.format or "") != mime,
        downscaled=plan.downscaled or sent.size != plan.final,
        padded=plan.padded,
        cropped=plan.cropped,
        upscaled=plan.upscaled,
        quality=quality,
    )


def _geometry(rgb: Image.Image, plan: SizePlan) -> Image.Image:
    """The decoded upright image cropped or padded to the plan's ratio, at its final size."""
    width, height = rgb.size
    canvas_w, canvas_h = plan.canvas
    if plan.cropped:  # centre crop to the canvas' ratio, in the decoded pixels
        if canvas_w * height > canvas_h * width:
            keep = width, width * canvas_h // canvas_w
        else:
            keep = height * canvas_w // canvas_h, height
        left, top = (width - keep[0]) // 2, (height - keep[1]) // 2
        rgb = rgb.crop((left, top, left + keep[0], top + keep[1]))
    final_w, final_h = plan.final
    if not plan.padded:
        return rgb if rgb.size == plan.final else rgb.resize(plan.final, Image.Resampling.LANCZOS)
    fit = min(final_w / rgb.width, final_h / rgb.height)
    inner = (min(final_w, round(rgb.width * fit)), min(final_h, round(rgb.height * fit)))
    if inner != rgb.size:
        rgb = rgb.resize(inner, Image.Resampling.LANCZOS)
    padded = Image.new("RGB", plan.final, _PAD_COLOUR)
    padded.paste(rgb, ((final_w - inner[0]) // 2, (final_h - inner[1]) // 2))
    return padded
