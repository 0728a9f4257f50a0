"""Start and end frames: the video travels from one image to another (``image_tail``).

End frames need pro mode on most models; kling-v1-5 and kling-v1-6 also take an end frame
alone.

    python examples/start_end_frames.py [START] [END] [OUTPUT]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from _client import kling_client

import kling_async as kling
from kling_async._samples import sample_paths


async def main(start: Path, end: Path, output: Path) -> Path:
    request = kling.ImageToVideo(
        image=start,
        image_tail=end,
        prompt="a smooth transition",
        model="kling-v2-1",
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
    start, end, output = (args + [first, second, Path("transition.mp4")][len(args) :])[:3]
    asyncio.run(main(start, end, output))
