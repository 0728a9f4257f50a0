"""Kling's 2026 API through the SDK: the new model-in-path wire (API key only, ``GET /tasks``
batch queries, cursor list), kling-v3 on the legacy wire, both in one batch, prices."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pytest

import kling_async as kling
from kling_async.webhooks import WebhookVerifier

from .._helpers import StartEmulator, fast_client, png, test_account


async def test_generate_on_the_new_api(start_emulator: StartEmulator, tmp_path: Path) -> None:
    emu, _ = await start_emulator()
    image = tmp_path / "cat.png"
    image.write_bytes(png())
    async with fast_client(emu, access_key=None, secret_key=None) as client:
        path = await client.image_to_video.generate(
            image=image, model="kling-3.0-turbo", duration=8, output=tmp_path / "cat.mp4"
        )
    assert path.stat().st_size > 0
    routes = emu.stats()["requests_by_route"]
    assert routes.get("POST /image-to-video/kling-3.0-turbo") == 1
    assert routes.get("GET /tasks", 0) >= 1
    assert not any(r.startswith("POST /v1/") for r in routes), routes


async def test_text_to_video_on_the_new_api(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator()
    async with fast_client(emu) as client:
        task = await client.text_to_video.create(
            prompt="a lighthouse at dusk", model="kling-3.0", mode="pro", duration=12, sound=True
        )
        assert task.wire == "new"
        done = await client.text_to_video.wait(task)
    assert done.succeeded
    assert done.videos
    assert done.units == pytest.approx(1.2 * 12)  # 3.0 1080p with audio, billed on the task
    assert emu.stats()["requests_by_route"].get("POST /text-to-video/kling-3.0") == 1


async def test_new_api_without_an_api_key_fails_before_sending(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    emu, _ = await start_emulator()
    async with fast_client(emu, api_key=None) as client:
        with pytest.raises(kling.ValidationError) as caught:
            await client.image_to_video.create(image=png(), model="kling-3.0-turbo")
        assert "API key" in caught.value.rule
        assert caught.value.field == "model"
        # a legacy name on the new API needs it too; the same name on its own wire does not
        with pytest.raises(kling.ValidationError, match="API key"):
            await client.image_to_video.create(image=png(), model="kling-v3", api="new")
    assert emu.stats()["requests"] == 0


async def test_forced_wires_translate_the_model_name(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator()
    async with fast_client(emu, api="new") as client:
        task = await client.image_to_video.create(image=png(), model="kling-v2-6", mode="pro")
        again = await client.image_to_video.get(task.task_id)  # the client's api: /tasks
    assert task.wire == again.wire == "new"
    async with fast_client(emu) as client:
        legacy = await client.image_to_video.create(
            image=png(), model="kling-2.5-turbo", api="legacy"
        )
    assert legacy.wire == "legacy"
    routes = emu.stats()["requests_by_route"]
    assert routes.get("POST /image-to-video/kling-2.6") == 1
    assert routes.get("POST /v1/videos/image2video") == 1


async def test_batch_query_and_cursor_list(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator()
    async with fast_client(emu) as client:
        created = [
            await client.text_to_video.create(prompt=f"scene {i}", model="kling-3.0-turbo")
            for i in range(25)
        ]
        before = emu.stats()["batch_queries"]
        found = await client.tasks.get_many([t.task_id for t in created] + ["no-such-task"])
        assert emu.stats()["batch_queries"] - before == 2  # 26 ids: 20 + 6
        assert {t.task_id for t in found} == {t.task_id for t in created}
        by_external = await client.tasks.get_many(
            [created[3].external_task_id or ""], by="external_task_ids"
        )
        assert [t.task_id for t in by_external] == [created[3].task_id]
        listed = [t async for t in client.tasks.list(limit=10)]
        assert len(listed) == len({t.task_id for t in listed}) == 25
        with pytest.raises(kling.NotFoundError):
            await client.tasks.get("no-such-task")


async def test_lost_creates_on_the_new_api_are_reconciled(start_emulator: StartEmulator) -> None:
    emu, _ = await start_emulator(seed=7, faults={"lost_create": 0.4})
    async with fast_client(emu) as client:
        for i in range(12):
            await client.text_to_video.create(prompt=f"shot {i}", model="kling-3.0-turbo")
    stats = emu.stats()
    assert stats["faults_injected"].get("lost_create", 0) >= 2
    assert stats["creates"] == 12
    assert stats["duplicate_creates"] == 0


async def test_mixed_batch_of_both_wires(start_emulator: StartEmulator, tmp_path: Path) -> None:
    """300 jobs: legacy kling-v2-6, legacy kling-v3 and new kling-3.0-turbo in one batch."""
    # on the virtual clock: tasks of 2-12 s, the poller's rounds as on a quiet machine whatever
    # the load (with real 0.05-0.3 s tasks, a loaded run shared only 3.9 ids a query)
    emu, _ = await start_emulator(
        account=None,
        duration=(2.0, 12.0),
        accounts=[test_account(concurrency_limit=40)],
        clock=kling.VirtualClock(),
    )
    image = png(480, 360)
    models = [("kling-v2-6", 5), ("kling-v3", 4), ("kling-3.0-turbo", 6)]
    jobs = [
        kling.ImageToVideo(image=image, prompt=f"job {i}", model=m, duration=d)
        for i in range(100)
        for m, d in models
    ]
    async with fast_client(emu) as client:
        run = client.batch(jobs, tmp_path / "out", initial_window=30)
        async with run:
            outcomes = [o async for o in run]
        poller = run.engine.poller
    assert len(outcomes) == 300
    assert {o.status for o in outcomes} == {kling.OutcomeStatus.SUCCEEDED}
    stats = emu.stats()
    assert stats["creates"] == 300
    assert stats["duplicate_creates"] == 0
    routes = stats["requests_by_route"]
    # each model on its own wire; a POST beyond the 300 creates is one the server refused with
    # a 1302/1303 (under load the pacer and window can meet a few), never a second create
    turbo_posts = routes.get("POST /image-to-video/kling-3.0-turbo", 0)
    legacy_posts = routes.get("POST /v1/videos/image2video", 0)
    assert turbo_posts >= 100
    assert legacy_posts >= 200
    refused = stats["rate_limited_1302"] + stats["concurrency_limited_1303"]
    assert turbo_posts + legacy_posts - 300 <= refused
    # new-API tasks polled 20 at a time: never more queries a round than ceil(in flight / 20)
    assert poller.batch_requests == stats["batch_queries"]
    assert poller.batch_requests <= sum(math.ceil(n / 20) for n in poller.batch_rounds)
    assert max(poller.batch_rounds) > 5  # the batches were really shared (due tasks only)
    print(f"\nids per GET /tasks: {stats['batch_query_ids'] / stats['batch_queries']:.1f}")
    assert stats["batch_query_ids"] / stats["batch_queries"] > 5
    # the window is kept per model family
    assert set(run.summary.learned_limits) == {"2.6", "3.0", "3.0-turbo"}


def test_prices_follow_the_vendor_table() -> None:
    def units(**fields: Any) -> float:
        return kling.estimate_units([kling.ImageToVideo(image="x.png", **fields)])

    assert units(model="kling-v2-6", mode="pro", sound=True, duration=10) == 10
    assert units(model="kling-v2-6", mode="pro", sound=True, voices=["v"], duration=5) == 6
    assert units(model="kling-v2-6", mode="std", duration=5) == 1.5
    assert units(model="kling-v2-6", mode="pro", duration=5) == 2.5
    assert units(model="kling-v2-5-turbo", mode="pro", duration=10) == 5
    assert units(model="kling-v3", mode="4k", duration=15) == 45
    assert units(model="kling-v3", mode="std", duration=5) == 3
    assert units(model="kling-v3", mode="pro", sound=True, duration=10) == 12
    assert units(model="kling-3.0-turbo", mode="pro", duration=8) == 8
    assert units(model="kling-3.0-turbo", mode="std", duration=5) == 4


async def test_sdk_and_emulator_prices_agree(start_emulator: StartEmulator) -> None:
    """Each side keeps its own price table; what the emulator bills is what the SDK expects."""
    emu, _ = await start_emulator()
    cases = [
        kling.ImageToVideo(image=png(), model="kling-v2-6", mode="pro", sound=True, duration=10),
        kling.ImageToVideo(image=png(), model="kling-v2-6", mode="pro", sound=True, voices=["v"]),
        kling.ImageToVideo(image=png(), model="kling-v2-5-turbo", mode="std", duration=10),
        kling.ImageToVideo(image=png(), model="kling-v3", mode="4k", duration=7),
        kling.ImageToVideo(image=png(), model="kling-v3", mode="std", sound=True, duration=3),
        kling.ImageToVideo(image=png(), model="kling-3.0-turbo", mode="pro", duration=13),
        kling.ImageToVideo(image=png(), model="kling-2.6", mode="std", duration=5),
    ]
    async with fast_client(emu) as client:
        for request in cases:
            task = await client.image_to_video.create(request)
            done = await client.image_to_video.wait(task)
            assert done.units == pytest.approx(kling.estimate_units([request])), request


async def test_callbacks_of_both_shapes() -> None:
    verifier = WebhookVerifier(None, allow_unsigned=True)
    new = {
        "id": "901",
        "status": "succeeded",
        "message": "",
        "create_time": int(time.time() * 1000) - 5000,
        "update_time": int(time.time() * 1000),
        "external_id": "mine-1",
        "outputs": [
            {"type": "image", "url": "https://x/i.png"},
            {"type": "video", "id": "v1", "url": "https://x/v.mp4", "duration": "5.1"},
        ],
        "billing": [{"charge_type": "unit", "amount": "2.5", "package_type": "video"}],
    }
    task = verifier.verify(json.dumps(new).encode(), {})
    assert (task.task_id, task.wire, task.succeeded, task.units) == ("901", "new", True, 2.5)
    assert task.external_task_id == "mine-1"
    assert [v.url for v in task.videos] == ["https://x/v.mp4"]
    legacy = {
        "task_id": "902",
        "task_status": "succeed",
        "task_info": {"external_task_id": "mine-2"},
        "final_unit_deduction": "5",
        "task_result": {"videos": [{"id": "v2", "url": "https://x/w.mp4", "duration": "5"}]},
    }
    task = verifier.verify(json.dumps(legacy).encode(), {})
    assert (task.task_id, task.wire, task.succeeded, task.units) == ("902", "legacy", True, 5.0)


async def test_engine_completes_new_api_tasks_from_callbacks(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """engine.notify with a new-shape callback ends a new-API task without a poll."""
    emu, _ = await start_emulator(duration=(0.3, 0.4))
    async with fast_client(emu) as client:
        engine = kling.BatchEngine(client, tmp_path, callbacks=True)
        async with engine:
            await engine.submit(kling.TextToVideo(prompt="a fox", model="kling-3.0-turbo"))
            await engine.finish()
            deadline = time.monotonic() + 10
            while not len(engine.poller) and time.monotonic() < deadline:
                await client._transport.sleep(0.02)
            task_id = next(iter(engine.poller._tracked))
            await client._transport.sleep(0.5)
            raw = await client._transport.request(
                "GET", "/tasks", kind="query", params={"task_ids": task_id}, wire="new"
            )
            assert await engine.notify(
                WebhookVerifier(None, allow_unsigned=True).verify(json.dumps(raw[0]).encode(), {})
            )
            outcomes = [o async for o in engine.outcomes()]
    assert [o.status for o in outcomes] == [kling.OutcomeStatus.SUCCEEDED]
    assert emu.stats()["requests_by_route"].get("GET /tasks", 0) <= 2  # reconcile-free, no polls
