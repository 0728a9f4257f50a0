"""Waiting out a Redis that stopped answering (a restart, a network blip): ``RedisOutage``.

Every call to Redis made by a worker (its queue, its job store) and by ``animate --redis``
following the workers goes through one ``RedisOutage`` per process: a call that cannot reach
Redis is tried again with back-off (``retry``), for up to ``grace`` seconds from the first
failure of the outage (the governor's ``give_up_after``, 60 s by default). It says once that
Redis is unreachable and once when it is back (the URL with its password masked); past the
grace the call raises ``RedisOutageError`` naming the URL and how long it waited, and
``on_gone`` is told (a worker halts). A Redis that has not answered this process yet is not
waited for: unreachable at the start is a configuration error, raised at once as it is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .._retry import backoff, retry
from ..governor import GIVE_UP_AFTER, RECONNECT
from ._masked import masked

log = logging.getLogger("kling_async.workers")
T = TypeVar("T")


class RedisOutageError(RedisConnectionError):
    """Redis did not answer for the whole grace period (a redis-py ``ConnectionError``, so
    that whoever handled a lost connection handles this one; it is never tried again)."""


def unreachable(exc: BaseException) -> bool:
    """A failure that says Redis cannot be reached now (not a refused command)."""
    if isinstance(exc, RedisOutageError):
        return False
    return isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError)


class RedisOutage:
    """One process's view of whether its Redis answers (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        grace: float = GIVE_UP_AFTER,
        say: Callable[[str], None] | None = None,
        on_gone: Callable[[RedisOutageError], None] | None = None,
    ) -> None:
        if grace < 0:
            raise ValueError(f"grace: {grace} must be zero or more seconds")
        self.grace = grace
        self.shown = masked(url)
        self.on_gone = on_gone
        self._say = say
        #: When the current outage began (monotonic), and what its first failure was.
        self._since: float | None = None
        self._gone = False
        #: Whether Redis has answered in this process yet (before: nothing is waited out).
        self._reached = False

    def __repr__(self) -> str:  # the URL may carry a password: never shown
        return f"RedisOutage(grace={self.grace:g})"

    @property
    def down(self) -> bool:
        """Whether Redis is not answering now (said, not yet back)."""
        return self._since is not None

    def reached(self) -> None:
        """Redis answered (outside ``call``, e.g. when a store opened): from now on an
        outage is waited out."""
        self._reached = True

    async def call(self, attempt: Callable[[], Awaitable[T]], what: str = "Redis") -> T:
        """``await attempt()``, tried again while Redis cannot be reached, up to the grace."""
        start = self._since if self._since is not None else time.monotonic()

        async def once(_: int) -> T:
            try:
                result = await attempt()
            except Exception as exc:
                if self._reached and unreachable(exc):
                    self._failed(exc)
                raise
            self._answered()
            return result

        try:
            return await retry(
                once,
                retry_if=lambda exc: self._reached and unreachable(exc),
                wait=lambda n, exc: backoff(n, initial=RECONNECT / 4, cap=RECONNECT),
                deadline=start + self.grace,
                what=what,
            )
        except Exception as exc:
            if unreachable(exc) and self._since is not None:
                raise self._give_up(exc) from exc
            raise

    def _say_line(self, line: str) -> None:
        if self._say is None:
            log.warning("%s", line)
        else:
            log.info("%s", line)
            self._say(line)

    def _failed(self, exc: BaseException) -> None:
        if self._since is None:
            self._since = time.monotonic()
            self._say_line(
                f"Redis at {self.shown} is unreachable ({type(exc).__name__}); waiting up to "
                f"{self.grace:g} s for it"
            )

    def _answered(self) -> None:
        self._reached = True
        since, self._since = self._since, None
        if since is not None and not self._gone:
            self._say_line(f"Redis at {self.shown} is back after {time.monotonic() - since:.1f} s")

    def _give_up(self, exc: BaseException) -> RedisOutageError:
        waited = time.monotonic() - (self._since or time.monotonic())
        error = RedisOutageError(
            f"Redis at {self.shown} has not answered for {waited:.0f} s (grace "
            f"{self.grace:g} s): {type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
        )
        if not self._gone:
            self._gone = True
            if self.on_gone is not None:
                self.on_gone(error)
        return error


__all__ = ["RedisOutage", "RedisOutageError", "unreachable"]
