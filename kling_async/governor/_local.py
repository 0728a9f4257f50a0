"""``LocalGovernor``: this process alone keeps the account's limits (the default)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Unpack

from .._clock import SYSTEM_CLOCK, Clock
from ._pacer import Pacer
from ._protocol import WindowOptions
from ._window import ConcurrencyWindow


class LocalGovernor:
    """This process alone: a ``Pacer`` per client and a fresh ``ConcurrencyWindow`` per
    family (per batch, and one per client for ``generate()``). The default."""

    def pacer(
        self,
        account: str,
        *,
        max_rate: float | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Clock | None = None,
    ) -> Pacer:
        monotonic = (clock or SYSTEM_CLOCK).monotonic
        return Pacer(max_rate=max_rate, sleep=sleep, clock=monotonic)

    def window(
        self, account: str, family: str, **options: Unpack[WindowOptions]
    ) -> ConcurrencyWindow:
        return ConcurrencyWindow(**options)

    def attach(self) -> None:
        pass

    async def detach(self) -> None:
        pass

    def __repr__(self) -> str:
        return "LocalGovernor()"
