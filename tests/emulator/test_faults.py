"""Each fault kind, scheduled and by probability, seen from a real client."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from kling_async.emulator import EmulatorConfig

from .._helpers import Api, StartEmulator


@pytest.mark.parametrize(
    ("kind", "http"), [("5000", 500), ("5001", 503), ("5002", 504), ("1302", 429), ("1303", 429)]
)
async def test_error_faults_answer_their_code_and_create_nothing(
    emu_api: tuple[Any, Api], kind: str, http: int
) -> None:
    emu, api = emu_api
    emu.inject(kind, route="create")
    status, body = await api.create(external_task_id="x")
    assert (status, body["code"]) == (http, int(kind))
    assert (await api.create(external_task_id="x"))[0] == 200  # the schedule is used up
    stats = emu.stats()
    assert (stats["creates"], stats["faults_injected"]) == (1, {kind: 1})


async def test_drop_closes_the_connection_before_any_answer(emu_api: tuple[Any, Api]) -> None:
    emu, api = emu_api
    emu.inject("drop", route="create")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.create(external_task_id="dropped")
    status, body = await api.get("dropped")
    assert (status, body["code"]) == (400, 1201)  # nothing was created
    assert emu.stats()["creates"] == 0


async def test_lost_create_creates_the_task_but_loses_the_answer(emu_api: tuple[Any, Api]) -> None:
    emu, api = emu_api
    emu.inject("lost_create")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.create(external_task_id="lost-one")
    status, body = await api.get("lost-one")  # the way back: look it up by external id
    assert (status, body["code"]) == (200, 0)
    assert body["data"]["task_info"]["external_task_id"] == "lost-one"
    assert emu.stats()["creates"] == 1


async def test_slow_holds_the_answer(start_emulator: StartEmulator) -> None:
    emu, api = await start_emulator(slow_seconds=0.3)
    emu.inject("slow", route="list")
    started = time.monotonic()
    status, _, _ = await api.call("GET", "/v1/videos/image2video")
    assert status == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    await api.call("GET", "/v1/videos/image2video")
    assert time.monotonic() - started < 0.3


async def test_truncate_cuts_a_download_short(emu_api: tuple[Any, Api]) -> None:
    emu, api = emu_api
    emu.config.video_bytes = 300_000  # filler, several chunks long
    _, created = await api.create()
    task = await api.wait(created["data"]["task_id"])
    url = task["task_result"]["videos"][0]["url"]
    emu.inject("truncate")
    received = bytearray()
    announced: list[int | None] = []

    async def download() -> None:
        async with api.session.get(url) as r:
            announced.append(r.content_length)
            async for chunk in r.content.iter_chunked(65536):
                received.extend(chunk)

    with pytest.raises(aiohttp.ClientPayloadError):
        await download()
    assert announced == [emu.config.video_bytes]
    assert 0 < len(received) < emu.config.video_bytes
    async with api.session.get(url) as r:
        assert len(await r.read()) == emu.config.video_bytes


async def test_fault_probabilities_are_drawn_per_request(start_emulator: StartEmulator) -> None:
    emu, api = await start_emulator(faults={"5000": 0.3, "5002": 0.2})
    statuses = [(await api.call("GET", "/v1/videos/image2video"))[0] for _ in range(200)]
    injected = emu.stats()["faults_injected"]
    assert statuses.count(500) == injected["5000"]
    assert statuses.count(504) == injected["5002"]
    assert 30 <= injected["5000"] <= 90  # about 60 of 200
    assert 15 <= injected["5002"] <= 65  # about 40 of the rest
    assert statuses.count(200) == 200 - injected["5000"] - injected["5002"]


def test_fault_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        EmulatorConfig(faults={"explode": 0.1})
    with pytest.raises(ValueError, match=r"faults\['drop'\]: probability 2"):
        EmulatorConfig(faults={"drop": 2})


async def test_scheduled_faults_are_checked(emu_api: tuple[Any, Api]) -> None:
    emu, _ = emu_api
    with pytest.raises(ValueError, match="cannot hit 'create'"):
        emu.inject("truncate", route="create")
    with pytest.raises(ValueError, match="unknown fault"):
        emu.inject("explode")
