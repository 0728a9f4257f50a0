"""A storyboard: one kling-v3 video cut into shots, each with its own prompt and length.

kling-v3 (Kling 3.0 on the legacy API) makes 3 to 15 s videos in std (720p), pro (1080p) or 4k,
and takes up to 6 shots whose durations add up to the video's. The SDK checks all of that
before anything is sent, and prices it: 4k costs 3 units a second.

    python examples/multi_shot.py [IMAGE] [OUTPUT]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from _client import kling_client, output_arg

import kling_async as kling
from kling_async._samples import sample_paths

SHOTS = [
    kling.Shot("a wide shot of the lighthouse at dusk", 4),
    kling.Shot("the lamp turns on and sweeps the sea", 3),
    kling.Shot("a close-up of waves breaking on the rocks", 2),
]


async def main(image: Path, output: Path) -> Path:
    request = kling.ImageToVideo(
        image=image,
        model="kling-v3",
        mode="4k",
        duration=sum(shot.duration for shot in SHOTS),
        multi_prompt=SHOTS,
        sound=True,
    )
    plan = await kling.validate(request)
    units = kling.estimate_units([request])
    print(f"{len(SHOTS)} shots, {request.duration} s, {plan.wire} API, about {units:g} units")
    async with kling_client(render=True) as client:
        path = await client.image_to_video.generate(request, output=output)
    print(f"saved {path}")
    return path


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else sample_paths()[1]
    target = output_arg(2, "storyboard.mp4")
    asyncio.run(main(source, target))
