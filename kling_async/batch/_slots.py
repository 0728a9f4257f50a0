"""The batch's slots: one concurrency window per model family (Kling counts the parallel-task
limit per model version), made by the client's governor on first use — with
``RedisGovernor`` their slots are the account's, shared by all processes."""

from __future__ import annotations

import asyncio
import contextlib

from ..errors import ValidationError
from ..governor import Window
from ..image_requests import ImageGeneration
from ._client import BatchClient
from ._work import Work


class Slots:
    def __init__(
        self,
        client: BatchClient,
        condition: asyncio.Condition,
        *,
        initial: int,
        cap: int | None,
    ) -> None:
        self._client = client
        self._condition = condition  # every window notifies the dispatcher's condition
        self.initial = initial
        self.cap = cap
        #: The windows made so far, by family.
        self.by_family: dict[str, Window] = {}

    def of(self, work: Work) -> Window:
        """The window of the job's model family."""
        window = self.by_family.get(work.family)
        if window is None:
            window = self.by_family[work.family] = self._client.governor.window(
                self._client.account_id,
                work.family,
                initial=self.initial,
                cap=self.cap,
                condition=self._condition,
            )
        return window

    @staticmethod
    def count(work: Work) -> int:
        """Slots the job's task holds: ``n`` for an image job (Kling counts each image
        against the parallel-task limit), else 1."""
        return work.job.slots if isinstance(work.job, ImageGeneration) else 1

    @property
    def in_flight(self) -> int:
        return sum(w.in_flight for w in self.by_family.values())

    @property
    def limited(self) -> int:
        """1303 answers seen, all families together."""
        return sum(w.limited for w in self.by_family.values())

    def learned(self) -> dict[str, int | None]:
        """The parallel-task limit learned per family (None: no 1303 seen for it)."""
        return {family: w.learned for family, w in sorted(self.by_family.items())}

    def total_limit(self) -> int:
        """What the windows take in all (the initial window before any exists)."""
        return sum(w.limit for w in self.by_family.values()) or self.initial

    def refused_alone(self, work: Work) -> ValidationError | None:
        """After a 1303: the error of a job of several slots refused with nothing else of
        its family in flight (the account's limit is below what it needs: sent again, it
        would be refused again, forever), else None."""
        count = self.count(work)
        if count == 1 or self.of(work).in_flight > 0:
            return None
        return ValidationError(
            "n",
            count,
            f"needs {count} parallel-task slots, and the account refused them with nothing "
            f"else of family {work.family} in flight: its limit is lower; ask fewer images a task",
        )

    async def not_sent(self, work: Work) -> None:
        """The job's create will never be sent: its slots were taken and go back."""
        window, count = self.of(work), self.count(work)
        await window.answered(count)
        await window.release(completed=False, count=count)

    async def give_back(self, work: Work) -> None:
        """The job's slot goes back without its task having ended (its step failed)."""
        with contextlib.suppress(Exception):
            await self.of(work).release(completed=False, count=self.count(work))

    async def close(self) -> None:
        for window in self.by_family.values():
            await window.close()  # shared slots go back (the journal keeps the tasks)
