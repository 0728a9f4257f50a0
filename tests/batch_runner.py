"""A batch run in its own process, for the kill -9 tests: ``python tests/batch_runner.py
BASE_URL API_KEY IMAGES_DIR OUT_DIR`` prints one line per outcome."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import kling_async as kling


async def main(base: str, key: str, images: Path, out: Path) -> int:
    jobs = [kling.ImageToVideo(image=p, prompt="drift") for p in sorted(images.glob("*.png"))]
    quick = kling.RetryPolicy(attempts=8, initial_backoff=0.05, max_backoff=0.2, jitter=0.05)
    async with kling.KlingClient(api_key=key, base_url=base, retry=quick) as client:
        poll = kling.PollPolicy(min_interval=0.05)
        async for outcome in client.batch(jobs, output_dir=out, poll=poll):
            print(outcome.name, outcome.status.value, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))))
