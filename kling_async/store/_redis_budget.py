"""The budget of units a queue's workers share (``animate --redis --max-units`` / ``--max-cost``).

Kept in Redis beside the job store: every job a worker is about to run reserves its expected
units once (``reserve``: a job already counted — a re-delivery, a rerun — is not counted
again), atomically against the limit the enqueuer set (``set_limit``), so that four workers
together never commit more than one local run would. A job that made nothing (invalid, not
sent, refused before a task existed) gives its units back (``release``). Setting a limit
first counts every job the store records as created, so the budget spans runs as a local
journal's does. No limit set: reservations are still kept, so a later limit counts them.
"""

from __future__ import annotations

import json
from typing import Any

from ..states import COMMITTED
from ._redis import RedisJobStore, _done, _text

#: KEYS: reserved (hash job -> units), total, limit. ARGV: job id, units. 1: counted (now or
#: before); 0: it does not fit in the limit.
_RESERVE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 1 end
local limit = redis.call('GET', KEYS[3])
local total = tonumber(redis.call('GET', KEYS[2]) or '0')
local units = tonumber(ARGV[2])
if limit and total + units > tonumber(limit) + 1e-9 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('INCRBYFLOAT', KEYS[2], ARGV[2])
return 1
"""
_RELEASE = """
local units = redis.call('HGET', KEYS[1], ARGV[1])
if not units then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('INCRBYFLOAT', KEYS[2], '-' .. units)
return 1
"""
#: ARGV: job id, units, job id, units...: each counted unless it is already.
_SEED = """
for i = 1, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('INCRBYFLOAT', KEYS[2], ARGV[i + 1])
  end
end
return 1
"""


class SharedBudget:
    """The units budget of ``store``'s namespace, shared by every worker on it."""

    def __init__(self, store: RedisJobStore) -> None:
        self.store = store
        self._keys = [store.key("budget", part) for part in ("reserved", "total", "limit")]

    async def set_limit(self, units: float | None) -> None:
        """The enqueuer's budget (None: none); first counts every job recorded as created."""
        redis = self.store.redis
        ids = sorted(_text(v) for v in await _done(redis.smembers(self.store.key("jobs"))))
        async with redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hmget(self.store.key("job", job_id), ["state", "units", "cost"])
            rows = await pipe.execute()
        pairs: list[str] = []
        for job_id, (state, counted, cost) in zip(ids, rows, strict=True):
            if state is None or json.loads(state) not in COMMITTED:
                continue
            value = json.loads(counted) if counted is not None else None
            if value is None:
                value = json.loads(cost) if cost is not None else 0
            pairs += [job_id, repr(float(value or 0))]
        if pairs:
            await _done(redis.eval(_SEED, 2, *self._keys[:2], *pairs))
        if units is None:
            await _done(redis.delete(self._keys[2]))
        else:
            await _done(redis.set(self._keys[2], repr(float(units))))

    async def limit(self) -> float | None:
        value = await _done(self.store.redis.get(self._keys[2]))
        return None if value is None else float(_text(value))

    async def reserve(self, job_id: str, units: float) -> bool:
        """Count ``job_id``'s units unless they are counted already; False when they do not
        fit in the limit (the job must not be sent). An outage of Redis is waited out as for
        every call of the store (``RedisOutage``)."""

        async def once() -> Any:
            return await _done(self.store.redis.eval(_RESERVE, 3, *self._keys, job_id, repr(units)))

        return int(await self.store.outage.call(once, what="budget: reserve")) == 1

    async def release(self, job_id: str) -> None:
        """``job_id`` made nothing: its units go back."""

        async def once() -> Any:
            return await _done(self.store.redis.eval(_RELEASE, 2, *self._keys[:2], job_id))

        await self.store.outage.call(once, what="budget: release")
