"""One image to one video, awaited from an async app.

Runs against the embedded emulator unless KLING_ACCESS_KEY/KLING_SECRET_KEY (or KLING_API_KEY)
are set, in which case it talks to real Kling and spends real units.

    python examples/quickstart.py [IMAGE] [OUTPUT]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from _client import kling_client, output_arg

from kling_async._samples import sample_paths


async def main(image: Path, output: Path) -> Path:
    async with kling_client(render=True) as client:
        task = await client.image_to_video.create(
            image=image,
            prompt="the sun sinks slowly behind the hills",
            model="kling-v2-6",  # the legacy API; "kling-3.0-turbo" goes to the new one
            mode="pro",
            duration=5,
        )
        print(f"submitted {task.task_id} (external id {task.external_task_id})")
        done = await client.image_to_video.wait(
            task, on_progress=lambda t: print(f"  {t.status.value}")
        )
        path = await client.download(done, output)
        print(f"saved {path} ({done.videos[0].duration} s, {done.units} units)")
        return path


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else sample_paths()[0]
    target = output_arg(2, "quickstart.mp4")
    asyncio.run(main(source, target))
