"""Start and end frames: the video travels from one image to another (``image_tail``).

kling-v3 takes an end frame in every mode (std, pro, 4k); kling-v2-6 and kling-v2-5-turbo in
pro (1080p) only, and kling-v2-6 only silent. No model of Kling's 2026 map takes an end frame
without a start frame, and kling-3.0-turbo takes none.

    python examples/start_end_frames.py [START] [END] [OUTPUT]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from _client import kling_client, output_arg

import kling_async as kling
from kling_async._samples import sample_paths


async def main(start: Path, end: Path, output: Path) -> Path:
    request = kling.ImageToVideo(
        image=start,
        image_tail=end,
        prompt="a smooth transition",
        model="kling-v2-6",
        mode="pro",
        duration=5,
    )
    await kling.validate(request)  # the rules are checked before anything is sent
    async with kling_client(render=True) as client:
        path = await client.image_to_video.generate(request, output=output)
    print(f"saved {path}")
    return path


if __name__ == "__main__":
    first, second = sample_paths()[:2]
    args = [Path(a) for a in sys.argv[1:4]]
    start, end, output = (args + [first, second, output_arg(3, "transition.mp4")][len(args) :])[:3]
    asyncio.run(main(start, end, output))
