"""What the shared window and pacer need of the ``RedisGovernor`` that made them, and what
it needs of a window: the two sides of their link, as protocols, so neither module imports
the other. Also the idle lifetime of every key they write, and the pause between tries of a
Redis that does not answer."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

#: Shared state idle this long is forgotten (ms).
TTL_MS = 7 * 24 * 3600 * 1000
#: Seconds between tries of a Redis that does not answer (a slot, the release channel).
RECONNECT = 1.0
#: Seconds an outage of Redis is waited out before giving up: the governor's batches, and
#: the workers, their job store and ``animate --redis`` following them (``--redis-grace``).
GIVE_UP_AFTER = 60.0


class Member(Protocol):
    """A shared window as its governor sees it: woken on its release channel, ticked for
    upkeep, closed with the governor."""

    channel: str
    freed: asyncio.Event

    async def tick(self, renew: bool) -> None: ...

    async def close(self) -> None: ...


class Link(Protocol):
    """A ``RedisGovernor`` as its windows and pacers see it."""

    #: Seconds a slot stays held without renewal.
    lease: float
    #: Seconds a batch's window keeps trying a Redis that does not answer.
    give_up_after: float
    min_rate: float
    growth: float
    probe_every: int
    max_probe_every: int

    @property
    def connected(self) -> bool: ...

    def key(self, *parts: str) -> str: ...

    def lease_id(self) -> str: ...

    async def run(self, script: str, keys: list[str], args: list[Any]) -> Any: ...

    def register(self, window: Member) -> None: ...

    def unregister(self, window: Member) -> None: ...
