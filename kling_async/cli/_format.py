"""Numbers and durations as people read them: ``1,000,000 units``, ``1 unit``, ``unknown``,
``2 min 05 s``."""

from __future__ import annotations

import math


def number_text(value: float | None, places: int = 2) -> str:
    """``1,234,567``, ``2.5``, ``0.35`` (at most ``places`` decimals); None (or NaN) is
    ``unknown``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    if math.isinf(value):
        return "unlimited"
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.{places}f}".rstrip("0").rstrip(".")


def units_text(value: float | None, places: int = 2) -> str:
    """``1 unit``, ``2.5 units``, ``1,000,000 units``, ``unknown units`` (at most ``places``
    decimals: a batch's estimate shows 4)."""
    text = number_text(value, places)
    return f"{text} unit" if value == 1 else f"{text} units"


def seconds_text(seconds: float) -> str:
    """``4 s``, ``59 s``, ``2 min 05 s``, ``1 h 02 min``."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
