"""Numbers, money and durations as people read them: ``1,000,000 units``, ``1 unit``,
``unknown``, ``12.5 units (≈ $1.75)``, ``$1.12``, ``2 min 05 s``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .._cash import money_text, units_in_money


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


def units_money_text(value: float, places: int = 2) -> str:
    """``12.5 units (≈ $1.75)``: units, and what they cost at the list price ($0.14 a unit)."""
    money = units_in_money(value)
    return f"{units_text(value, places)} (≈ {money_text(money.amount, money.currency)})"


def charged_text(cash: Mapping[str, Decimal | float]) -> str:
    """``$1.12``, ``$1.12 + 3.00 EUR``: money charged per currency (``""``: one the server
    did not name: a bare amount, "(currency not named)")."""
    parts = [
        money_text(amount, code)
        if code
        else f"{number_text(float(amount), 4)} (currency not named)"
        for code, amount in sorted(cash.items())
    ]
    return " + ".join(parts) or "none"


def money_record(units: float, cash: Mapping[str, Decimal | float]) -> dict[str, Any]:
    """``--json``'s money: the units at the list price, and what was charged in cash."""
    money = units_in_money(units)
    return {
        "units_cost": {"amount": float(money.amount), "currency": money.currency},
        "charged": [
            {"amount": float(amount), "currency": code or None}
            for code, amount in sorted(cash.items())
        ],
    }


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
