"""Retry policy: bounded by attempts and total time, exponential backoff with jitter, the
server's Retry-After honoured (seconds, milliseconds or an HTTP date) up to a cap."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping

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
        backoff = min(self.max_backoff, self.initial_backoff * 2.0 ** (attempt - 1))
        return backoff + random.uniform(0, self.jitter)

    def retrying(
        self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, what: str = "request"
    ) -> tenacity.AsyncRetrying:
        """A tenacity controller for one logical request under this policy."""

        def log_retry(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            wait = state.next_action.sleep if state.next_action is not None else 0.0
            log.info(
                "%s: try %d failed (%s); retrying in %.2f s", what, state.attempt_number, exc, wait
            )

        return tenacity.AsyncRetrying(
            sleep=sleep,
            before_sleep=log_retry,
            stop=tenacity.stop_after_attempt(self.attempts)
            | tenacity.stop_after_delay(self.total_timeout),
            wait=self._wait,
            retry=tenacity.retry_if_exception(self.should_retry),
            reraise=True,
        )

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        return self.delay(state.attempt_number, exc)


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
