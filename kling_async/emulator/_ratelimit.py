"""A token bucket per account: the request-rate limit behind code 1302."""

from __future__ import annotations

import math

import attrs


@attrs.define
class Bucket:
    rate: float
    burst: float
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """Take one token; return 0 if allowed, else the seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimiter:
    def __init__(self) -> None:
        self._buckets: dict[str, Bucket] = {}

    def check(self, key: str, rate: float | None, burst: float | None, now: float) -> float:
        """0.0 when the request may pass, else seconds to wait (for Retry-After)."""
        if rate is None or rate <= 0:
            return 0.0
        size = burst if burst is not None else max(1.0, rate)
        bucket = self._buckets.get(key)
        if bucket is None or bucket.rate != rate or bucket.burst != size:
            bucket = self._buckets[key] = Bucket(rate, size, size, now)
        return bucket.take(now)

    def reset(self) -> None:
        self._buckets.clear()


def retry_after_seconds(wait: float) -> int:
    return max(1, math.ceil(wait))
