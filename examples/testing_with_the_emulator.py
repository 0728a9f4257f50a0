"""Testing your own code with the emulator's pytest fixture (shipped with kling-async).

    pytest examples/testing_with_the_emulator.py

The fixture is opt-in — installing kling-async adds nothing to other projects' pytest runs:
name the plugin in ``pytest_plugins`` (here, or in your top-level ``conftest.py``), or run
``pytest -p kling_async.emulator.pytest_plugin``.

``kling_emulator`` starts an emulator on 127.0.0.1 for the test and sets KLING_BASE_URL,
KLING_ACCESS_KEY, KLING_SECRET_KEY and KLING_API_KEY; override ``kling_emulator_config`` to
shape it (durations, failures, limits, faults). It works in sync and async tests alike.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import kling_async as kling
from kling_async._samples import sample_paths
from kling_async.emulator import Account, EmulatorConfig, EmulatorThread

pytest_plugins = ["kling_async.emulator.pytest_plugin"]  # the kling_emulator fixture


# -- the code under test: yours --------------------------------------------------------
async def animate_all(images: list[Path], out: Path) -> list[kling.Outcome]:
    """A pipeline of yours: reads KLING_* from the environment like in production."""
    quick = kling.WaitPolicy(first_poll=0.1, min_interval=0.1)
    async with kling.KlingClient(wait=quick) as client:
        jobs = [kling.ImageToVideo(image=p, prompt="hello") for p in images]
        return [o async for o in client.batch(jobs, output_dir=out)]


# -- the tests ---------------------------------------------------------------------------
@pytest.fixture
def kling_emulator_config() -> EmulatorConfig:
    """Fast tasks, one in three failing, a pack of two parallel tasks, random 5000s."""
    return EmulatorConfig(
        accounts=[Account(concurrency_limit=2)],
        duration=(0.1, 0.3),
        failure_rate=0.34,
        faults={"5000": 0.1},
        seed=4,
    )


def test_every_image_gets_an_outcome_and_nothing_is_billed_twice(
    kling_emulator: EmulatorThread, tmp_path: Path
) -> None:
    outcomes = asyncio.run(animate_all(sample_paths(), tmp_path))
    stats = kling_emulator.stats()
    assert len(outcomes) == 3
    assert stats["duplicate_creates"] == 0
    assert stats["max_in_flight"] <= 2
    succeeded = [o for o in outcomes if o.status is kling.OutcomeStatus.SUCCEEDED]
    assert len(succeeded) == stats["tasks_succeeded"]
    assert all(o.path is not None and o.path.exists() for o in succeeded)
