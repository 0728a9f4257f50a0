"""Parallel-task limit (1303), request rate (1302), units (1102), unique external ids."""

from __future__ import annotations

import asyncio
import email.utils
import time
from typing import Any

import pytest

from .._helpers import Api, StartEmulator, test_account


async def test_parallel_task_limit_holds_a_slot_until_the_task_ends(
    start_emulator: StartEmulator,
) -> None:
    emu, api = await start_emulator(test_account(concurrency_limit=2), duration=(0.3, 0.3))
    assert (await api.create())[0] == 200
    assert (await api.create())[0] == 200
    status, body = await api.create()
    assert (status, body["code"]) == (429, 1303)
    assert body["message"].startswith("parallel task over resource pack limit")
    assert "2 of 2" in body["message"]
    assert emu.stats()["in_flight"] == {"test-access-key": 2}
    assert emu.stats()["in_flight_by_family"] == {"test-access-key": {"2.6": 2}}
    await asyncio.sleep(0.35)  # both ended: slots free, the next create goes through
    assert (await api.create())[0] == 200
    stats = emu.stats()
    assert stats["errors_by_code"] == {"1303": 1}
    assert stats["concurrency_limited_1303"] == 1
    assert (stats["creates"], stats["create_requests"], stats["max_in_flight"]) == (3, 4, 2)
    assert stats["max_in_flight_by_family"] == {"2.6": 2}


async def test_failed_tasks_free_their_slot_too(start_emulator: StartEmulator) -> None:
    _emu, api = await start_emulator(test_account(concurrency_limit=1), failure_rate=1.0)
    _, created = await api.create()
    await api.wait(created["data"]["task_id"])
    assert (await api.create())[0] == 200


@pytest.mark.parametrize("mode", ["seconds", "date", "none"])
async def test_rate_limit_answers_1302(start_emulator: StartEmulator, mode: str) -> None:
    emu, api = await start_emulator(rate_limit=2.0, rate_burst=2.0, retry_after=mode)
    answers = [await api.call("GET", "/v1/videos/image2video") for _ in range(3)]
    assert [a[0] for a in answers] == [200, 200, 429]
    _, body, headers = answers[2]
    assert body["code"] == 1302
    if mode == "seconds":
        assert headers["Retry-After"] == "1"
    elif mode == "date":
        when = email.utils.parsedate_to_datetime(headers["Retry-After"]).timestamp()
        assert time.time() < when <= time.time() + 2.5
    else:
        assert "Retry-After" not in headers
    await asyncio.sleep(0.55)  # one token back at 2 per second
    assert (await api.call("GET", "/v1/videos/image2video"))[0] == 200
    assert emu.stats()["rate_limited_1302"] == 1


async def test_rate_limit_is_per_account_and_spares_downloads(
    start_emulator: StartEmulator,
) -> None:
    other = test_account(access_key="b", secret_key="b" * 40, api_keys=("key-b",))
    _emu, api = await start_emulator(accounts=[test_account(), other], rate_limit=1.0)
    assert (await api.call("GET", "/v1/videos/image2video"))[0] == 200
    assert (await api.call("GET", "/v1/videos/image2video"))[0] == 429
    assert (await api.call("GET", "/v1/videos/image2video", auth="Bearer key-b"))[0] == 200


async def test_units_run_out_with_1102(start_emulator: StartEmulator) -> None:
    emu, api = await start_emulator(test_account(units=3.5), duration=(0.1, 0.1))
    assert (await api.create())[0] == 200  # kling-v2-6 std 5 s: 1.5 units
    assert (await api.create())[0] == 200
    status, body = await api.create()
    assert (status, body["code"]) == (429, 1102)
    assert "0.5 units left" in body["message"]
    assert "needs 1.5" in body["message"]
    await asyncio.sleep(0.15)  # both succeeded: charged for good
    assert (await api.create())[0] == 429
    costs = await _costs(api)
    assert (costs["total_quantity"], costs["remaining_quantity"]) == (3.5, 0.5)
    stats = emu.stats()
    assert (stats["units_charged"], stats["creates"], stats["errors_by_code"]) == (
        3,
        2,
        {"1102": 2},
    )


async def _costs(api: Api) -> dict[str, Any]:
    now = int(time.time() * 1000)
    status, body, _ = await api.call(
        "GET", "/account/costs", params={"start_time": now - 86_400_000, "end_time": now}
    )
    assert (status, body["code"]) == (200, 0)
    packs = body["data"]["resource_pack_subscribe_infos"]
    assert len(packs) == 1
    return packs[0]  # type: ignore[no-any-return]


async def test_failed_task_gives_its_units_back(start_emulator: StartEmulator) -> None:
    emu, api = await start_emulator(test_account(units=1.5), failure_rate=1.0)
    _, created = await api.create()
    assert (await _costs(api))["remaining_quantity"] == 0
    await api.wait(created["data"]["task_id"])
    assert (await _costs(api))["remaining_quantity"] == 1.5
    assert emu.stats()["units_charged"] == 0


async def test_account_costs_needs_its_time_window(emu_api: tuple[Any, Api]) -> None:
    _, api = emu_api
    status, body, _ = await api.call("GET", "/account/costs", params={"end_time": 5})
    assert (status, body["code"]) == (400, 1201)
    assert "start_time" in body["message"]
    status, body, _ = await api.call(
        "GET", "/account/costs", params={"start_time": 10, "end_time": 5}
    )
    assert "end_time" in body["message"]


async def test_external_task_id_is_unique_per_account(start_emulator: StartEmulator) -> None:
    other = test_account(access_key="b", secret_key="b" * 40, api_keys=("key-b",))
    emu, api = await start_emulator(accounts=[test_account(), other])
    assert (await api.create(external_task_id="same"))[0] == 200
    status, body = await api.create(external_task_id="same", prompt="something else")
    assert (status, body["code"]) == (400, 1201)
    assert "external_task_id" in body["message"]
    assert "'same'" in body["message"]
    assert "already exists" in body["message"]
    status, body, _ = await api.call(
        "POST",
        "/v1/videos/image2video",
        auth="Bearer key-b",
        json={
            "model_name": "kling-v2-6",
            "image": "https://x.test/a.png",
            "external_task_id": "same",
        },
    )
    assert status == 200
    assert emu.stats()["creates"] == 2


async def test_duplicate_creates_count_the_same_content_sent_again(
    emu_api: tuple[Any, Api],
) -> None:
    emu, api = emu_api
    await api.create(prompt="a", external_task_id="1")
    await api.create(prompt="a", external_task_id="2")  # a blind resend under a new id
    await api.create(prompt="b", external_task_id="3")
    stats = emu.stats()
    assert (stats["creates"], stats["duplicate_creates"]) == (3, 1)
