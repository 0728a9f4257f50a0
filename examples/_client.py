"""What every example shares: real Kling when credentials are set, else a local emulator.

    async with kling_client() as client: ...

With ``KLING_ACCESS_KEY``/``KLING_SECRET_KEY`` (or ``KLING_API_KEY``) in the environment the
examples talk to Kling and spend real units; without them they start the emulator in-process.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import kling_async as kling
from kling_async.emulator import Emulator, EmulatorConfig

QUICK_WAIT = kling.WaitPolicy(first_poll=0.5, min_interval=0.25, max_interval=1.0)


@contextlib.asynccontextmanager
async def kling_client(**emulator: Any) -> AsyncIterator[kling.KlingClient]:
    if os.environ.get("KLING_API_KEY") or os.environ.get("KLING_ACCESS_KEY"):
        async with kling.KlingClient() as client:
            yield client
        return
    emulator.setdefault("duration", (0.5, 1.5))
    async with (
        Emulator(EmulatorConfig(**emulator)) as emu,
        kling.KlingClient(
            api_key=emu.credentials["KLING_API_KEY"], base_url=emu.url, wait=QUICK_WAIT
        ) as client,
    ):
        client.emulator = emu  # type: ignore[attr-defined]  # for the examples' own checks
        yield client
