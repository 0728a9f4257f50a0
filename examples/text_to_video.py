"""Text to video: a prompt, an aspect ratio, and optionally a built-in camera move.

python examples/text_to_video.py ["PROMPT"] [OUTPUT]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from _client import kling_client

import kling_async as kling


async def main(prompt: str, output: Path) -> Path:
    async with kling_client(render=True) as client:
        task = await client.text_to_video.create(
            prompt=prompt,
            aspect_ratio="9:16",
            duration=5,
            camera_control=kling.CameraControl("forward_up"),
        )
        done = await client.text_to_video.wait(task.task_id)
        path = await client.download(done, output)
    print(f"saved {path} ({done.videos[0].duration} s)")
    return path


if __name__ == "__main__":
    prompt = sys.argv[1] if len(sys.argv) > 1 else "a lantern drifting over a dark lake"
    asyncio.run(main(prompt, Path(sys.argv[2]) if len(sys.argv) > 2 else Path("text.mp4")))
