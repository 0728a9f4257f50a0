"""The local concurrency window: how many tasks a batch keeps in flight, learned from 1303."""

from __future__ import annotations

import asyncio
from collections import deque

from .._retry import backoff


class ConcurrencyWindow:
    """How many tasks may be in flight: learned from 1303, probed upward now and then.

    ``limit`` starts small (``initial``, or the user's ``cap`` if lower) and, like TCP's slow
    start, grows by two with every create the server accepts *while the window is full* (a
    window that in-flight tasks do not reach says nothing about the account, so it does not
    grow), until the first 1303. That 1303 sets it to what was in flight at the time: the
    learned limit. From then on, after ``probe_every`` completions of a full window, it tries
    one more; the probe's first 1303 snaps it back to the learned limit and doubles the wait
    before the next probe (up to ``max_probe_every``), while a probe that is accepted raises
    the learned limit (a pack upgraded mid-batch is found) — until a 1303 for a create that
    fills the widened window shows the room was a task that ended unseen: back to the limit
    before it, probing half as often. Any other 1303 is a stray (another client took a slot)
    and only sends its job back to the front of the line — unless 1303s keep coming (the
    create before it was refused too, or a quarter of the last 20 were): then the limit drops
    to what is in flight, and probing starts again at its base pace. A slot is
    taken before a create and released when the task's end is detected.
    """

    def __init__(
        self,
        *,
        initial: int = 4,
        cap: int | None = None,
        probe_every: int = 20,
        max_probe_every: int = 640,
        condition: asyncio.Condition | None = None,
    ) -> None:
        self.cap = cap
        self.limit = min(initial, cap) if cap is not None else initial
        self.in_flight = 0
        #: Slots taken for creates that have no answer yet.
        self.unanswered = 0
        self.probe_every = probe_every
        self._base_probe_every = probe_every
        #: Probes refused since ``probe_every`` was last at its base.
        self._probes_refused = 0
        self.max_probe_every = max_probe_every
        self._since_probe = 0
        self._probing = False
        #: The learned limit an accepted probe replaced (until a 1303 confirms or undoes it).
        self._before_probe: int | None = None
        #: Notified on every change; several windows (one per model family) may share one.
        self._changed = condition or asyncio.Condition()
        self.limited = 0  # 1303s seen
        self.probes = 0  # probes tried
        self.learned: int | None = None
        self._answers: deque[bool] = deque(maxlen=20)  # True: a create refused with 1303

    async def acquire(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1

    async def reserve(self, count: int = 1) -> None:
        """Wait for room (``has_room``), then ``take`` the slots for a create: call
        ``answered`` once it has its answer (what the dispatcher does, for one caller)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.has_room(count))
            self.take(count)

    def has_room(self, count: int = 1) -> bool:
        """``count`` slots are free (a task of ``n`` images holds ``n``); a task that needs
        more than the limit may go when nothing else of the family is in flight, else it
        would wait forever. While the limit is unknown, creates not yet answered are also
        kept to the number of tasks already accepted (at least 4) — slow start doubles per
        round trip, no faster: the first 1303 then finds few creates on their way, each of
        which would be one more 1303."""
        if self.in_flight + count > self.limit and (count == 1 or self.in_flight > 0):
            return False
        if self.learned is None:
            return self.unanswered < max(4, self.in_flight - self.unanswered)
        return True

    def take(self, count: int = 1) -> None:
        """Take ``count`` slots that ``has_room`` said are free (the caller holds the
        condition) for a create; call ``answered`` once it has its answer, whatever it is."""
        self.in_flight += count
        self.unanswered += count

    async def answered(self, count: int = 1) -> None:
        """The create of slots taken with ``take`` has its answer (or failed)."""
        async with self._changed:
            self.unanswered -= count
            self._changed.notify_all()

    async def accepted(self) -> None:
        """A create went through: while the limit is unknown and the window is full, it grows
        by one (doubling per round trip); a probe that got through becomes the new limit."""
        self._answers.append(False)
        full = self.in_flight >= self.limit
        if self.learned is None:
            if full:  # one slot for the task it started, one more: doubling per round trip
                async with self._changed:
                    self._raise(self.limit + 2)
                    self._changed.notify_all()
        elif self._probing and full:
            # got through at one more — though a task that ended unseen may have made the
            # room: keep it, remembering the limit it replaced (see ``over_limit``)
            self._probing = False
            self._before_probe = self.learned
            self.learned = self.limit

    async def force_acquire(self, count: int = 1) -> None:
        """Count a task that is already running on the server (resumed from the journal)."""
        async with self._changed:
            self.in_flight += count

    async def release(self, *, completed: bool = True, count: int = 1) -> None:
        """The task of ``count`` slots ended (or its create never went)."""
        async with self._changed:
            self.in_flight -= count
            if (
                completed
                and self.learned is not None
                and not self._probing
                and self.in_flight + count >= self.limit
            ):
                self._since_probe += 1  # a full window drained one: time to probe?
                if self._since_probe >= self.probe_every and (
                    self.cap is None or self.limit < self.cap
                ):
                    self._since_probe = 0
                    self._probing = True
                    self.probes += 1
                    self._raise(self.limit + 1)
            self._changed.notify_all()

    async def close(self) -> None:
        """Nothing to give back: this window lives in this process only (the shared one of
        ``RedisGovernor`` returns its leases here)."""

    def _probe_later(self) -> None:
        """A probe found no more room: the next waits twice as long, up to the most."""
        self._probes_refused += 1
        self.probe_every = int(
            backoff(
                self._probes_refused + 1,
                initial=self._base_probe_every,
                cap=self.max_probe_every,
            )
        )

    def _raise(self, value: int) -> None:
        self.limit = min(value, self.cap) if self.cap is not None else value

    async def over_limit(self, count: int = 1) -> None:
        """A create got 1303: the account holds no more than what is in flight now (this
        create's own ``count`` slots excluded)."""
        async with self._changed:
            self.limited += 1
            self.in_flight -= count
            if self._probing and self.learned is not None:
                # the probe found the limit where it was: back at once, probe later
                self._probing = False
                self.limit = self.learned
                self._probe_later()
                self._since_probe = 0
                self._changed.notify_all()
                return
            if self._before_probe is not None and self.in_flight + count >= self.limit:
                # refused as it filled a window a probe had widened: that probe's success
                # was an unseen end, not a bigger pack — back to the limit before it
                self.limit = self.learned = self._before_probe
                self._before_probe = None
                self._probe_later()
                self._since_probe = 0
                self._changed.notify_all()
                return
            again = bool(self._answers) and self._answers[-1]
            self._answers.append(True)
            refused = sum(self._answers)
            first = self.learned is None  # the first 1303 ends slow start: overshoot is costly
            if first or again or (refused >= 3 and refused >= len(self._answers) / 4):
                self.limit = max(1, self.in_flight)
                self.learned = self.limit
                self._before_probe = None
                self._since_probe = 0
                self.probe_every = self._base_probe_every  # a lowered limit: look up again soon
                self._probes_refused = 0
                self._answers.clear()
            self._changed.notify_all()
