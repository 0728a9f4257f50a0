"""``kling-async emulator --allow-model NAME --billing cash --callback-host H``: the command line
reaches the config, in a process of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from ._client import KEY
from ._process import emulator_process


@pytest.fixture
def cli_emulator() -> Iterator[str]:
    options = ["--duration", "0.05:0.05", "--allow-model", "kling-4.0"]
    options += ["--allow-model", "kling-4.0-turbo", "--billing", "cash", "--currency", "CNY"]
    with emulator_process(*options, "--callback-host", "127.0.0.1:9") as url:
        yield url


async def test_allow_model_billing_and_callback_hosts_options(cli_emulator: str) -> None:
    base = cli_emulator
    payload: dict[str, Any] = {
        "prompt": "a long prompt " * 500,  # 7,000 characters
        "settings": {"duration": 25, "aspect_ratio": "21:9", "resolution": "1080p"},
    }
    headers = {"Authorization": KEY}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as s:
        for model, code, port in (
            ("kling-4.0", 0, 9),
            ("kling-4.0-turbo", 0, 10),
            ("kling-5.0", 1203, 9),
        ):
            payload["options"] = {"callback_url": f"http://127.0.0.1:{port}/kling"}
            async with s.post(f"{base}/text-to-video/{model}", json=payload, headers=headers) as r:
                answer = await r.json()
            assert answer["code"] == code, (model, answer)
        for _ in range(200):  # bounded: 10 s
            async with s.post(f"{base}/tasks", json={}, headers=headers) as r:
                page = (await r.json())["data"]["result"]
            if page and all(t["status"] == "succeeded" for t in page):
                break
            await asyncio.sleep(0.05)
        async with s.get(f"{base}/__emulator__/stats") as r:
            stats = await r.json()
    assert len(page) == 2
    for task in page:
        (billing,) = task["billing"]
        assert (billing["charge_type"], billing["currency"]) == ("cash", "CNY")
    # only 127.0.0.1:9 is allowed (the option replaces the loopback default): the task calling
    # back to port 10 is refused its callbacks, the other's are attempted (nothing listens)
    assert stats["callbacks_refused"] == 1
