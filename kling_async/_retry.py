"""Every retry of kling_async: one policy type, one backoff formula, one retry helper.

- ``RetryPolicy`` bounds a retry by attempts **and** total time and says which failures of a
  query may be tried again.
- ``backoff`` is the one backoff formula (exponential, capped, with jitter); the server's
  Retry-After (seconds, milliseconds or an HTTP date) wins over it, up to a cap.
- ``retry`` is the one retrying loop, on tenacity: queries, creates (which decide per failure
  whether another try is safe, see ``money``), downloads, workers and the Redis governor all
  go through it, each with its own predicate and bounds.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import attrs
import tenacity

from .errors import (
    APIConnectionError,
    APIError,
    ConcurrencyLimitError,
    ConfigurationError,
    RateLimitError,
    ServerError,
)

log = logging.getLogger("kling_async")
T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


def backoff(
    attempt: int, *, initial: float, cap: float, jitter: float = 0.0, factor: float = 2.0
) -> float:
    """Seconds to wait after failed try ``attempt`` (from 1): ``initial`` multiplied by
    ``factor`` (doubled by default) each try up to ``cap``, plus up to ``jitter`` seconds drawn
    at random. The one formula every retry and every wait-and-look-again loop uses."""
    return min(cap, initial * factor ** max(0, attempt - 1)) + (
        random.uniform(0, jitter) if jitter > 0 else 0.0
    )


class _StopAt(tenacity.stop.stop_base):
    """Stop once ``monotonic()`` reaches ``deadline`` (on the caller's clock, virtual or real)."""

    def __init__(self, monotonic: Callable[[], float], deadline: float) -> None:
        self.monotonic = monotonic
        self.deadline = deadline

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return self.monotonic() >= self.deadline


async def retry(
    attempt: Callable[[int], Awaitable[T]],
    *,
    retry_if: Callable[[BaseException], bool],
    wait: Callable[[int, BaseException], float],
    attempts: int | None = None,
    deadline: float | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    what: str = "request",
) -> T:
    """Call ``attempt(n)`` for n = 1, 2, ... until it returns, and return that. After a
    failure ``exc`` for which ``retry_if(exc)`` holds, sleep ``wait(n, exc)`` seconds (cut to
    the deadline) and try again — while fewer than ``attempts`` tries were made (None: no
    bound) and ``monotonic()`` is before ``deadline`` (None: no bound). Otherwise the last
    failure is raised as it is. ``CancelledError`` always passes through."""
    if attempts is None and deadline is None:
        raise ConfigurationError("retry: bound it by attempts, by a deadline, or both")
    # Most calls succeed at once: the first try runs before any tenacity object is built (a
    # batch makes several of these calls a job); its failure is replayed as tenacity's first.
    try:
        return await attempt(1)
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        if not retry_if(exc):
            raise
        first = exc

    async def tried(number: int) -> T:
        if number == 1:
            raise first
        return await attempt(number)

    stops: list[tenacity.stop.stop_base] = []
    if attempts is not None:
        stops.append(tenacity.stop_after_attempt(attempts))
    if deadline is not None:
        stops.append(_StopAt(monotonic, deadline))

    def wait_for(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        seconds = wait(state.attempt_number, exc) if exc is not None else 0.0
        if deadline is not None:
            seconds = min(seconds, max(0.0, deadline - monotonic()))
        return seconds

    def log_retry(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        pause = state.next_action.sleep if state.next_action is not None else 0.0
        log.info(
            "%s: try %d failed (%s); retrying in %.2f s", what, state.attempt_number, exc, pause
        )

    controller = tenacity.AsyncRetrying(
        sleep=sleep,
        before_sleep=log_retry,
        stop=tenacity.stop_any(*stops),
        wait=wait_for,
        retry=tenacity.retry_if_exception(
            lambda exc: not isinstance(exc, asyncio.CancelledError) and retry_if(exc)
        ),
        reraise=True,
    )
    async for trying in controller:
        with trying:
            return await tried(trying.retry_state.attempt_number)
    raise AssertionError("unreachable")  # pragma: no cover


@attrs.frozen
class RetryPolicy:
    """How queries are retried. Creates follow it too, but only after reconciling (see
    ``ImageToVideo`` creates): a create that may have reached the server is never re-sent blind.
    """

    #: Tries in all, the first included.
    attempts: int = 6
    #: Seconds from the first try after which no new try starts.
    total_timeout: float = 120.0
    #: First backoff, doubled each retry up to ``max_backoff``, plus up to ``jitter`` seconds.
    initial_backoff: float = 0.5
    max_backoff: float = 20.0
    jitter: float = 0.5
    #: The longest Retry-After the SDK will honour; a longer one is cut to this.
    max_retry_after: float = 60.0
    #: Retry 1303 (parallel-task limit). The batch engine turns this off: it has its own window.
    retry_concurrency_limit: bool = True

    def __attrs_post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigurationError(f"retry.attempts: {self.attempts} must be at least 1")
        if self.total_timeout <= 0:
            raise ConfigurationError(f"retry.total_timeout: {self.total_timeout} must be positive")

    def should_retry(self, exc: BaseException) -> bool:
        """Whether a failed query may be tried again."""
        if isinstance(exc, ConcurrencyLimitError):
            return self.retry_concurrency_limit
        if isinstance(exc, APIConnectionError):
            return exc.retryable
        return isinstance(exc, RateLimitError | ServerError)

    def delay(self, attempt: int, exc: BaseException | None) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 1)."""
        if isinstance(exc, APIError) and exc.retry_after is not None:
            return min(max(0.0, exc.retry_after), self.max_retry_after)
        return backoff(
            attempt, initial=self.initial_backoff, cap=self.max_backoff, jitter=self.jitter
        )

    async def call(
        self,
        attempt: Callable[[int], Awaitable[T]],
        *,
        retry_if: Callable[[BaseException], bool] | None = None,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        what: str = "request",
    ) -> T:
        """``retry`` under this policy: its attempts, its total time from now, its delays;
        by default the failures ``should_retry`` lets through."""
        return await retry(
            attempt,
            retry_if=retry_if or self.should_retry,
            wait=self.delay,
            attempts=self.attempts,
            deadline=monotonic() + self.total_timeout,
            monotonic=monotonic,
            sleep=sleep,
            what=what,
        )


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asks to wait: ``retry-after-ms``, or ``Retry-After`` in seconds or as
    an HTTP date. None when absent or unreadable; never negative."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("Retry-After") or headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
