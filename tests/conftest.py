"""Fixtures: emulators on 127.0.0.1, port 0, closed at the end of each test."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from kling_async import Clock
from kling_async.emulator import Account, Emulator, EmulatorConfig

from ._helpers import FORK_SERVER_SOCKET, Api, StartEmulator, start_fork_server, test_account

# The users' fixture (kling_emulator), opted in as a user's conftest does.
pytest_plugins = ["kling_async.emulator.pytest_plugin"]


@pytest.fixture(scope="session", autouse=True)
def _cli_fork_server() -> Iterator[None]:
    """The fork server the CLI tests' ``kling-async`` processes come from (tests/_forkserver.py);
    it imports while the first tests run (until then they start ``python -m kling_async``)."""
    server = start_fork_server()
    yield
    server.terminate()
    server.wait(10)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(FORK_SERVER_SOCKET)


@pytest.fixture
async def start_emulator() -> AsyncIterator[StartEmulator]:
    """Start emulators (closed at the end of the test): ``emu, api = await start_emulator(...)``.

    ``clock=kling.VirtualClock()``: the emulator runs on it, and so does ``fast_client(emu)``."""
    started: list[Emulator] = []
    session = aiohttp.ClientSession()

    async def start(
        account: Account | None = None, *, clock: Clock | None = None, **config: Any
    ) -> tuple[Emulator, Api]:
        config.setdefault("duration", (0.05, 0.15))
        config.setdefault("seed", 99)
        config.setdefault("accounts", [account or test_account()])
        emu = await Emulator(EmulatorConfig(**config), clock=clock).start()
        started.append(emu)
        return emu, Api(session, emu.url)

    yield start
    for emu in started:
        await emu.close()
    await session.close()


@pytest.fixture
async def emu_api(start_emulator: StartEmulator) -> tuple[Emulator, Api]:
    return await start_emulator()


# -- the reliability report: campaigns record their figures; printed at the end of the run --
REPORT: dict[str, dict[str, Any]] = {}


@pytest.fixture
def campaign_report() -> dict[str, dict[str, Any]]:
    """Where a campaign test records its figures (faults injected, jobs, duplicates...)."""
    return REPORT


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under pytest-xdist, a worker hands its campaigns' figures to the controller."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["campaign_report"] = json.dumps(REPORT, default=str)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """The controller gathers what each worker's campaigns recorded: a campaign whose
    tests ran on several workers (the never-hangs matrix) adds up their counts."""
    gathered = json.loads(getattr(node, "workeroutput", {}).get("campaign_report", "{}"))
    for name, figures in gathered.items():
        REPORT[name] = _added(REPORT[name], figures) if name in REPORT else figures


def _added(mine: Any, theirs: Any) -> Any:
    if isinstance(mine, dict) and isinstance(theirs, dict):
        keys = [*mine, *(k for k in theirs if k not in mine)]
        return {
            k: _added(mine[k], theirs[k])
            if k in mine and k in theirs
            else mine.get(k, theirs.get(k))
            for k in keys
        }
    numbers = (int, float)
    if isinstance(mine, numbers) and isinstance(theirs, numbers) and not isinstance(mine, bool):
        return mine + theirs
    return theirs


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not REPORT:
        return
    terminalreporter.section("reliability campaigns")
    for name, figures in REPORT.items():
        shown = ", ".join(f"{k} {v}" for k, v in figures.items())
        terminalreporter.write_line(f"{name}: {shown}")


# A real redis-server (for the shared governor, job store and workers): see tests/_redis_server.py.
from ._redis_server import redis_server  # noqa: E402,F401
