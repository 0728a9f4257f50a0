"""The account governor: what paces a client's requests and bounds its tasks in flight.

Two parts, behind two small interfaces: a *pacer* (``turn`` before every request, told of
each answer and of each 1302) and, per model family, a *concurrency window* (a slot held from
before a create until the task's end is seen; learned from 1303). ``LocalGovernor`` (the
default) keeps both in this process — ``Pacer`` and ``ConcurrencyWindow``; ``RedisGovernor``
(``kling_async._redis_governor``) keeps them in Redis, shared by every process that uses the
same account. ``KlingClient(governor=...)`` picks one.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from ._clock import SYSTEM_CLOCK, Clock
from ._pacer import Pacer, Pacing
from .batch._window import ConcurrencyWindow, Window

if TYPE_CHECKING:
    from ._auth import Credentials

__all__ = ["Governor", "LocalGovernor", "Pacing", "Window", "account_id", "hash_account"]


class Governor(Protocol):
    """Makes the pacer of a client and the windows of its families."""

    def pacer(
        self,
        account: str,
        *,
        max_rate: float | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Clock | None = None,
    ) -> Pacing: ...

    def window(
        self,
        account: str,
        family: str,
        *,
        initial: int = 4,
        cap: int | None = None,
        condition: asyncio.Condition | None = None,
    ) -> Window: ...

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


class LocalGovernor:
    """This process alone: a ``Pacer`` per client and a fresh ``ConcurrencyWindow`` per
    family (per batch, and one per client for ``generate()``). The default."""

    def pacer(
        self,
        account: str,
        *,
        max_rate: float | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Clock | None = None,
    ) -> Pacer:
        monotonic = (clock or SYSTEM_CLOCK).monotonic
        return Pacer(max_rate=max_rate, sleep=sleep, clock=monotonic)

    def window(
        self,
        account: str,
        family: str,
        *,
        initial: int = 4,
        cap: int | None = None,
        condition: asyncio.Condition | None = None,
    ) -> ConcurrencyWindow:
        return ConcurrencyWindow(initial=initial, cap=cap, condition=condition)

    def attach(self) -> None:
        pass

    async def detach(self) -> None:
        pass

    def __repr__(self) -> str:
        return "LocalGovernor()"
