"""Kling's new API: kling-3.0-turbo (a model only it serves), and 20 tasks in one query.

The new API puts the model in the path (``POST /image-to-video/kling-3.0-turbo``) and takes
only an API key (``KLING_API_KEY``). The SDK picks it from the model's name; requests are
written exactly as for the legacy models. ``client.tasks`` queries up to 20 tasks a request.

    python examples/new_api.py [IMAGE_FOLDER] [OUTPUT_DIR]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from _client import kling_client, output_arg

from kling_async._samples import sample_paths


async def main(images: list[Path], out: Path) -> list[Path]:
    async with kling_client(render=True) as client:
        source = {}
        for image in images:
            task = await client.image_to_video.create(
                image=image, model="kling-3.0-turbo", mode="pro", duration=8
            )
            source[task.task_id] = image
        print(f"created {len(source)} tasks on the {task.wire} API")
        pending = set(source)
        done = []
        for _ in range(600):  # at most ~5 minutes
            found = await client.tasks.get_many(pending)  # one request per 20 ids
            for task in found:
                if task.is_final:
                    pending.discard(task.task_id)
                    done.append(task)
                    print(f"  {task.task_id} {task.status.value} ({task.units} units)")
            if not pending:
                break
            await asyncio.sleep(0.5)
        paths = [
            await client.download(task, out / f"{source[task.task_id].stem}.mp4")
            for task in done
            if task.succeeded
        ]
    for path in paths:
        print(f"saved {path}")
    return paths


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    images = sorted(folder.glob("*.png")) if folder else sample_paths()
    asyncio.run(main(images, output_arg(2, "turbo-videos")))
