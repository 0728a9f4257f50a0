"""The bundled sample images, drawn in code (the committed PNGs are this module's output)."""

from __future__ import annotations

import random
from importlib.resources import files
from pathlib import Path

from PIL import Image, ImageDraw

SAMPLES_DIR = Path(str(files("kling_async") / "samples"))


def _sky(
    size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]
) -> Image.Image:
    mask = Image.linear_gradient("L").resize(size)
    return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), mask)


def sunset() -> Image.Image:
    img = _sky((768, 432), (40, 30, 90), (250, 150, 70))
    d = ImageDraw.Draw(img)
    d.ellipse((470, 170, 590, 290), fill=(255, 220, 120))
    d.polygon(
        [(0, 300), (180, 230), (360, 310), (560, 250), (768, 320), (768, 432), (0, 432)],
        fill=(60, 40, 70),
    )
    d.polygon(
        [(0, 360), (250, 320), (520, 370), (768, 340), (768, 432), (0, 432)], fill=(35, 25, 45)
    )
    return img


def lighthouse() -> Image.Image:
    img = _sky((432, 648), (110, 170, 230), (200, 230, 250))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 430, 432, 648), fill=(30, 90, 150))
    for y in range(440, 648, 24):
        d.line((20 + y % 50, y, 160 + y % 70, y), fill=(200, 230, 255), width=2)
    d.polygon([(250, 430), (330, 430), (315, 170), (265, 170)], fill=(240, 240, 235))
    for y in (220, 300, 380):
        d.polygon(
            [
                (265 - (y - 170) // 20, y),
                (315 + (y - 170) // 20, y),
                (318 + (y - 170) // 20, y + 30),
                (262 - (y - 170) // 20, y + 30),
            ],
            fill=(200, 40, 40),
        )
    d.rectangle((258, 130, 322, 170), fill=(250, 230, 120))
    d.polygon([(250, 130), (330, 130), (290, 95)], fill=(60, 60, 70))
    d.rectangle((200, 420, 380, 450), fill=(90, 80, 70))
    return img


def planet() -> Image.Image:
    img = Image.new("RGB", (512, 512), (8, 10, 28))
    d = ImageDraw.Draw(img)
    rng = random.Random(42)
    for _ in range(160):
        x, y, r = rng.randrange(512), rng.randrange(512), rng.choice((1, 1, 1, 2))
        shade = rng.randrange(150, 256)
        d.ellipse((x - r, y - r, x + r, y + r), fill=(shade, shade, min(255, shade + 20)))
    body = Image.new("RGB", (220, 220), (210, 120, 60))
    bands = ImageDraw.Draw(body)
    for i, y in enumerate(range(20, 220, 28)):
        bands.line((0, y, 220, y + 10), fill=(180 - i * 8, 90, 50), width=9)
    mask = Image.new("L", (220, 220), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, 219, 219), fill=255)
    img.paste(body, (146, 146), mask)
    d.ellipse((80, 230, 432, 290), outline=(230, 210, 170), width=6)
    return img


DRAWINGS = {"sunset": sunset, "lighthouse": lighthouse, "planet": planet}


def draw_samples(dest: Path = SAMPLES_DIR) -> list[Path]:
    """Draw every sample into ``dest`` as PNG; return their paths."""
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, draw in DRAWINGS.items():
        path = dest / f"{name}.png"
        draw().save(path, optimize=True)
        paths.append(path)
    return paths


def sample_paths() -> list[Path]:
    """The bundled sample images, in a stable order."""
    return [SAMPLES_DIR / f"{name}.png" for name in DRAWINGS]


if __name__ == "__main__":
    for p in draw_samples():
        print(p, p.stat().st_size)
