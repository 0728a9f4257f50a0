"""What every example shares: real Kling when credentials are set, else a local emulator.

    async with kling_client() as client: ...

With ``KLING_ACCESS_KEY``/``KLING_SECRET_KEY`` (or ``KLING_API_KEY``) in the environment the
examples talk to Kling and spend real units; without them they start the emulator in-process
and say so, with what its videos will be: rendered from your images (``render=True``, needs
PyAV: ``pip install 'kling-async[render]'``) or the emulator's bundled sample clip, a small
playable mp4 that is the same picture whatever image you sent.

What they write goes where their command line says, else under ``examples-output/`` in the
current folder (git ignores it).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import kling_async as kling
from kling_async.emulator import Emulator, EmulatorConfig

QUICK_WAIT = kling.WaitPolicy(first_poll=0.5, min_interval=0.25, max_interval=1.0)

#: Where an example writes when its command line names no output: a folder under the current
#: one that git ignores (.gitignore), so a run from the repository leaves ``git status`` clean.
OUTPUT_DIR = Path("examples-output")


def output_arg(position: int, default: str) -> Path:
    """The output (a file or a folder) the command line gives at ``sys.argv[position]``, else
    ``examples-output/<default>``."""
    return Path(sys.argv[position]) if len(sys.argv) > position else OUTPUT_DIR / default


def _emulator_config(**fields: Any) -> tuple[EmulatorConfig, str]:
    """The emulator's config (rendering only where PyAV is installed) and what its videos are."""
    fields.setdefault("duration", (0.5, 1.5))
    asked = bool(fields.get("render"))
    fields["render"] = asked and importlib.util.find_spec("av") is not None
    if fields["render"]:
        return EmulatorConfig(**fields), "its videos are rendered from your images"
    why = "PyAV is not installed" if asked else "render=True animates your images"
    return EmulatorConfig(**fields), f"every video is its sample clip, not your image ({why})"


@contextlib.asynccontextmanager
async def kling_client(**emulator: Any) -> AsyncIterator[kling.KlingClient]:
    if os.environ.get("KLING_API_KEY") or os.environ.get("KLING_ACCESS_KEY"):
        async with kling.KlingClient() as client:
            yield client
        return
    config, videos = await asyncio.to_thread(lambda: _emulator_config(**emulator))  # disk
    async with (
        Emulator(config) as emu,
        kling.KlingClient(
            api_key=emu.credentials["KLING_API_KEY"], base_url=emu.url, wait=QUICK_WAIT
        ) as client,
    ):
        print(f"no KLING_* credentials: a local emulator at {emu.url}; {videos}")
        client.emulator = emu  # type: ignore[attr-defined]  # for the examples' own checks
        yield client
