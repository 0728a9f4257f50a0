"""The photos a new user's folder really holds, made with Pillow and pillow-heif for the
prepare_image tests: every maker writes one realistic file."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pillow_heif
from PIL import Image

MB = 1024 * 1024
RED, GREEN, BLUE, WHITE = (220, 20, 20), (20, 200, 20), (20, 20, 220), (255, 255, 255)


def scene(size: tuple[int, int], colour: tuple[int, int, int] = (90, 140, 200)) -> Image.Image:
    """A picture with some structure (not a flat colour, which every codec shrinks to nothing)."""
    img = Image.linear_gradient("L").resize(size).convert("RGB")
    tint = Image.new("RGB", size, colour)
    return Image.blend(img, tint, 0.6)


def halves(
    size: tuple[int, int], left: tuple[int, int, int], right: tuple[int, int, int]
) -> Image.Image:
    img = Image.new("RGB", size, right)
    img.paste(left, (0, 0, size[0] // 2, size[1]))
    return img


def exif(orientation: int) -> Image.Exif:
    tags = Image.Exif()
    tags[0x0112] = orientation
    return tags


def noise_jpeg(path: Path, size: tuple[int, int], at_least: int) -> None:
    """A photo-sized JPEG of noise: noise does not compress, so it really is that big."""
    noise = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    noise.save(path, "JPEG", quality=98, subsampling=0)
    assert path.stat().st_size >= at_least


def heic(path: Path) -> None:
    """An iPhone's photo: landscape pixels, red on the left, turned by the file's rotation
    (irot) and its EXIF orientation 6 alike."""
    pillow_heif.register_heif_opener()  # to write it; prepare_image registers its own
    halves((1008, 756), RED, BLUE).save(path, quality=70, exif=exif(6).tobytes())


def make_folder(root: Path) -> None:
    """The 26 files."""
    scene((1600, 1200)).save(root / "DSC_0001.JPG", "JPEG", quality=90)
    scene((1280, 720), (200, 120, 60)).save(root / "progressive.jpg", progressive=True)
    scene((800, 600)).save(root / "plain.png")
    scene((640, 480), (30, 160, 90)).save(root / "café 東京.png")
    scene((2560, 1600), (240, 240, 240)).save(root / "screenshot.png")
    scene((1000, 750)).save(root / "not_really.png", "JPEG")  # a JPEG named .png
    scene((1024, 768)).save(root / "photo.webp", quality=80)
    heic(root / "IMG_0001.HEIC")
    frames = [Image.new("RGB", (500, 400), c) for c in (RED, BLUE)]
    frames[0].save(root / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    scene((600, 800)).save(root / "scan.bmp")
    pages = [Image.new("RGB", (700, 500), c) for c in (GREEN, (0, 0, 0))]
    pages[0].save(root / "pages.tiff", save_all=True, append_images=pages[1:])
    ramp = Image.linear_gradient("L").resize((512, 512)).convert("I").point(lambda v: v * 257)
    ramp.convert("I;16").save(root / "deep16.png")
    Image.new("CMYK", (800, 600), (0, 230, 230, 20)).save(root / "print_cmyk.jpg", quality=90)
    # stored landscape, red on the left; orientation 6 says: turn 90° clockwise to show it
    halves((1200, 900), RED, BLUE).save(root / "portrait_exif6.jpg", exif=exif(6))
    halves((1200, 900), RED, BLUE).save(root / "upside_down.jpg", exif=exif(3))
    noise_jpeg(root / "big_24mb.jpg", (3000, 2700), 24 * MB)
    huge = Image.new("RGB", (8000, 8000), (90, 140, 200))
    huge.paste(RED, (1000, 1000, 3000, 7000))
    huge.save(root / "huge_8000.jpg", quality=85)
    scene((1800, 600)).save(root / "panorama.jpg")
    scene((400, 1200)).save(root / "tall_strip.png")
    scene((120, 120)).save(root / "tiny.png")
    whole = io.BytesIO()
    scene((900, 700)).save(whole, "JPEG")
    (root / "corrupt.jpg").write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    palette = Image.new("P", (640, 480), 1)
    palette.putpalette([0, 0, 0, *RED] + [0] * (256 * 3 - 6))
    palette.paste(0, (0, 0, 320, 480))  # the left half: index 0, transparent
    palette.save(root / "palette_alpha.png", transparency=0)
    rgba = Image.new("RGBA", (600, 600), (*BLUE, 255))
    rgba.paste((0, 0, 0, 0), (0, 0, 300, 600))
    rgba.save(root / "rgba.png")
    apng = [Image.new("RGB", (640, 480), c) for c in (GREEN, RED)]
    apng[0].save(root / "anim.png", save_all=True, append_images=apng[1:], duration=100)
    scene((900, 700)).convert("L").save(root / "gray.jpg")
    mpo = [Image.new("RGB", (800, 600), c) for c in (BLUE, RED)]
    mpo[0].save(root / "stereo_mpo.jpg", "MPO", save_all=True, append_images=mpo[1:])
