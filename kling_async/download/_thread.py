"""Hand-offs to a worker thread, and waiting for them even through a cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def in_thread(fn: Callable[..., T], *args: object) -> asyncio.Future[T]:
    """``fn(*args)`` handed to the loop's default executor (no context copy: plain OS work)."""
    return asyncio.get_running_loop().run_in_executor(None, fn, *args)


async def settle(job: asyncio.Future[T], on_cancel: Callable[[], object] | None = None) -> T:
    """The result of work already handed to a worker thread, waited for even through a
    cancellation: a thread cannot be stopped, and returning early would let it go on writing
    into a descriptor that is being closed (or, once closed, reused for another file). A
    cancellation calls ``on_cancel`` (a hint the work may heed), and is re-raised as soon as
    the work is done; it is never swallowed."""
    cancelled: asyncio.CancelledError | None = None
    while not job.done():
        try:
            await asyncio.wait([job])  # unlike awaiting it, never cancels the job
        except asyncio.CancelledError as exc:
            cancelled = exc
            if on_cancel is not None:
                on_cancel()
    if cancelled is not None:
        if not job.cancelled():
            job.exception()  # retrieved: the cancellation wins over the job's own failure
        raise cancelled
    return job.result()
