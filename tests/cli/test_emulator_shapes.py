"""Workload shapes for benchmarks: a duration mixture, and every drawn duration in the stats."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator

import aiohttp
import click
import pytest

from kling_async.cli._emulator_cmd import _duration_mix
from kling_async.emulator import EmulatorConfig

from .._helpers import CLI, StartEmulator, test_account
from ..emulator._process import emulator_process

FAST, SLOW = (0.01, 0.02), (5.0, 6.0)


async def test_duration_mix_draws_every_component_by_weight(
    start_emulator: StartEmulator,
) -> None:
    mix = ((3.0, *FAST), (1.0, *SLOW))  # weights need not sum to 1
    emu, api = await start_emulator(duration_mix=mix)
    for _ in range(80):
        assert (await api.create())[0] == 200
    durations = emu.stats()["durations"]
    assert len(durations) == 80
    fast = [d for d in durations if FAST[0] <= d <= FAST[1] + 1e-4]
    slow = [d for d in durations if SLOW[0] <= d <= SLOW[1] + 1e-4]
    assert len(fast) + len(slow) == 80  # every draw lies in one component
    assert 40 <= len(fast) <= 75  # about three quarters (seeded: the same every run)


async def test_same_seed_same_mixture_draws(start_emulator: StartEmulator) -> None:
    mix = ((0.9, 1.0, 2.0), (0.1, 10.0, 20.0))
    draws = []
    for _ in range(2):
        emu, api = await start_emulator(duration_mix=mix, seed=5)
        for _ in range(20):
            await api.create()
        draws.append(emu.stats()["durations"])
    assert draws[0] == draws[1]
    assert len(draws[0]) == 20


async def test_durations_are_in_creation_order_and_match_each_task(
    start_emulator: StartEmulator,
) -> None:
    emu, api = await start_emulator(duration=(0.05, 0.3))
    ids = []
    for _ in range(6):
        _, body = await api.create()
        ids.append(body["data"]["task_id"])
    durations = emu.stats()["durations"]  # known at create, before any task ended
    assert len(durations) == 6
    for ident, seconds in zip(ids, durations, strict=True):
        task = await api.wait(ident)
        held = (task["updated_at"] - task["created_at"]) / 1000  # ms on the wire
        assert abs(held - seconds) < 0.003


async def test_only_accepted_creates_are_recorded_and_reset_forgets_them(
    start_emulator: StartEmulator,
) -> None:
    emu, api = await start_emulator(test_account(concurrency_limit=1), duration=(5.0, 5.0))
    assert (await api.create())[0] == 200
    status, body = await api.create()
    assert (status, body["code"]) == (429, 1303)
    stats = emu.stats()
    assert stats["durations"] == [5.0]
    assert stats["creates"] == 1
    emu.reset()
    assert emu.stats()["durations"] == []


async def test_create_times_are_kept_from_the_first_accepted_create(
    start_emulator: StartEmulator,
) -> None:
    emu, api = await start_emulator(test_account(concurrency_limit=2), duration=(5.0, 5.0))
    assert (await api.create())[0] == 200
    await asyncio.sleep(0.05)
    assert (await api.create())[0] == 200
    assert (await api.create())[1]["code"] == 1303  # refused: no time kept
    created = emu.stats()["created"]
    assert len(created) == 2
    assert created[0] == 0.0
    assert 0.05 <= created[1] < 2.0
    emu.reset()
    assert emu.stats()["created"] == []


def test_the_durations_list_is_compact_in_memory() -> None:
    from kling_async.emulator._stats import Stats  # private: its memory layout is what is tested

    stats = Stats()
    for i in range(10_000):
        stats.durations.append(i / 7)
    assert stats.durations.itemsize * len(stats.durations) == 80_000  # 8 bytes a task
    assert stats.as_dict()["durations"][7] == 1.0


@pytest.mark.parametrize(
    "mix",
    [
        (),
        ((0.0, 1.0, 2.0),),
        ((-1.0, 1.0, 2.0),),
        ((1.0, 3.0, 2.0),),
        ((1.0, -1.0, 2.0),),
        ((1.0, 1.0),),
    ],
)
def test_bad_duration_mix_is_refused(mix: tuple[tuple[float, ...], ...]) -> None:
    with pytest.raises(ValueError, match="duration_mix"):
        EmulatorConfig(duration_mix=mix)  # type: ignore[arg-type]


def test_duration_mix_option_parses() -> None:
    assert _duration_mix(None, None, "0.9:1:2,0.1:10:20") == ((0.9, 1.0, 2.0), (0.1, 10.0, 20.0))
    assert _duration_mix(None, None, "1:0.5:0.5") == ((1.0, 0.5, 0.5),)
    assert _duration_mix(None, None, None) is None
    for bad in ("0.9:1", "a:1:2", "0:1:2", "1:2:1", "1:1:2,"):
        with pytest.raises(click.BadParameter):
            _duration_mix(None, None, bad)


def test_bad_duration_mix_option_exits_2() -> None:
    done = subprocess.run(
        [*CLI, "emulator", "--duration-mix", "1:3:2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "--duration-mix" in done.stderr
    assert "0 <= min <= max" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture
def mix_emulator() -> Iterator[str]:
    """`kling-async emulator --duration-mix ...` in its own process; yields its base URL."""
    mix = ("--duration-mix", "1:0.25:0.25,1:0.5:0.5", "--concurrency-limit", "0")
    with emulator_process("--seed", "1", *mix, api_key="mix-key") as url:
        yield url


async def test_cli_duration_mix_reaches_the_served_stats(mix_emulator: str) -> None:
    """The draws come from the mixture; GET /__emulator__/stats serves them as a JSON list."""
    base = mix_emulator
    assert base.startswith("http://127.0.0.1:")
    body = {"model_name": "kling-v2-6", "image": "https://x.test/a.png"}
    auth = {"Authorization": "Bearer mix-key"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
        for _ in range(12):
            async with s.post(f"{base}/v1/videos/image2video", json=body, headers=auth) as r:
                assert (await r.json())["code"] == 0
        async with s.get(f"{base}/__emulator__/stats") as r:
            stats = await r.json()
    assert len(stats["durations"]) == stats["creates"] == 12
    assert set(stats["durations"]) == {0.25, 0.5}
