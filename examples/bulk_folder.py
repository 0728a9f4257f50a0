"""A folder of images through ``client.batch``, outcomes printed as they finish.

    python examples/bulk_folder.py [FOLDER] [OUTPUT_DIR]

Run it twice: the second run skips every finished video (the journal in OUTPUT_DIR).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from _client import kling_client, output_arg

import kling_async as kling
from kling_async._samples import SAMPLES_DIR


async def main(folder: Path, out: Path) -> kling.BatchSummary:
    images = await asyncio.to_thread(lambda: sorted(folder.glob("*.png")))  # off the loop
    jobs = [kling.ImageToVideo(image=path, prompt="gentle motion, soft light") for path in images]
    print(f"{len(jobs)} images, about {kling.estimate_units(jobs):g} units")
    async with kling_client() as client:
        run = client.batch(jobs, output_dir=out)
        async for outcome in run:
            print(f"{outcome.status.value:<10} {outcome.name:<12} {outcome.path or outcome.error}")
    print(
        f"done {run.summary.counts['succeeded']}, skipped {run.summary.counts['skipped']}, "
        f"failed {run.summary.counts['failed']}, {run.summary.units:g} units"
    )
    return run.summary


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLES_DIR
    asyncio.run(main(folder, output_arg(2, "videos")))
