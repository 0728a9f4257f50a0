"""``client.account``: the resource packs and what is left of them."""

from __future__ import annotations

import time
from datetime import datetime

from .._api import ClientAPI
from .._convert import costs_from_wire
from ..errors import ValidationError
from ..results import AccountCosts

_DAY_MS = 86_400_000


def _ms(value: datetime | float | None, default: int, field: str) -> int:
    if value is None:
        return default
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValidationError(field, value, "must be timezone-aware")
        return int(value.timestamp() * 1000)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValidationError(field, value, "must be a datetime or Unix milliseconds")
    return int(value)


class AccountResource:
    def __init__(self, client: ClientAPI) -> None:
        self._client = client

    async def costs(
        self, start: datetime | float | None = None, end: datetime | float | None = None
    ) -> AccountCosts:
        """Resource packs in force between ``start`` and ``end`` (default: the last 30 days)."""
        now = int(time.time() * 1000)
        end_ms = _ms(end, now, "end")
        start_ms = _ms(start, end_ms - 30 * _DAY_MS, "start")
        if start_ms > end_ms:
            raise ValidationError("start", start, "must not be after end")
        data = await self._client.request(
            "GET", "/account/costs", kind="account",
            params={"start_time": start_ms, "end_time": end_ms},
        )  # fmt: skip
        return costs_from_wire(data)
