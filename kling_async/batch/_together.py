"""Run a few coroutines at once, each to its end, in a task group that owns them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable


async def together(steps: Iterable[Awaitable[None]]) -> None:
    """Await every step concurrently; once all have ended, raise the first failure (if any).
    Unlike ``gather``, no step is left running when another fails, and none is unowned."""
    steps = list(steps)
    if len(steps) == 1:  # nothing to run beside it: no task needed
        await steps[0]
        return
    failures: list[Exception] = []

    async def one(step: Awaitable[None]) -> None:
        try:
            await step
        except Exception as exc:  # kept, raised once every step has ended
            failures.append(exc)

    async with asyncio.TaskGroup() as group:
        for step in steps:
            group.create_task(one(step))
    if failures:
        raise failures[0]
