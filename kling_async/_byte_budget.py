"""``ByteBudget``: bytes held at once by many tasks together, each waiting for room.

The batch bounds the images its creates hold on their way out with one (``batch/_memory``),
the emulator the request bodies it reads with another (``emulator/_bodies``): memory then
follows the budget, not concurrency times size.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class ByteBudget:
    """``async with budget.hold(n):`` waits until ``n`` more bytes fit in ``limit`` (or
    nothing else is held: one holder larger than the whole budget goes alone)."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.held = 0
        #: The most held at once so far.
        self.peak = 0
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def hold(self, size: int) -> AsyncIterator[None]:
        if size <= 0:
            yield
            return
        async with self._changed:
            await self._changed.wait_for(lambda: self.held == 0 or self.held + size <= self.limit)
            self.held += size
            self.peak = max(self.peak, self.held)
        try:
            yield
        finally:
            async with self._changed:
                self.held -= size
                self._changed.notify_all()
