"""A faithful emulator of the Kling video API, for tests, demos and benchmarks.

>>> async with Emulator(EmulatorConfig(duration=(0.1, 0.3))) as emu:
...     client_env = emu.credentials   # KLING_BASE_URL, KLING_ACCESS_KEY, ...

It follows the legacy API (``/v1/videos/image2video``, ``/v1/videos/text2video``,
``/account/costs``): JWT and API-key auth, the documented validation and capability map, the
task lifecycle, parallel-task and request-rate limits, a resource pack balance, callbacks signed
per Standard Webhooks, fault injection, real or filler result files, and counters at
``GET /__emulator__/stats``.
"""

from ._config import FAILURE_MESSAGES, FAULT_KINDS, Account, EmulatorConfig, default_unit_cost
from ._server import Emulator, EmulatorThread, serve

__all__ = [
    "FAILURE_MESSAGES",
    "FAULT_KINDS",
    "Account",
    "Emulator",
    "EmulatorConfig",
    "EmulatorThread",
    "default_unit_cost",
    "serve",
]
