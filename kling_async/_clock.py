"""Time, injectable: the system's for real use, a virtual one for tests that must not sleep.

The emulator (``Emulator(config, clock=...)``) and the SDK (``KlingClient(clock=...)``) read
the time and sleep only through a ``Clock``. Give both the same ``VirtualClock`` and a task
that "takes" 30 s, a 30 s first poll or a 2 s retry back-off cost a few milliseconds of real
time, while every rule that depends on time (durations, rate windows, back-off, deadlines)
sees the seconds it expects.

``VirtualClock`` moves only when something waits on it: once every waiter has waited ``tick``
real seconds with no request of a client on the wire (the client holds the clock while it
waits for an answer) and nothing else is ready to run on the loop, it jumps to the earliest
deadline. ``advance(seconds)`` moves it by
hand.
It serves one event loop; the emulator must run in that loop (``Emulator``, not
``EmulatorThread``).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock", "VirtualClock"]


@runtime_checkable
class Clock(Protocol):
    """Where code reads the time and sleeps."""

    def time(self) -> float:
        """Seconds since the epoch (what task timestamps and ``Retry-After`` dates use)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (intervals and deadlines)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        """Wait until ``event`` is set (True) or ``timeout`` of this clock's seconds pass."""
        ...


class SystemClock:
    """The real time: ``time.time``, ``time.monotonic`` and ``asyncio.sleep``."""

    def __repr__(self) -> str:
        return "SystemClock()"

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        if event.is_set():
            return True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, timeout)):
                await event.wait()
        return event.is_set()


SYSTEM_CLOCK = SystemClock()


class VirtualClock:
    """Time that passes only while everything waits on it (see the module docstring).

    ``start`` is the epoch time it shows at first (default: the real time when made); ``tick``
    the real seconds the loop is given to bring new work before the clock jumps to the next
    deadline (``auto=False``: it never jumps by itself, only ``advance`` moves it).
    """

    def __init__(
        self, start: float | None = None, *, tick: float = 0.002, auto: bool = True
    ) -> None:
        if not tick > 0:
            raise ValueError(f"tick: {tick!r} must be a positive number of seconds")
        self._epoch = time.time() if start is None else float(start)
        self._now = 0.0
        self.tick = tick
        self.auto = auto
        self._order = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._driver: asyncio.Task[None] | None = None
        self._holders = 0
        #: How far it has jumped by itself in all (seconds of virtual time).
        self.skipped = 0.0

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now:.3f}, sleepers={len(self._sleepers)})"

    def time(self) -> float:
        return self._epoch + self._now

    def monotonic(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if not seconds > 0:  # 0, negative, NaN: a plain yield, like asyncio.sleep(0)
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        self._start_driver(loop)
        await future  # a cancelled sleeper is skipped when its turn comes

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        if event.is_set():
            return True
        waiter = asyncio.ensure_future(event.wait())
        sleeper = asyncio.ensure_future(self.sleep(timeout))
        try:
            await asyncio.wait((waiter, sleeper), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, sleeper):
                if not task.done():
                    task.cancel()
            await asyncio.gather(waiter, sleeper, return_exceptions=True)
        return event.is_set()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """No jump while held: the client holds it for each request it has on the wire, so an
        answer that takes longer than ``tick`` (a loaded machine) is not overtaken by time."""
        self._holders += 1
        try:
            yield
        finally:
            self._holders -= 1

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` and wake every sleeper now due."""
        if not seconds >= 0:
            raise ValueError(f"seconds: {seconds!r} must be >= 0 (time does not go back)")
        self._now += seconds
        self._wake_due()

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    def _pending(self) -> bool:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)  # cancelled while asleep
        return bool(self._sleepers)

    def _start_driver(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.auto and (self._driver is None or self._driver.done()):
            self._driver = loop.create_task(self._drive(), name="kling-virtual-clock")

    async def _drive(self) -> None:
        """Jump to the earliest deadline whenever a tick of real time brought nothing sooner."""
        loop = asyncio.get_running_loop()
        while self._pending():
            await asyncio.sleep(self.tick)
            if self._holders:
                continue  # a request is on the wire: its answer comes first
            if _runnable(loop):
                # the loop is busy (its ready queue is not empty): CPU work between requests
                # (a batch preparing 16 jobs at once) is not waiting, and time that jumped
                # under it made a C=1000 first wave take 5 virtual seconds
                continue
            if not self._pending():
                return
            deadline = self._sleepers[0][0]
            if deadline > self._now:
                self.skipped += deadline - self._now
                self._now = deadline
            self._wake_due()


def _runnable(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether callbacks wait to run on ``loop`` right now (CPython's loops keep them in
    ``_ready``; a loop without it is taken as idle, as before)."""
    ready = getattr(loop, "_ready", None)
    return bool(ready)
