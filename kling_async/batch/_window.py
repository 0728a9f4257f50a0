"""The concurrency window: how many tasks a batch keeps in flight, learned from 1303."""

from __future__ import annotations

import asyncio
from collections import deque


class ConcurrencyWindow:
    """How many tasks may be in flight: learned from 1303, probed upward now and then.

    ``limit`` starts at ``initial`` (or the user's ``cap``) and, like TCP's slow start, grows
    by one with every create the server accepts, until the first 1303. That 1303, and any
    later one that is not a stray (the create before it was refused too, or a quarter of the
    last 20 were), sets it to what was in flight at the time; from then on it grows by one
    after ``probe_every`` completions of a full window, so a pack upgraded mid-batch is
    found. A stray 1303 only
    sends its job back to the front of the line. A slot is taken before a create and released
    when the task's end is detected.
    """

    def __init__(
        self,
        *,
        initial: int = 8,
        cap: int | None = None,
        probe_every: int = 20,
        condition: asyncio.Condition | None = None,
    ) -> None:
        self.cap = cap
        self.limit = min(initial, cap) if cap is not None else initial
        self.in_flight = 0
        self.probe_every = probe_every
        self._since_probe = 0
        #: Notified on every change; several windows (one per model family) may share one.
        self._changed = condition or asyncio.Condition()
        self.limited = 0  # 1303s seen
        self.learned: int | None = None
        self._answers: deque[bool] = deque(maxlen=20)  # True: a create refused with 1303

    async def acquire(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1

    def has_room(self) -> bool:
        return self.in_flight < self.limit

    def take(self) -> None:
        """Take a slot that ``has_room`` said is free (the caller holds the condition)."""
        self.in_flight += 1

    async def accepted(self) -> None:
        """A create went through: while the limit is unknown, the window doubles per round."""
        self._answers.append(False)
        if self.learned is None:
            async with self._changed:
                self._raise(self.limit + 1)
                self._changed.notify_all()

    async def force_acquire(self) -> None:
        """Count a task that is already running on the server (resumed from the journal)."""
        async with self._changed:
            self.in_flight += 1

    async def release(self, *, completed: bool = True) -> None:
        async with self._changed:
            self.in_flight -= 1
            if completed and self.learned is not None and self.in_flight + 1 >= self.limit:
                self._since_probe += 1  # a full window drained one: time to probe?
                if self._since_probe >= self.probe_every:
                    self._since_probe = 0
                    self._raise(self.limit + 1)
            self._changed.notify_all()

    def _raise(self, value: int) -> None:
        self.limit = min(value, self.cap) if self.cap is not None else value

    async def over_limit(self) -> None:
        """A create got 1303: the account holds no more than what is in flight now (this
        create's own slot excluded)."""
        async with self._changed:
            self.limited += 1
            self.in_flight -= 1
            again = bool(self._answers) and self._answers[-1]
            self._answers.append(True)
            refused = sum(self._answers)
            first = self.learned is None  # the first 1303 ends slow start: overshoot is costly
            if first or again or (refused >= 3 and refused >= len(self._answers) / 4):
                self.limit = max(1, self.in_flight)
                self.learned = self.limit
                self._since_probe = 0
                self._answers.clear()
            self._changed.notify_all()
