"""prepare_image on the folder a new user really has: 26 files of every kind a phone, a camera,
a scanner or the web leaves behind, each checked for what it became (or why it was refused);
fit, upscale, the byte limits, colour and orientation, determinism; and the geometry for every
size. The cache, the event loop and the files refused at once: test_prepare_io.py."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import kling_async as kling
from kling_async._prepare import MAX_BYTES, MAX_SIDE
from kling_async._prepare_pixels import Fit, Limits, Source, plan_size

from ._photos import BLUE, GREEN, MB, RED, WHITE, exif, halves, make_folder

pytestmark = pytest.mark.timeout(60)


@attrs.frozen
class Expect:
    """What a file becomes with the defaults (legacy wire, fit='refuse', no upscale)."""

    mime: str | None  # None: refused
    size: tuple[int, int] | None = None
    passes: bool = False
    flags: frozenset[str] = frozenset()
    rule: str = ""  # words of the refusal
    fmt: str = ""  # the source's format as reported


def _e(mime: str | None, size: tuple[int, int] | None = None, *flags: str, **kw: Any) -> Expect:
    return Expect(mime, size, flags=frozenset(flags), **kw)


JPEG, PNG = "image/jpeg", "image/png"
FOLDER: dict[str, Expect] = {
    "DSC_0001.JPG": _e(JPEG, (1600, 1200), passes=True, fmt="JPEG"),
    "progressive.jpg": _e(JPEG, (1280, 720), passes=True, fmt="JPEG"),
    "plain.png": _e(PNG, (800, 600), passes=True, fmt="PNG"),
    "café 東京.png": _e(PNG, (640, 480), passes=True, fmt="PNG"),
    "screenshot.png": _e(PNG, (2560, 1600), passes=True, fmt="PNG"),
    "not_really.png": _e(JPEG, (1000, 750), passes=True, fmt="JPEG"),
    "photo.webp": _e(JPEG, (1024, 768), "converted", fmt="WEBP"),
    "IMG_0001.HEIC": _e(JPEG, (756, 1008), "converted", "turned", fmt="HEIC"),
    "anim.gif": _e(JPEG, (500, 400), "converted", fmt="GIF"),
    "scan.bmp": _e(JPEG, (600, 800), "converted", fmt="BMP"),
    "pages.tiff": _e(JPEG, (700, 500), "converted", fmt="TIFF"),
    "deep16.png": _e(JPEG, (512, 512), "converted", fmt="PNG"),
    "print_cmyk.jpg": _e(JPEG, (800, 600), "converted", fmt="JPEG"),
    "portrait_exif6.jpg": _e(JPEG, (900, 1200), "turned", fmt="JPEG"),
    "upside_down.jpg": _e(JPEG, (1200, 900), "turned", fmt="JPEG"),
    "big_24mb.jpg": _e(JPEG, (3000, 2700), fmt="JPEG"),
    "huge_8000.jpg": _e(JPEG, (MAX_SIDE, MAX_SIDE), "downscaled", fmt="JPEG"),
    "panorama.jpg": _e(None, rule="aspect ratio 1800:600"),
    "tall_strip.png": _e(None, rule="aspect ratio 400:1200"),
    "tiny.png": _e(None, rule="at least 300 px"),
    "corrupt.jpg": _e(None, rule="cannot be decoded"),
    "palette_alpha.png": _e(JPEG, (640, 480), "converted", fmt="PNG"),
    "rgba.png": _e(JPEG, (600, 600), "converted", fmt="PNG"),
    "anim.png": _e(PNG, (640, 480), "converted", fmt="PNG"),
    "gray.jpg": _e(JPEG, (900, 700), "converted", fmt="JPEG"),
    "stereo_mpo.jpg": _e(JPEG, (800, 600), "converted", fmt="MPO"),
}
FLAGS = ("converted", "turned", "downscaled", "padded", "cropped", "upscaled")

Result = kling.PreparedImage | kling.ValidationError


def _prepare_or_refusal(path: Path, **options: Any) -> Result:
    try:
        return kling.prepare_image(path, **options)
    except kling.ValidationError as exc:
        return exc


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    make_folder(root)
    return root


@pytest.fixture(scope="module")
def results(folder: Path) -> dict[str, Result]:
    """Every file prepared once with the defaults; the tests below look at the results."""
    return {path.name: _prepare_or_refusal(path) for path in sorted(folder.iterdir())}


def _decoded(prepared: kling.PreparedImage) -> Image.Image:
    img = Image.open(io.BytesIO(prepared.data))
    img.load()
    return img


def _near(pixel: Any, colour: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(int(a) - b) <= tolerance for a, b in zip(pixel, colour, strict=False))


def _check_sendable(prepared: kling.PreparedImage, wire: str = "legacy") -> Image.Image:
    """What the API demands of every image, checked on the decoded bytes themselves."""
    img = _decoded(prepared)
    assert img.format == {"image/jpeg": "JPEG", "image/png": "PNG"}[prepared.mime]
    assert img.mode == "RGB"
    assert img.size == (prepared.width, prepared.height)
    assert len(prepared.data) <= MAX_BYTES[wire]
    assert min(img.size) >= 300
    assert max(img.size) <= MAX_SIDE
    assert 1 / 2.5 <= img.width / img.height <= 2.5
    return img


def test_the_folder_holds_26_files(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(FOLDER)
    assert (folder / "big_24mb.jpg").stat().st_size >= 24 * MB


@pytest.mark.parametrize("name", sorted(FOLDER))
async def test_each_file_becomes_what_the_api_takes(
    name: str, folder: Path, results: dict[str, Result]
) -> None:
    expect, got = FOLDER[name], results[name]
    if expect.mime is None:
        assert isinstance(got, kling.ValidationError), got
        assert got.field == "image"
        assert got.value == str(folder / name)  # the file named
        assert expect.rule in got.rule
        return
    assert isinstance(got, kling.PreparedImage), got
    img = _check_sendable(got)
    assert got.mime == expect.mime
    assert img.size == expect.size
    assert got.source_format == expect.fmt
    assert got.source_bytes == (folder / name).stat().st_size
    assert got.passed_through == expect.passes
    if expect.passes:
        assert got.data == (folder / name).read_bytes()  # byte for byte: nothing re-encoded
    assert {f for f in FLAGS if getattr(got, f)} == expect.flags
    assert got.describe().startswith(f"{name}: {expect.fmt} ")
    await kling.validate(kling.ImageToVideo(image=got.data, prompt="p"))  # the SDK's own rules


def _pixel(results: dict[str, Result], name: str, at: tuple[float, float]) -> Any:
    prepared = results[name]
    assert isinstance(prepared, kling.PreparedImage)
    img = _decoded(prepared)
    return img.getpixel((int(at[0] * (img.width - 1)), int(at[1] * (img.height - 1))))


@pytest.mark.parametrize(
    ("name", "at", "colour"),
    [
        ("portrait_exif6.jpg", (0.5, 0.1), RED),  # the stored left edge is now the top
        ("portrait_exif6.jpg", (0.5, 0.9), BLUE),
        ("IMG_0001.HEIC", (0.5, 0.1), RED),
        ("upside_down.jpg", (0.1, 0.5), BLUE),  # turned 180°: red moved to the right
        ("anim.gif", (0.5, 0.5), RED),  # the first frame of each
        ("pages.tiff", (0.5, 0.5), GREEN),
        ("anim.png", (0.5, 0.5), GREEN),
        ("stereo_mpo.jpg", (0.5, 0.5), BLUE),
        ("palette_alpha.png", (0.1, 0.5), WHITE),  # transparency flattened on white
        ("palette_alpha.png", (0.9, 0.5), RED),
        ("rgba.png", (0.1, 0.5), WHITE),
        ("rgba.png", (0.9, 0.5), BLUE),
        ("print_cmyk.jpg", (0.5, 0.5), (230, 40, 40)),  # CMYK red stays red in RGB
    ],
)
def test_what_is_sent_looks_like_the_source(
    name: str, at: tuple[float, float], colour: tuple[int, int, int], results: dict[str, Result]
) -> None:
    assert _near(_pixel(results, name, at), colour, tolerance=60)


def test_sixteen_bits_are_scaled_not_clipped(results: dict[str, Result]) -> None:
    """A 16-bit ramp keeps its ramp: clipping would turn everything above 255 white."""
    dark, middle = (
        _pixel(results, "deep16.png", (0.5, 0.02)),
        _pixel(results, "deep16.png", (0.5, 0.5)),
    )
    assert dark[0] < 30
    assert 100 < middle[0] < 160


def test_describe_says_what_was_done(results: dict[str, Result]) -> None:
    heic = results["IMG_0001.HEIC"]
    assert isinstance(heic, kling.PreparedImage)
    by = "\N{MULTIPLICATION SIGN}"
    assert heic.describe().startswith(f"IMG_0001.HEIC: HEIC 1008{by}756 → JPEG 756{by}1008, ")
    assert "turned 90°" in heic.describe()
    plain = results["café 東京.png"]
    assert isinstance(plain, kling.PreparedImage)
    assert plain.describe().endswith("sent as it is")
    big = results["big_24mb.jpg"]
    assert isinstance(big, kling.PreparedImage)
    assert big.quality is not None
    assert f"re-encoded at quality {big.quality}" in big.describe()


@pytest.mark.parametrize(
    ("name", "fit", "size", "flag"),
    [
        ("panorama.jpg", "pad", (1800, 720), "padded"),
        ("panorama.jpg", "crop", (1500, 600), "cropped"),
        ("tall_strip.png", "pad", (480, 1200), "padded"),
        ("tall_strip.png", "crop", (400, 1000), "cropped"),
    ],
)
def test_fit_pads_or_crops_to_the_ratio(
    name: str, fit: str, size: tuple[int, int], flag: str, folder: Path
) -> None:
    prepared = kling.prepare_image(folder / name, fit=fit)  # type: ignore[arg-type]
    img = _check_sendable(prepared)
    assert img.size == size
    assert getattr(prepared, flag)
    if fit == "pad":  # black bars at both ends, the picture in the middle
        assert _near(img.getpixel((0, 0)), (0, 0, 0), 8)
        assert not _near(img.getpixel((img.width // 2, img.height // 2)), (0, 0, 0), 8)


def test_re_encoded_images_keep_their_profile_but_not_their_orientation_tag(
    tmp_path: Path,
) -> None:
    """A turned image must not carry its EXIF orientation (viewers would turn it again); its
    colour profile, still true of the pixels, stays."""
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path / "turned.png"
    halves((900, 600), RED, BLUE).save(path, icc_profile=srgb, exif=exif(6).tobytes())
    prepared = kling.prepare_image(path)
    img = _check_sendable(prepared)
    assert (prepared.mime, img.size, prepared.turned) == (PNG, (600, 900), True)
    assert img.info.get("icc_profile") == srgb
    assert img.getexif().get(0x0112) is None


def test_a_png_too_big_for_the_wire_becomes_a_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    size = (2000, 2000)
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(path, compress_level=0)
    assert path.stat().st_size > MAX_BYTES["legacy"]
    prepared = kling.prepare_image(path)
    assert _check_sendable(prepared).size == size
    assert prepared.mime == JPEG
    assert prepared.converted
    assert kling.prepare_image(path, wire="new").passed_through  # 12 MB: the new wire takes it


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_a_16_bit_rgb_png_becomes_an_8_bit_jpeg(tmp_path: Path) -> None:
    """A raw converter's 16-bit RGB PNG (Pillow reads it as RGB, so only its header tells):
    never passed through, its ramp kept."""
    width, height = 400, 300
    row = b"".join(struct.pack(">HHH", x * 65535 // (width - 1), 32768, 0) for x in range(width))
    raw = b"".join(b"\0" + row for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path = tmp_path / "raw16.png"
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )
    prepared = kling.prepare_image(path)
    img = _check_sendable(prepared)
    assert (prepared.mime, img.size, prepared.converted) == (JPEG, (400, 300), True)
    assert not prepared.passed_through
    assert img.getpixel((5, 150))[0] < 30
    assert 100 < img.getpixel((200, 150))[0] < 160
    assert img.getpixel((394, 150))[0] > 220


def test_upscale_enlarges_a_small_image_to_300(folder: Path) -> None:
    prepared = kling.prepare_image(folder / "tiny.png", upscale=True)
    assert _check_sendable(prepared).size == (300, 300)
    assert prepared.upscaled
    assert prepared.mime == PNG  # an opaque 8-bit PNG stays PNG


def test_the_new_wire_takes_the_24_mb_photo_as_it_is(folder: Path) -> None:
    prepared = kling.prepare_image(folder / "big_24mb.jpg", wire="new")
    assert prepared.passed_through
    assert prepared.data == (folder / "big_24mb.jpg").read_bytes()


def test_quality_steps_down_until_the_bytes_fit(folder: Path) -> None:
    prepared = kling.prepare_image(folder / "big_24mb.jpg", max_bytes=7 * MB)
    assert prepared.quality is not None
    assert prepared.quality < 95
    assert len(prepared.data) <= 7 * MB
    assert (prepared.width, prepared.height) == (3000, 2700)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("IMG_0001.HEIC", {}),
        ("print_cmyk.jpg", {}),
        ("portrait_exif6.jpg", {}),
        ("anim.gif", {}),
        ("deep16.png", {}),
        ("panorama.jpg", {"fit": "pad"}),
        ("tiny.png", {"upscale": True}),
    ],
)
def test_the_same_source_gives_the_same_bytes(
    name: str, options: dict[str, Any], folder: Path
) -> None:
    first = kling.prepare_image(folder / name, **options)
    again = kling.prepare_image((folder / name).read_bytes(), **options)
    assert first.data == again.data
    assert attrs.evolve(again, source_name=name) == first


def test_a_large_file_is_deterministic_too(folder: Path, results: dict[str, Result]) -> None:
    first = results["big_24mb.jpg"]
    assert isinstance(first, kling.PreparedImage)
    assert kling.prepare_image(folder / "big_24mb.jpg").data == first.data


# --- the geometry, for every size ------------------------------------------------------------

_SOURCE = Source("image", "x.png", "x.png", b"", "0" * 64)


@settings(max_examples=400, deadline=None)
@given(
    width=st.integers(1, 30000),
    height=st.integers(1, 30000),
    fit=st.sampled_from(["pad", "crop"]),
    max_side=st.sampled_from([750, 1000, 4096]),
)
def test_every_size_fits_the_rules_once_fitted_and_upscaled(
    width: int, height: int, fit: Fit, max_side: int
) -> None:
    """Rounding never leaves a size a hair past 2.5:1, under 300 px or over the cap."""
    plan = plan_size(_SOURCE, width, height, Limits(MAX_BYTES["legacy"], max_side, fit, True))
    w, h = plan.final
    assert w * 2 <= h * 5
    assert h * 2 <= w * 5
    assert min(w, h) >= 300
    assert max(w, h) <= max_side
    if plan.final != plan.canvas:  # scaled: one side hit its bound (300 or the cap)
        assert min(w, h) == 300 or max(w, h) == max_side


@settings(max_examples=400, deadline=None)
@given(width=st.integers(1, 30000), height=st.integers(1, 30000))
def test_refuse_refuses_exactly_what_the_api_would(width: int, height: int) -> None:
    allowed = width * 2 <= height * 5 and height * 2 <= width * 5 and min(width, height) >= 300
    limits = Limits(MAX_BYTES["legacy"], MAX_SIDE, "refuse", False)
    try:
        plan = plan_size(_SOURCE, width, height, limits)
    except kling.ValidationError:
        assert not allowed
    else:
        assert allowed
        assert plan.canvas == (width, height)
