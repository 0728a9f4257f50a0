"""Text to video: a prompt, an aspect ratio and native audio (kling-v2-6, pro).

python examples/text_to_video.py ["PROMPT"] [OUTPUT]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from _client import kling_client, output_arg


async def main(prompt: str, output: Path) -> Path:
    async with kling_client(render=True) as client:
        task = await client.text_to_video.create(
            prompt=prompt,
            model="kling-v2-6",
            mode="pro",
            sound=True,  # native audio: kling-v2-6 in pro (1080p) only
            aspect_ratio="9:16",
            duration=5,
        )
        done = await client.text_to_video.wait(task.task_id)
        path = await client.download(done, output)
    print(f"saved {path} ({done.videos[0].duration} s)")
    return path


if __name__ == "__main__":
    prompt = sys.argv[1] if len(sys.argv) > 1 else "a lantern drifting over a dark lake"
    asyncio.run(main(prompt, output_arg(2, "text.mp4")))
