"""An asyncio pipeline: a producer discovers images, the engine animates them, a consumer
post-processes finished videos, all with back-pressure (bounded queues, a bounded engine).

    python examples/pipeline.py [FOLDER] [OUTPUT_DIR]
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from pathlib import Path

from _client import kling_client, output_arg

import kling_async as kling
from kling_async._samples import SAMPLES_DIR


async def discover(folder: Path, engine: kling.BatchEngine) -> None:
    """Stage 1: feed the engine as images are found; ``submit`` waits when it is busy."""
    for path in await asyncio.to_thread(lambda: sorted(folder.glob("*.png"))):
        await engine.submit(kling.ImageToVideo(image=path, prompt="slow drift"))
    await engine.finish()


async def post_process(
    finished: asyncio.Queue[kling.Outcome | None], report: dict[str, str]
) -> None:
    """Stage 3: here a checksum; in real life a transcode, an upload, a database row."""
    while (outcome := await finished.get()) is not None:
        assert outcome.path is not None
        digest = await asyncio.to_thread(lambda p=outcome.path: hashlib.sha256(p.read_bytes()))
        report[outcome.name] = digest.hexdigest()[:16]
        print(f"post-processed {outcome.name}: sha256 {report[outcome.name]}")


async def main(folder: Path, out: Path) -> dict[str, str]:
    report: dict[str, str] = {}
    finished: asyncio.Queue[kling.Outcome | None] = asyncio.Queue(maxsize=4)
    async with kling_client() as client, kling.BatchEngine(client, out, prefetch=4) as engine:
        consumer = asyncio.create_task(post_process(finished, report))
        producer = asyncio.create_task(discover(folder, engine))
        async for outcome in engine.outcomes():  # stage 2: the engine, as tasks finish
            if outcome.status in (kling.OutcomeStatus.SUCCEEDED, kling.OutcomeStatus.SKIPPED):
                await finished.put(outcome)  # waits while the consumer is behind
            else:
                print(f"{outcome.name} {outcome.status.value}: {outcome.error}")
        await producer
        await finished.put(None)
        await consumer
    return report


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLES_DIR
    asyncio.run(main(folder, output_arg(2, "pipeline-videos")))
