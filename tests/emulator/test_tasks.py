"""Task lifecycle, bodies field for field, queries by id and external id, list paging."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from kling_async.emulator import FAILURE_MESSAGES

from .._helpers import Api, StartEmulator, test_account


async def test_lifecycle_and_bodies_field_for_field(start_emulator: StartEmulator) -> None:
    emu, api = await start_emulator(duration=(0.4, 0.4), queue_fraction=0.25)
    before = int(time.time() * 1000)
    status, created = await api.create(external_task_id="job-1", prompt="blink")
    assert status == 200
    assert (created["code"], created["message"]) == (0, "SUCCEED")
    data = created["data"]
    assert set(data) == {"task_id", "task_status", "task_info", "created_at", "updated_at"}
    assert isinstance(data["task_id"], str)
    assert data["task_id"].isdigit()
    assert data["task_status"] == "submitted"
    assert data["task_info"] == {"external_task_id": "job-1"}
    assert before - 5 <= data["created_at"] <= int(time.time() * 1000) + 5  # milliseconds

    _, first = await api.get(data["task_id"])
    assert first["data"]["task_status"] == "submitted"
    await asyncio.sleep(0.2)
    _, mid = await api.get(data["task_id"])
    assert mid["data"]["task_status"] == "processing"
    assert mid["data"]["updated_at"] == data["created_at"] + 100
    assert "task_result" not in mid["data"]

    task = await api.wait(data["task_id"])
    assert task["task_status"] == "succeed"
    assert task["task_status_msg"] == ""
    assert task["updated_at"] == data["created_at"] + 400
    assert task["final_unit_deduction"] == "1.5"  # kling-v2-6 std 5 s: 0.3 per second
    video = task["task_result"]["videos"][0]
    assert set(video) == {"id", "url", "watermark_url", "duration"}
    assert video["duration"] == "5.1"
    assert isinstance(video["duration"], str)
    assert video["url"].startswith(emu.url + "/")
    assert video["url"].endswith(".mp4")

    stats = emu.stats()
    assert stats["tasks_succeeded"] == 1
    assert stats["duration_sum"] == pytest.approx(0.4, abs=0.01)
    assert stats["duration_max"] == pytest.approx(0.4, abs=0.01)


async def test_failed_task_looks_like_the_real_one(start_emulator: StartEmulator) -> None:
    emu, api = await start_emulator(failure_rate=1.0)
    _, created = await api.create()
    task = await api.wait(created["data"]["task_id"])
    status, envelope = await api.get(created["data"]["task_id"])
    assert (status, envelope["code"], envelope["message"]) == (200, 0, "SUCCEED")
    assert task["task_status"] == "failed"
    assert task["task_status_msg"] in FAILURE_MESSAGES
    assert task["task_result"] == {}
    assert task["final_unit_deduction"] == "0"
    assert emu.stats()["tasks_failed"] == 1


@pytest.mark.parametrize(
    ("kind", "model"),
    [
        ("image2video", "kling-v1"),
        ("image2video", "kling-v1-5"),
        ("image2video", "kling-v1-6"),
        ("text2video", "kling-v1"),
        ("text2video", "kling-v2-1"),
        ("text2video", "kling-v2-1-master"),
    ],
)
async def test_retired_models_are_accepted_then_fail(
    start_emulator: StartEmulator, kind: str, model: str
) -> None:
    emu, api = await start_emulator(test_account(units=100.0))
    status, created = await api.create(kind, model_name=model, prompt="a cat", mode="pro")
    assert (status, created["code"]) == (200, 0), created
    task = await api.wait(created["data"]["task_id"], kind=kind)
    assert task["task_status"] == "failed"
    assert task["task_status_msg"] == (
        f"The model '{model}' has been discontinued and is no longer available."
    )
    assert task["task_result"] == {}
    assert task["final_unit_deduction"] == "0"
    stats = emu.stats()
    assert (stats["tasks_failed"], stats["units_charged"], stats["units_left"]) == (
        1,
        0,
        {"test-access-key": 100.0},  # refunded
    )


async def test_query_by_task_id_or_external_id(emu_api: tuple[Any, Api]) -> None:
    _, api = emu_api
    _, created = await api.create(external_task_id="my-own-id")
    task_id = created["data"]["task_id"]
    _, by_id = await api.get(task_id)
    _, by_ext = await api.get("my-own-id")
    assert by_id["data"]["task_id"] == by_ext["data"]["task_id"] == task_id
    status, missing = await api.get("no-such-task")
    assert (status, missing["code"]) == (400, 1201)
    assert missing["message"] == "Task not found by id/external id"
    assert "data" not in missing
    status, other_kind = await api.get(task_id, kind="text2video")
    assert (status, other_kind["code"]) == (400, 1201)


async def test_list_pages_newest_first(emu_api: tuple[Any, Api]) -> None:
    emu, api = emu_api
    ids = []
    for i in range(7):
        _, created = await api.create(external_task_id=f"t{i}")
        ids.append(created["data"]["task_id"])
    await api.create("text2video", prompt="not in the image list")
    pages = []
    for page in (1, 2, 3, 4):
        status, body, _ = await api.call(
            "GET", "/v1/videos/image2video", params={"pageNum": page, "pageSize": 3}
        )
        assert status == 200
        assert isinstance(body["data"], list)
        pages.append([t["task_id"] for t in body["data"]])
    newest_first = list(reversed(ids))
    assert pages == [newest_first[0:3], newest_first[3:6], newest_first[6:7], []]
    _, default, _ = await api.call("GET", "/v1/videos/image2video")
    assert [t["task_id"] for t in default["data"]] == newest_first
    assert emu.stats()["list_queries"] == 5


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"pageSize": 501}, "pageSize"),
        ({"pageSize": 0}, "pageSize"),
        ({"pageNum": 0}, "pageNum"),
        ({"pageNum": 1001}, "pageNum"),
        ({"pageNum": "two"}, "pageNum"),
    ],
)
async def test_list_rejects_bad_paging(
    emu_api: tuple[Any, Api], params: dict[str, Any], field: str
) -> None:
    _, api = emu_api
    status, body, _ = await api.call("GET", "/v1/videos/image2video", params=params)
    assert (status, body["code"]) == (400, 1201)
    assert field in body["message"]


async def test_text2video_lifecycle(emu_api: tuple[Any, Api]) -> None:
    _, api = emu_api
    status, created = await api.create("text2video", prompt="waves", duration="10", mode="pro")
    assert status == 200
    task = await api.wait(created["data"]["task_id"], kind="text2video")
    assert task["task_status"] == "succeed"
    assert task["final_unit_deduction"] == "5"  # kling-v2-6 pro silent 10 s: 0.5 per second
    assert task["task_result"]["videos"][0]["duration"] == "10.1"


async def test_duration_fn_decides_each_tasks_duration(start_emulator: StartEmulator) -> None:
    seen: list[tuple[str, str | None, str]] = []

    def draw(rng: Any, model: str, mode: str | None, duration: str) -> float:
        seen.append((model, mode, duration))
        return 0.1 if duration == "5" else 0.3

    emu, api = await start_emulator(duration_fn=draw)
    await api.create(duration="5")
    await api.create(duration="10", model_name="kling-v2-master")
    await asyncio.sleep(0.4)
    stats = emu.stats()
    assert seen == [("kling-v2-6", "std", "5"), ("kling-v2-master", None, "10")]
    assert stats["duration_sum"] == pytest.approx(0.4, abs=0.01)
    assert stats["duration_max"] == pytest.approx(0.3, abs=0.01)


async def test_unknown_paths_answer_1202(emu_api: tuple[Any, Api]) -> None:
    _, api = emu_api
    status, body, _ = await api.call("POST", "/v1/videos/image-to-video", json={})
    assert (status, body["code"]) == (404, 1202)
    assert "image-to-video" in body["message"]
    status, body, _ = await api.call("DELETE", "/tasks")
    assert (status, body["code"]) == (404, 1202)
