"""Prompts to images to videos, in one asyncio pipeline: each prompt becomes an image
(``client.images``), and each image goes on at once to image to video (a ``BatchEngine``),
while the other prompts are still being drawn. Bounded queues keep every stage in step.

    python examples/prompts_to_videos.py [OUTPUT_DIR]

Writes ``images/<name>.png`` and ``videos/<name>.mp4`` under OUTPUT_DIR
(``examples-output/prompts-to-videos`` by default). A second run makes no video again (the
engine's journal); its images are drawn again unless already there.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from _client import kling_client, output_arg

import kling_async as kling

PROMPTS = {
    "lighthouse": "a lighthouse on a cliff at dusk, warm light, wide shot",
    "kite": "a red kite above a green hill, bright morning",
    "harbour": "a quiet harbour with fishing boats at dawn, mist",
}
#: Image tasks at once (each holds a slot of the account's parallel-task limit).
DRAWERS = 2


async def draw(
    client: kling.KlingClient,
    prompts: asyncio.Queue[tuple[str, str] | None],
    images: Path,
    engine: kling.BatchEngine,
) -> None:
    """Stage 1: a prompt to an image, handed to the engine as soon as it is on disk."""
    while (item := await prompts.get()) is not None:
        name, prompt = item
        path = images / f"{name}.png"
        if not await asyncio.to_thread(path.exists):
            task = await client.images.create(kling.ImageGeneration(prompt=prompt, n=1))
            task = await client.images.wait(task)
            await client.download(task.images[0].url, path)  # via a .part, then renamed
            print(f"drew {name}: task {task.task_id}")
        # stage 2 starts now; ``submit`` waits while the engine has enough on hand
        await engine.submit(kling.ImageToVideo(image=path, prompt="a slow camera push-in"))


async def main(out: Path) -> list[kling.Outcome]:
    images = out / "images"
    await asyncio.to_thread(lambda: images.mkdir(parents=True, exist_ok=True))
    prompts: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue()
    for item in PROMPTS.items():
        prompts.put_nowait(item)
    for _ in range(DRAWERS):
        prompts.put_nowait(None)  # one stop a drawer
    outcomes: list[kling.Outcome] = []
    async with (
        kling_client() as client,
        kling.BatchEngine(client, out / "videos", prefetch=4) as engine,
    ):

        async def draw_all() -> None:
            try:
                async with asyncio.TaskGroup() as group:
                    for _ in range(DRAWERS):
                        group.create_task(draw(client, prompts, images, engine))
            finally:
                await engine.finish()  # no more videos will come (the loop below ends)

        drawing = asyncio.create_task(draw_all())
        async for outcome in engine.outcomes():  # stage 2's ends, as they come
            outcomes.append(outcome)
            print(f"video {outcome.name}: {outcome.status.value} -> {outcome.path}")
        await drawing
    return outcomes


if __name__ == "__main__":
    asyncio.run(main(output_arg(1, "prompts-to-videos")))
