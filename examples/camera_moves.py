"""Camera moves: one image, several presets and a hand-made ``simple`` move.

Camera control on image to video is offered by kling-v1-5, pro, 5 s (the capability map).

    python examples/camera_moves.py [IMAGE] [OUTPUT_DIR]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from _client import kling_client

import kling_async as kling
from kling_async._samples import sample_paths

MOVES = {
    "zoom_in": kling.CameraControl.preset("zoom_in"),
    "pan_left": kling.CameraControl.preset("pan_left", strength=3),
    "tilt_up": kling.CameraControl.preset("tilt_up"),
    "roll": kling.CameraControl.simple(roll=6),  # any one axis, -10..10
}


async def main(image: Path, out: Path) -> dict[str, Path]:
    async with kling_client(render=True) as client:

        async def animate(name: str, move: kling.CameraControl) -> tuple[str, Path]:
            path = await client.image_to_video.generate(
                image=image,
                prompt=f"camera {name}",
                model="kling-v1-5",
                mode="pro",
                duration=5,
                camera_control=move,
                output=out / f"{image.stem}-{name}.mp4",
            )
            print(f"{name:<9} -> {path}")
            return name, path

        return dict(await asyncio.gather(*(animate(n, m) for n, m in MOVES.items())))


if __name__ == "__main__":
    image = Path(sys.argv[1]) if len(sys.argv) > 1 else sample_paths()[0]
    asyncio.run(main(image, Path(sys.argv[2]) if len(sys.argv) > 2 else Path("camera-videos")))
