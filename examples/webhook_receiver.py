"""Completion by callback: Kling POSTs each status change to your receiver; the batch engine
finishes tasks from verified callbacks and polls only as a slow fallback.

Against real Kling the receiver must be reachable from the internet: set
KLING_CALLBACK_URL (its public URL) and KLING_WEBHOOK_SECRET (whsec_..., from your account).
Without credentials the example runs on the emulator, which signs its callbacks.

    python examples/webhook_receiver.py [FOLDER] [OUTPUT_DIR]
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import sys
from pathlib import Path

from _client import kling_client, output_arg
from aiohttp import web

import kling_async as kling
from kling_async._samples import SAMPLES_DIR
from kling_async.webhooks import webhook_handler


async def main(folder: Path, out: Path, port: int = 0) -> dict[str, int]:
    secret = os.environ.get("KLING_WEBHOOK_SECRET") or (
        "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    )
    seen = {"callbacks": 0}
    engine_box: list[kling.BatchEngine] = []

    async def on_task(task: kling.Task) -> None:  # called only for verified deliveries
        seen["callbacks"] += 1
        await engine_box[0].notify(task)

    app = web.Application()
    app.router.add_post("/kling", webhook_handler(on_task, secret))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    local = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/kling"  # type: ignore[union-attr]
    callback_url = os.environ.get("KLING_CALLBACK_URL", local)
    print(f"receiving callbacks at {callback_url}")
    images = await asyncio.to_thread(lambda: sorted(folder.glob("*.png")))  # off the loop
    jobs = [kling.ImageToVideo(image=p, prompt="waves", callback_url=callback_url) for p in images]
    fallback = kling.PollPolicy(max_interval=30)
    try:
        async with kling_client(webhook_secret=secret) as client:
            engine = kling.BatchEngine(client, out, callbacks=True, poll=fallback)
            engine_box.append(engine)
            async with engine:
                for job in jobs:
                    await engine.submit(job)
                await engine.finish()
                async for outcome in engine.outcomes():
                    print(
                        f"{outcome.status.value:<10} {outcome.name} {outcome.path or outcome.error}"
                    )
            seen["polls"] = engine.poller.list_requests + engine.poller.single_requests
    finally:
        await runner.cleanup()
    print(f"{seen['callbacks']} verified callbacks, {seen['polls']} fallback polls")
    return seen


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLES_DIR
    asyncio.run(main(folder, output_arg(2, "hook-videos")))
