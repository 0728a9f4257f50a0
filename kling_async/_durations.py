"""How long tasks take: ``DurationModel``, learned from the tasks seen to end, per kind of
task (model, mode, seconds of video). The batch poller and ``wait()`` both look first when a
task of its kind may have ended, not before."""

from __future__ import annotations

import bisect
from collections import deque

#: What a task's duration depends on: (model, mode, seconds of video) — for an image task
#: (model, resolution, images), for a video whose length is not asked (motion control)
#: (model, mode, 0).
DurationKey = tuple[str, str, int]


def duration_key(request: object, model: str) -> DurationKey:
    """The key a task made from ``request`` is learned under (``model``: its name as sent)."""
    count = getattr(request, "n", None)
    if isinstance(count, int):
        return (model, str(getattr(request, "resolution", None) or ""), count)
    seconds = getattr(request, "duration", None)
    size = int(seconds) if isinstance(seconds, int | str) and str(seconds).isdigit() else 0
    return (model, str(getattr(request, "mode", None) or ""), size)


class _Durations:
    """The last ``size`` durations, kept in order of arrival and sorted (a quantile and the
    mean in O(1) after an O(size) insert)."""

    __slots__ = ("_arrived", "_sorted", "_sum")

    def __init__(self, size: int) -> None:
        self._arrived: deque[float] = deque(maxlen=size)
        self._sorted: list[float] = []
        self._sum = 0.0

    def add(self, seconds: float) -> None:
        arrived = self._arrived
        if len(arrived) == arrived.maxlen:
            oldest = arrived[0]
            del self._sorted[bisect.bisect_left(self._sorted, oldest)]
            self._sum -= oldest
        arrived.append(seconds)
        bisect.insort(self._sorted, seconds)
        self._sum += seconds

    def quantile(self, q: float) -> float:
        ordered = self._sorted
        return ordered[int(q * (len(ordered) - 1))]

    def mean(self) -> float:
        return self._sum / len(self._sorted)


class DurationModel:
    """When a task of a kind (model, mode, duration) may end: the 10th percentile of the
    durations seen (no look before it: a task that ends early holds a slot for as long as
    nobody looks, so a low quantile) and the mean (the poll budget's time scale).

    Each is the lower of two windows' figures: the last 64 durations (a kind that got quicker
    is followed at once) and the last 1024. Ends are seen in the order tasks end, so on a
    large account the last 64 are a wave's slowest: at C=1000 their 10th percentile was a
    wave's 95th, the next wave's quick tasks sat unseen for seconds (slot lag p90 2.7 s,
    1.10 x greedy). Too low a figure costs a few early looks; too high one costs slots."""

    def __init__(self, quantile: float = 0.1, window: int = 64, long_window: int = 1024) -> None:
        self._seen: dict[DurationKey, tuple[_Durations, _Durations]] = {}
        self._quantile = quantile
        self._windows = (window, max(window, long_window))
        self._low: dict[DurationKey, float] = {}
        self._mean: dict[DurationKey, float] = {}

    def observe(self, key: DurationKey, seconds: float) -> None:
        if seconds <= 0:
            return
        windows = self._seen.get(key)
        if windows is None:
            windows = self._seen[key] = (_Durations(self._windows[0]), _Durations(self._windows[1]))
        recent, long = windows
        recent.add(seconds)
        long.add(seconds)
        q = self._quantile
        self._low[key] = min(recent.quantile(q), long.quantile(q))
        self._mean[key] = min(recent.mean(), long.mean())

    def expected(self, key: DurationKey) -> float | None:
        """The earliest a task of this kind is expected to end (seconds after its create)."""
        return self._low.get(key)

    def mean(self, key: DurationKey) -> float | None:
        return self._mean.get(key)
