"""``DurationModel``: how long tasks of a kind take, learned from those seen to end."""

from __future__ import annotations

import random
import statistics

from kling_async._durations import DurationModel


def test_duration_model_uses_a_low_quantile_of_a_window_longer_than_a_wave() -> None:
    """Ends are seen slowest-last within a wave: the last 64 alone put the 10th percentile at
    a wave's slow end (43 of 1..100), leaving the next wave's quick tasks unseen."""
    model = DurationModel()
    key = ("kling-v2-6", "std", 5)
    assert model.expected(key) is None
    for seconds in range(1, 101):  # one wave, seen in the order its tasks ended
        model.observe(key, float(seconds))
    assert model.expected(key) == 10.0  # all 100 seen: the 10th percentile, not 43
    assert model.mean(key) == 50.5
    for _ in range(64):  # the kind got quicker: followed at once by the recent window
        model.observe(key, 2.0)
    assert model.expected(key) == 2.0
    assert model.mean(key) == 2.0


def test_duration_windows_match_a_plain_sort_after_evictions() -> None:

    model = DurationModel(window=8, long_window=50)
    key = ("kling-v3", "pro", 10)
    rng = random.Random(5)
    seen: list[float] = []
    for _ in range(400):
        seconds = rng.uniform(1, 30)
        seen.append(seconds)
        model.observe(key, seconds)
        recent, long = sorted(seen[-8:]), sorted(seen[-50:])
        low = min(recent[int(0.1 * (len(recent) - 1))], long[int(0.1 * (len(long) - 1))])
        assert model.expected(key) == low
        mean = min(statistics.fmean(seen[-8:]), statistics.fmean(seen[-50:]))
        assert abs((model.mean(key) or 0) - mean) < 1e-9
