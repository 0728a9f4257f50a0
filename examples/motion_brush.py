"""Motion brush: a mask marks what moves, a trajectory says where it goes.

Trajectories are in input-image pixels with Kling's origin at the bottom-left;
``DynamicMask.from_top_left`` converts the usual top-left coordinates. Masks must share one
resolution and the image's aspect ratio. Offered by kling-v1 (std/pro 5 s) and kling-v1-5
(pro 5 s).

    python examples/motion_brush.py [OUTPUT]
"""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path

from _client import kling_client
from PIL import Image, ImageDraw

import kling_async as kling
from kling_async._samples import sample_paths


def mask_for(image: Path, box: tuple[int, int, int, int]) -> bytes:
    """A black mask of the image's size with a white box: the area that moves."""
    with Image.open(image) as img:
        mask = Image.new("L", img.size, 0)
    ImageDraw.Draw(mask).rectangle(box, fill=255)
    buf = io.BytesIO()
    mask.save(buf, format="PNG")
    return buf.getvalue()


async def main(output: Path) -> Path:
    image = sample_paths()[0]  # the sunset, 768 x 432
    with Image.open(image) as img:
        height = img.height
    sun = kling.DynamicMask.from_top_left(
        mask_for(image, (470, 170, 590, 290)),
        [(530, 230), (530, 260), (530, 300)],  # the sun sinks: y grows downwards on screen
        image_height=height,
    )
    request = kling.ImageToVideo(
        image=image,
        dynamic_masks=[sun],
        prompt="the sun sets",
        model="kling-v1",
        mode="std",
        duration=5,
    )
    print("trajectory in Kling's coordinates:", [(p.x, p.y) for p in sun.trajectories])
    async with kling_client(render=True) as client:
        path = await client.image_to_video.generate(request, output=output)
    print(f"saved {path}")
    return path


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("motion-brush.mp4")))
