"""A faithful emulator of the Kling video API, for tests, demos and benchmarks.

>>> async with Emulator(EmulatorConfig(duration=(0.1, 0.3))) as emu:
...     client_env = emu.credentials   # KLING_BASE_URL, KLING_ACCESS_KEY, ...

It follows the late-2026 API on both wires: the legacy one (``/v1/videos/image2video``,
``/v1/videos/text2video``, ``/v1/images/generations``, ``/account/costs``; JWT or API key) and
the new one (``POST /image-to-video/{model}``, ``/text-to-video/{model}``,
``/omni-video/{model}``, ``/motion-control/{model}``, ``GET /tasks``, ``POST /tasks``; API key
only). With them: the capability map (kling-3.0 / kling-v3, kling-3.0-turbo, kling-3.0-omni,
kling-o1, kling-2.6 / kling-v2-6, kling-2.5-turbo / kling-v2-5-turbo, kling-v2-master; image
models kling-v2-1, kling-v3, kling-v3-omni; retired models' tasks fail "discontinued"; unknown
names served on request, ``allow_models``), elements, voices and multi-shot prompts, the task
lifecycle, parallel-task limits per model family (an image task holds ``n`` slots),
request-rate limits, billing in units or in cash at the vendor's prices, callbacks signed per
Standard Webhooks and sent only to allowed hosts, capped request bodies, fault injection, real
or sample result files (with a sound track when the task has audio; PNG images), and counters
at ``GET /__emulator__/stats``. Its rules are its own reading of the vendor's pages: it never
imports the SDK's validation.
"""

from typing import TYPE_CHECKING, Any

from ._config import (
    FAILURE_MESSAGES,
    FAULT_KINDS,
    Account,
    EmulatorConfig,
    UnitCost,
    default_unit_cost,
)

if TYPE_CHECKING:
    from ._render import NO_PYAV
    from ._server import Emulator, EmulatorThread, serve

_SERVER = ("Emulator", "EmulatorThread", "serve")


def __getattr__(name: str) -> Any:
    """The server (aiohttp.web, the handlers) loads on first use: ``kling-async`` commands
    that only read the config, and ``import kling_async.emulator._config``, stay quick."""
    if name in _SERVER:
        from . import _server

        return getattr(_server, name)
    if name == "NO_PYAV":  # what it says when it renders without PyAV (Pillow loads with it)
        from . import _render

        return _render.NO_PYAV
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FAILURE_MESSAGES",
    "FAULT_KINDS",
    "NO_PYAV",
    "Account",
    "Emulator",
    "EmulatorConfig",
    "EmulatorThread",
    "UnitCost",
    "default_unit_cost",
    "serve",
]
