"""The pytest plugin users get: a running emulator and KLING_* in the environment."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kling_async.emulator import EmulatorConfig, EmulatorThread

from .._helpers import run_pytest


@pytest.fixture
def kling_emulator_config() -> EmulatorConfig:
    """Overriding the config fixture changes the emulator, as the README shows."""
    return EmulatorConfig(duration=(0.05, 0.1), failure_rate=1.0, seed=5)


def test_plugin_is_loaded_where_opted_in(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.has_plugin("kling_async.emulator.pytest_plugin")


def test_plugin_is_not_loaded_in_projects_that_did_not_ask(tmp_path: Path) -> None:
    """Installing kling-async must not import it (aiohttp.web, PIL) into every pytest run."""
    (tmp_path / "test_other.py").write_text(
        "import sys\n"
        "def test_nothing_of_ours(pytestconfig):\n"
        "    assert not pytestconfig.pluginmanager.has_plugin(\n"
        "        'kling_async.emulator.pytest_plugin')\n"
        "    assert sorted(m for m in sys.modules if m.startswith('kling_async')) == []\n"
        "    assert 'aiohttp.web' not in sys.modules\n"
    )
    run_pytest("test_other.py", tmp_path, timeout=60)


def test_fixture_serves_a_sync_test(kling_emulator: EmulatorThread) -> None:
    assert os.environ["KLING_BASE_URL"] == kling_emulator.url
    assert kling_emulator.url.startswith("http://127.0.0.1:")

    async def run() -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {os.environ['KLING_API_KEY']}"}
        base = os.environ["KLING_BASE_URL"]
        async with aiohttp.ClientSession(headers=headers) as s:
            body = {"model_name": "kling-v2-6", "image": "https://x.test/a.png"}
            async with s.post(f"{base}/v1/videos/image2video", json=body) as r:
                task_id = (await r.json())["data"]["task_id"]
            for _ in range(100):
                async with s.get(f"{base}/v1/videos/image2video/{task_id}") as r:
                    task: dict[str, Any] = (await r.json())["data"]
                if task["task_status"] in ("succeed", "failed"):
                    return task
                await asyncio.sleep(0.02)
        raise AssertionError("task did not end")

    task = asyncio.run(run())
    assert task["task_status"] == "failed"  # the overridden config's failure_rate
    stats = kling_emulator.stats()
    assert (stats["creates"], stats["tasks_failed"]) == (1, 1)
    kling_emulator.reset()
    assert kling_emulator.stats()["creates"] == 0


async def test_fixture_serves_an_async_test(kling_emulator: EmulatorThread) -> None:
    kling_emulator.inject("5001", route="list")
    headers = {"Authorization": f"Bearer {os.environ['KLING_API_KEY']}"}
    url = f"{kling_emulator.url}/v1/videos/image2video"
    async with aiohttp.ClientSession(headers=headers) as s, s.get(url) as r:
        assert (r.status, (await r.json())["code"]) == (503, 5001)
