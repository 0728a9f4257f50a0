"""What a governor is: the three small interfaces the rest of the SDK talks to, and how an
account is named in shared state.

A *governor* makes, per client, a *pacer* (``turn`` before every request, told of each
answer and of each 1302) and, per model family, a *concurrency window* (a slot held from
before a create until the task's end is seen; learned from 1303). ``LocalGovernor`` keeps
both in this process; ``RedisGovernor`` keeps them in Redis, shared by every process that
uses the same account.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, TypedDict, Unpack

import attrs

from .._clock import Clock

if TYPE_CHECKING:
    from .._auth import Credentials


@attrs.define
class PacerStats:
    rate_limited: int = 0
    waits: int = 0


class Pacing(Protocol):
    """What the transport needs of a pacer: ``Pacer``, or the shared one of
    ``RedisGovernor``. ``turn`` before each request; then ``answered`` or ``rate_limited``."""

    rate: float | None
    stats: PacerStats

    async def turn(self, priority: int = 0) -> None: ...

    def answered(self) -> None: ...

    def rate_limited(self, retry_after: float | None) -> None: ...


class Window(Protocol):
    """What the batch engine and ``generate()`` need of a concurrency window (one model
    family): ``ConcurrencyWindow``, or the shared one of ``RedisGovernor``. See
    ``ConcurrencyWindow`` for the meaning of each step."""

    limit: int
    learned: int | None
    in_flight: int
    limited: int

    def has_room(self, count: int = 1) -> bool: ...

    def take(self, count: int = 1) -> None: ...

    async def acquire(self) -> None: ...

    async def reserve(self, count: int = 1) -> None: ...

    async def answered(self, count: int = 1) -> None: ...

    async def accepted(self) -> None: ...

    async def release(self, *, completed: bool = True, count: int = 1) -> None: ...

    async def over_limit(self, count: int = 1) -> None: ...

    async def force_acquire(self, count: int = 1) -> None: ...

    async def close(self) -> None: ...


class PacerOptions(TypedDict, total=False):
    """What ``Governor.pacer`` hands the pacer it makes, keywords all optional: a ceiling on
    the rate, ``max_rate`` (None: none until the server first says 1302), and ``sleep``, how
    it waits (``asyncio.sleep``)."""

    max_rate: float | None
    sleep: Callable[[float], Awaitable[None]]


class WindowOptions(TypedDict, total=False):
    """How ``Governor.window`` starts a family's window, keywords all optional: ``initial``
    slots (4), never more than ``cap`` (None: no cap), waiters woken through ``condition``
    (None: the window's own; a batch passes one it shares across its families)."""

    initial: int
    cap: int | None
    condition: asyncio.Condition | None


class Governor(Protocol):
    """Makes the pacer of a client and the windows of its families."""

    def pacer(
        self, account: str, *, clock: Clock | None = None, **options: Unpack[PacerOptions]
    ) -> Pacing:
        """The pacer of a client of ``account`` (see ``PacerOptions``); a local one keeps
        time on ``clock`` (None: the system's)."""
        ...

    def window(self, account: str, family: str, **options: Unpack[WindowOptions]) -> Window:
        """The window of ``family`` on ``account`` (see ``WindowOptions``)."""
        ...

    def attach(self) -> None:
        """A client starts using this governor."""

    async def detach(self) -> None:
        """A client that used this governor closed."""


def account_id(credentials: Credentials) -> str:
    """Names the account in shared state without revealing any key: a hash of the API key
    (else of the access key). 16 hex digits."""
    return hash_account(credentials.api_key or credentials.access_key or "anonymous")


def hash_account(source: str) -> str:
    """16 hex digits of a salted SHA-256 of ``source`` (a key, or a label the user chose)."""
    return hashlib.sha256(b"kling-account\0" + source.encode()).hexdigest()[:16]
