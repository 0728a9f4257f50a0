"""The ``--listen`` receiver in-process, against a batch on the emulator: a forged or unsigned
callback for a task of the run is refused (401) and ends nothing; the signed ones end it."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path

import aiohttp

import kling_async as kling
from kling_async.cli._listen import CallbackReceiver
from kling_async.emulator._callbacks import sign  # private: the emulator's signer, to forge

from .._helpers import StartEmulator, fast_client

SECRET = "whsec_" + base64.b64encode(b"listen-test-secret-32-bytes-long").decode()
FORGER = "whsec_" + base64.b64encode(b"another-secret-of-thirty-two-b!!").decode()
VIDEO_BYTES = 1500


async def test_forged_and_unsigned_callbacks_are_refused_and_end_no_job(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator(
        duration=(1.5, 2.0), video_bytes=VIDEO_BYTES, webhook_secret=SECRET
    )
    seen: list[str] = []
    heard = asyncio.Event()
    async with CallbackReceiver(("127.0.0.1", 0), SECRET) as receiver:
        url = receiver.callback_url("http://127.0.0.1:{port}/kling")
        jobs = [
            kling.ImageToVideo(image=f"https://img.test/{i}.png", callback_url=url)
            for i in range(3)
        ]
        slow = kling.PollPolicy(min_interval=30, max_interval=30)  # no fallback poll in time
        async with fast_client(emu) as client:
            run = client.batch(jobs, tmp_path / "out", callbacks=True, poll=slow)
            engine = run.engine

            async def sink(task: kling.Task) -> bool:
                seen.append(task.task_id)
                heard.set()
                return await engine.notify(task)

            receiver.feed(sink)
            async with run:
                collecting = asyncio.create_task(_collect(run))
                # a task id heard (its signed 'submitted' callback): forged deliveries claim
                # it succeeded, long before it can have
                await asyncio.wait_for(heard.wait(), 5)
                forged = await _forge(seen[0], url)
                outcomes = await asyncio.wait_for(collecting, 30)
    assert forged == [401, 401, 401]  # forged, unsigned, forged in the new shape
    assert receiver.refused == 3
    assert [o.status for o in outcomes] == [kling.OutcomeStatus.SUCCEEDED] * 3
    for outcome in outcomes:  # the emulator's video, not the forger's
        assert outcome.path is not None
        assert outcome.path.stat().st_size == VIDEO_BYTES
    assert receiver.ended == 3
    stats = emu.stats()
    assert stats["list_queries"] + stats["single_queries"] == 0  # ended by callbacks alone


async def _collect(run: kling.BatchRun) -> list[kling.Outcome]:
    return [outcome async for outcome in run]


async def _forge(task_id: str, url: str) -> list[int]:
    """Three deliveries saying ``task_id`` succeeded with the forger's video: signed with
    another secret, unsigned, and signed with another secret in the new shape; their
    answers' statuses."""
    forged: list[int] = []
    legacy = {
        "task_id": task_id,
        "task_status": "succeed",
        "created_at": 1,
        "updated_at": 2,
        "task_result": {"videos": [{"id": "v", "url": "https://evil.test/v.mp4", "duration": "5"}]},
    }
    new = {
        "id": task_id,
        "status": "succeeded",
        "create_time": 1,
        "update_time": 2,
        "outputs": [{"type": "video", "id": "v", "url": "https://evil.test/v.mp4"}],
    }
    async with aiohttp.ClientSession() as session:
        for body, secret in ((legacy, FORGER), (legacy, None), (new, FORGER)):
            raw = json.dumps(body).encode()
            headers = {"Content-Type": "application/json"}
            if secret is not None:
                stamp = int(time.time())
                headers |= {
                    "webhook-id": f"msg_forged_{len(forged)}",
                    "webhook-timestamp": str(stamp),
                    "webhook-signature": sign(secret, f"msg_forged_{len(forged)}", stamp, raw),
                }
            async with session.post(url, data=raw, headers=headers) as answer:
                forged.append(answer.status)
    return forged
