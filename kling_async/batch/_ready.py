"""The ready line: prepared jobs waiting for a slot, in order, and the back-pressure that
keeps the preparers a bounded step ahead of what the windows take."""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Iterator

from ._slots import Slots
from ._work import Work


class ReadyLine:
    def __init__(self, changed: asyncio.Condition, slots: Slots) -> None:
        #: Notified whenever the line or a window changes (every window shares it).
        self.changed = changed
        self._jobs: deque[Work] = deque()
        #: How many ready jobs each family has (a full window of the only family waiting
        #: answers "none may go" without a look at every ready job).
        self._families: Counter[str] = Counter()
        #: Preparers waiting for room in the line (see ``wait_for_room``).
        self._room_waiters: deque[asyncio.Future[None]] = deque()
        self._slots = slots

    def __len__(self) -> int:
        return len(self._jobs)

    def __iter__(self) -> Iterator[Work]:
        return iter(self._jobs)

    def first(self) -> Work:
        return self._jobs[0]

    @property
    def families(self) -> int:
        """How many model families have jobs in the line."""
        return len(self._families)

    def put(self, work: Work, *, first: bool = False) -> None:
        """Into the line: at its end, or ``first`` (a job a 1303 sent back, next in line)."""
        if first:
            self._jobs.appendleft(work)
        else:
            self._jobs.append(work)
        self._families[work.family] += 1

    def take(self, work: Work) -> None:
        """Out of the line (dispatched): wakes as many waiting preparers as there is room for."""
        self._jobs.remove(work)
        family = work.family
        self._families[family] -= 1
        if self._families[family] <= 0:
            del self._families[family]
        room, waiters = self.room(), self._room_waiters
        while room > 0 and waiters:
            waiter = waiters.popleft()
            if not waiter.done():  # a cancelled preparer's future is skipped
                waiter.set_result(None)
                room -= 1

    def first_with_room(self) -> Work | None:
        """The first job whose family's window has room for it. Only families with work
        waiting are asked (asking a shared window for room takes a slot ahead), each for its
        first job's slots (an image job may need more than one)."""
        slots = self._slots
        waiting: dict[str, Work] = {}
        for work in self._jobs:
            waiting.setdefault(work.family, work)
        open_families = {f for f, w in waiting.items() if slots.of(w).has_room(slots.count(w))}
        return next((work for work in self._jobs if work.family in open_families), None)

    def bound(self) -> int:
        """How many jobs may wait ready: twice what the windows take (4 at least)."""
        return max(4, 2 * self._slots.total_limit())

    def room(self) -> int:
        return self.bound() - len(self._jobs)

    async def wait_for_room(self) -> None:
        """Back-pressure: do not prepare far ahead of what the windows can take. A preparer
        waits on a future of its own, woken by a dispatch (``take``): waiting on the
        dispatcher's condition, all 16 woke at each of its several notifies a job."""
        while self.room() <= 0:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._room_waiters.append(waiter)
            await waiter
