"""Pytest fixtures for testing your own code against the emulator (opt-in).

Load it where you want it — ``pytest_plugins = ["kling_async.emulator.pytest_plugin"]`` in
your top-level ``conftest.py`` (or a test module), or ``pytest -p
kling_async.emulator.pytest_plugin`` — and nothing of kling-async is imported elsewhere.

    def test_my_pipeline(kling_emulator):
        run_my_pipeline(base_url=kling_emulator.url, **kling_emulator.credentials)
        assert kling_emulator.stats()["duplicate_creates"] == 0

Override ``kling_emulator_config`` to change the emulator (limits, durations, faults). The
emulator runs in a thread of its own, so the fixture serves sync and async tests alike, under
any event loop plugin.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._config import EmulatorConfig
from ._server import EmulatorThread


@pytest.fixture
def kling_emulator_config() -> EmulatorConfig:
    """The emulator's configuration: quick tasks, sample clips, 5 parallel per model family."""
    return EmulatorConfig(duration=(0.2, 0.5), seed=1234)


@pytest.fixture
def kling_emulator(
    kling_emulator_config: EmulatorConfig, monkeypatch: pytest.MonkeyPatch
) -> Iterator[EmulatorThread]:
    """A running emulator on 127.0.0.1 with ``KLING_*`` set in the environment to reach it."""
    with EmulatorThread(kling_emulator_config) as emu:
        for name, value in emu.credentials.items():
            monkeypatch.setenv(name, value)
        yield emu
