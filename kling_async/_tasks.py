"""Stopping a task of one's own without swallowing one's own cancellation."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait until it has ended. Its ``CancelledError`` is the expected
    end and is not raised; the caller's own cancellation (it was cancelled while waiting)
    is, as are the task's other exceptions."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
